"""Creates (or reuses) a demo operator, account, workspace, console password and API key for `make run`."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from aiplatform import services
from aiplatform.credentials import read_private, write_private
from aiplatform.models import Account, AccountMember, Workspace
from aiplatform.storage import workspace_root_uri

User = get_user_model()


class Command(BaseCommand):
    help = "Create the demo operator, account, workspace and API key if they do not exist."

    def handle(self, *args, **options):
        with transaction.atomic():
            operator_password = self._operator()
            account = Account.objects.filter(name="demo").first()
            if account is None:
                account, user = services.create_account(name="demo", admin_username="demo")
            else:
                user = AccountMember.objects.get(account=account, is_admin=True, user__username="demo").user
            if not Workspace.objects.filter(account=account, name="demo").exists():
                services.create_workspace(account=account, name="demo", description="Demo workspace", created_by=user)
            token = self._api_key(user)
            console_password = self._console_password(user)
        workspace = Workspace.objects.get(account=account, name="demo")
        self.stdout.write(
            "\nDemo ready.\n"
            f"  console        http://127.0.0.1:8000/   user 'demo', password {console_password}\n"
            f"  admin console  http://127.0.0.1:8000/admin/   user 'admin', password {operator_password}\n"
            f"  API docs       http://127.0.0.1:8000/api/docs/\n"
            f"  workspace      demo ({workspace.id})\n"
            f"  its storage    {workspace_root_uri(workspace.pk)} (in {settings.LOCAL_STORAGE_ROOT})\n"
            f"  API key        {token}\n\n"
            f'  curl -H "Authorization: Bearer {token}" http://127.0.0.1:8000/api/v1/workspaces/\n'
        )

    def _operator(self) -> str:
        # Credentials files are the owner's alone (0600); one left with a wider mode is narrowed.
        password_file = settings.VAR_DIR / "demo-admin-password.txt"
        if User.objects.filter(username="admin").exists() and password_file.exists():
            return read_private(password_file)
        password = secrets.token_urlsafe(12)
        operator, _ = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        operator.set_password(password)
        operator.save()
        write_private(password_file, password)
        return password

    def _console_password(self, user) -> str:
        # The demo account admin signs in to the console with it (var/demo-password.txt, 0600).
        password_file = settings.VAR_DIR / "demo-password.txt"
        if user.has_usable_password() and password_file.exists():
            return read_private(password_file)
        password = secrets.token_urlsafe(12)
        user.set_password(password)
        user.save(update_fields=["password"])
        write_private(password_file, password)
        return password

    def _api_key(self, user) -> str:
        # The demo key is kept in var/ so that a second `make run` can print it again.
        key_file = settings.VAR_DIR / "demo-api-key.txt"
        if key_file.exists():
            token = read_private(key_file)
            if services.authenticate_api_key(token=token) is not None:
                return token
        token = services.create_api_key(user=user, name="demo").token
        write_private(key_file, token)
        return token

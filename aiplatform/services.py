"""Business operations of the platform core. Each takes keyword-only arguments and runs in a
transaction; views call these and never write models themselves."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.exceptions import ValidationError

from . import crypto, locations, selectors
from .models import (
    Account,
    AccountMember,
    ApiKey,
    IdempotencyKey,
    Membership,
    Role,
    StorageConnection,
    Workspace,
)
from .storage import StorageError, in_platform_area, parse_uri

User = get_user_model()

LAST_USED_RESOLUTION = timedelta(minutes=1)


def save_changes(instance, fields: dict):
    """Set the fields, check the model's invariants (full_clean) and save. Call inside the
    service's transaction."""
    for field, value in fields.items():
        setattr(instance, field, value)
    instance.full_clean()
    instance.save()
    return instance


# --- accounts and workspaces --------------------------------------------------------------------


@transaction.atomic
def create_account(*, name: str, admin_username: str, admin_email: str = "", admin_password: str | None = None):
    account = Account(name=name)
    account.full_clean()
    account.save()
    user = User(username=admin_username, email=admin_email)
    if admin_password:
        user.set_password(admin_password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    AccountMember.objects.create(account=account, user=user, is_admin=True)
    return account, user


@transaction.atomic
def add_account_user(*, account: Account, username: str, email: str = "", password: str | None = None,
                     is_admin: bool = False):
    user = User(username=username, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    AccountMember.objects.create(account=account, user=user, is_admin=is_admin)
    return user


@transaction.atomic
def invite_user(*, account: Account, username: str = "", email: str = "", is_admin: bool = False,
                workspace: Workspace | None = None, role: str | None = None):
    """A person joins the account: a user without a password (they choose one through the link
    `invitation_token` makes), optionally a member of one of the account's workspaces at once."""
    username = username or email
    if not username:
        raise ValidationError({"username": "Give the person's user name, their e-mail address, or both."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"The user name '{username}' is taken; choose another (people already "
                                           "in your account are added to a workspace from its members page)."})
    if workspace is not None and workspace.account_id != account.pk:
        raise ValidationError({"workspace": "Workspace not found."})
    if (workspace is None) != (role is None):
        raise ValidationError({"role": "Give a workspace and a role together, or neither."})
    user = add_account_user(account=account, username=username, email=email, is_admin=is_admin)
    if workspace is not None:
        membership = Membership(workspace=workspace, user=user, role=role)
        membership.full_clean()
        membership.save()
    return user


def invitation_token(*, user) -> tuple[str, str]:
    """(uidb64, token) of the user's set-password link: Django's password-reset token, which dies
    once a password is set or after PASSWORD_RESET_TIMEOUT."""
    if user.has_usable_password():
        raise ValidationError({"user": f"'{user.username}' has set a password already; they can reset it from the "
                                       "sign-in page if they forgot it."})
    return urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)


@transaction.atomic
def change_account_admin(*, member: AccountMember, is_admin: bool) -> AccountMember:
    member = AccountMember.objects.select_for_update().get(pk=member.pk)
    if member.is_admin and not is_admin:
        admins = AccountMember.objects.select_for_update().filter(account_id=member.account_id, is_admin=True)
        if len(admins) <= 1:
            raise ValidationError({"is_admin": "An account needs at least one admin; make someone else admin first."})
    member.is_admin = is_admin
    member.save(update_fields=["is_admin"])
    return member


@transaction.atomic
def create_workspace(*, account: Account, name: str, description: str = "", created_by) -> Workspace:
    if Workspace.objects.filter(account=account, name=name).exists():
        raise ValidationError({"name": f"Your account already has a workspace named '{name}'; choose another name."})
    workspace = Workspace(account=account, name=name, description=description, created_by=created_by)
    workspace.full_clean()
    workspace.save()
    Membership.objects.create(workspace=workspace, user=created_by, role=Role.OWNER)
    return workspace


@transaction.atomic
def update_workspace(*, workspace: Workspace, **fields) -> Workspace:
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if "name" in fields and fields["name"] != workspace.name:
        if Workspace.objects.filter(account_id=workspace.account_id, name=fields["name"]).exists():
            raise ValidationError({"name": f"Your account already has a workspace named '{fields['name']}'."})
    return save_changes(workspace, fields)


@transaction.atomic
def delete_workspace(*, workspace: Workspace) -> None:
    workspace.delete()


def _lock_owners(workspace: Workspace) -> int:
    return len(
        Membership.objects.select_for_update().filter(workspace=workspace, role=Role.OWNER).values_list("pk", flat=True)
    )


@transaction.atomic
def add_member(*, workspace: Workspace, username: str, role: str) -> Membership:
    member = AccountMember.objects.select_related("user").filter(
        user__username=username, account_id=workspace.account_id
    ).first()
    if member is None:
        raise ValidationError({"username": f"No user '{username}' in this workspace's account."})
    if Membership.objects.filter(workspace=workspace, user=member.user).exists():
        raise ValidationError({"username": f"'{username}' is already a member; change their role instead."})
    membership = Membership(workspace=workspace, user=member.user, role=role)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def change_member_role(*, membership: Membership, role: str) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and role != Role.OWNER and _lock_owners(membership.workspace) <= 1:
        raise ValidationError({"role": "A workspace needs at least one owner; make someone else owner first."})
    membership.role = role
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def remove_member(*, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.OWNER and _lock_owners(membership.workspace) <= 1:
        raise ValidationError({"user": "A workspace needs at least one owner; make someone else owner first."})
    membership.delete()


# --- API keys -----------------------------------------------------------------------------------


def hash_secret(secret: str) -> str:
    # API key secrets carry 256 bits of randomness, so a fast hash is as strong as a slow one.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    token: str


@transaction.atomic
def create_api_key(*, user, name: str, expires_at: datetime | None = None) -> IssuedApiKey:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(
            {"expires_at": "The expiry must be in the future, or omitted for a key that never expires."}
        )
    live = ApiKey.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=timezone.now())
    if settings.API_KEYS_PER_USER and live.count() >= settings.API_KEYS_PER_USER:
        raise ValidationError({"non_field_errors": f"You hold {settings.API_KEYS_PER_USER} live API keys, the most a "
                                                   "user may; revoke one you no longer use first."})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = f"{settings.API_KEY_PREFIX}_{prefix}_{secret}"
    api_key = ApiKey(user=user, name=name, prefix=prefix, secret_hash=hash_secret(token), expires_at=expires_at)
    api_key.full_clean()
    api_key.save()
    return IssuedApiKey(api_key=api_key, token=token)


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def authenticate_api_key(*, token: str) -> ApiKey | None:
    """The live key this token belongs to, or None. Records the last use (to the minute)."""
    parts = token.split("_")
    if len(parts) < 3 or parts[0] != settings.API_KEY_PREFIX:
        return None
    api_key = selectors.api_key_with_user(prefix=parts[1])
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(token)):
        return None
    now = timezone.now()
    if api_key.revoked_at is not None or (api_key.expires_at is not None and api_key.expires_at <= now):
        return None
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- idempotency --------------------------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The key is in use by a request still running, or by a request with another body."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# A request that held its key this long without finishing is taken to have died.
ABANDONED_AFTER = timedelta(minutes=5)


def claim_idempotency_key(*, user, key: str, fingerprint: str) -> IdempotencyKey:
    """Claim the key for this request, or return the completed record to replay.

    Commits at once (outside any request transaction) so a concurrent retry sees the claim."""
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, fingerprint=fingerprint, expires_at=now + settings.IDEMPOTENCY_KEY_TTL
                )
        except IntegrityError:
            record = IdempotencyKey.objects.select_for_update().get(user=user, key=key)
        stale = record.expires_at <= now or (
            record.status == IdempotencyKey.Status.IN_PROGRESS and now - record.created_at > ABANDONED_AFTER
        )
        if stale:
            record.fingerprint = fingerprint
            record.status = IdempotencyKey.Status.IN_PROGRESS
            record.response_status = None
            record.response_body = None
            record.created_at = now
            record.expires_at = now + settings.IDEMPOTENCY_KEY_TTL
            record.save()
            return record
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request body or path; "
                "use a new key for a new request.",
            )
        if record.status == IdempotencyKey.Status.IN_PROGRESS:
            raise IdempotencyConflict(
                "idempotency_key_in_progress",
                "A request with this Idempotency-Key is still being processed; retry in a moment.",
            )
        return record


def complete_idempotency_key(*, record: IdempotencyKey, status_code: int, body) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKey.Status.COMPLETED, response_status=status_code, response_body=body
    )


def release_idempotency_key(*, record: IdempotencyKey) -> None:
    """A request that failed created nothing: free its key so a corrected retry may use it."""
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_PROGRESS).delete()


def purge_expired_idempotency_keys(*, now: datetime | None = None) -> int:
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted



# --- storage connections --------------------------------------------------------------------------

ROLE_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}")
REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
CONNECTION_FIELDS = ("name", "scheme", "bucket", "prefix", "endpoint_url", "region", "path_style", "access_key_id",
                     "role_arn", "read_only")


def _connection_errors(fields: dict) -> dict:
    errors = {}
    checks = (("bucket", f"s3://{fields.get('bucket', '')}/"), ("prefix", f"s3://b/{fields.get('prefix', '')}"))
    for field, uri in checks:
        try:
            parse_uri(uri)
        except StorageError as exc:
            errors[field] = str(exc).replace("s3://b/", "")
    if "bucket" not in errors and in_platform_area(parse_uri(f"{fields.get('scheme', 's3')}://{fields['bucket']}/")):
        errors["bucket"] = ("This bucket holds the platform's own storage; your workspaces' locations in it are "
                            "theirs already. Connect a bucket of your account's.")
    if fields.get("region") and not REGION.fullmatch(fields["region"]):
        errors["region"] = "Give a region name such as us-east-1 or cn-north-4 (letters, digits and '-')."
    role = fields.get("role_arn") or ""
    if role:
        platform_role = settings.PLATFORM_STORAGE_ROLE_ARN
        match = ROLE_ARN.fullmatch(role)
        if match is None:
            errors["role_arn"] = "Give a role's ARN, e.g. arn:aws:iam::123456789012:role/aip-data-reader."
        elif platform_role and (role == platform_role or match["account"] == ROLE_ARN.fullmatch(
                platform_role)["account"]):
            errors["role_arn"] = "That role belongs to the platform's own account; give a role of your account's."
    endpoint = fields.get("endpoint_url", "")
    allowed = {settings.OBJECT_STORAGE_ENDPOINT_URL, *settings.STORAGE_CONNECTION_ENDPOINTS} - {""}
    if endpoint and endpoint not in allowed:
        errors["endpoint_url"] = (f"The platform dials only its storage endpoints: {', '.join(sorted(allowed))}. "
                                  "Leave it empty for the platform's own." if allowed else
                                  "Leave it empty: this platform reaches the provider's default endpoints only.")
    return errors


@transaction.atomic
def save_storage_connection(*, account: Account, created_by=None, connection: StorageConnection | None = None,
                            secret_access_key: str | None = None, **fields) -> StorageConnection:
    """Create (or change) an account's storage connection. The secret key is kept encrypted; a
    connection through a role gets an external id of the platform's making for its trust policy."""
    connection = connection or StorageConnection(account=account, created_by=created_by)
    merged = {name: getattr(connection, name) for name in CONNECTION_FIELDS} | fields
    if merged.get("prefix") and not merged["prefix"].endswith("/"):
        fields["prefix"] = merged["prefix"] = merged["prefix"] + "/"
    errors = _connection_errors(merged)
    clash = StorageConnection.objects.filter(account=account).exclude(pk=connection.pk)
    if "name" in fields and clash.filter(name=fields["name"]).exists():
        errors["name"] = f"Your account already has a storage connection named '{fields['name']}'."
    if clash.filter(scheme=merged["scheme"], bucket=merged["bucket"], prefix=merged["prefix"]).exists():
        errors["prefix"] = "Another connection of your account covers exactly this location; change that one."
    if errors:
        raise ValidationError(errors)
    if secret_access_key:
        connection.secret_access_key_encrypted = crypto.encrypt(secret_access_key)
    if merged.get("role_arn") and not connection.external_id:
        connection.external_id = secrets.token_hex(16)
    return save_changes(connection, fields)


@transaction.atomic
def delete_storage_connection(*, connection: StorageConnection) -> None:
    connection.delete()


def verify_storage_connection(*, connection: StorageConnection) -> dict:
    """Lists one object of the connection's location with its credentials: the reason if it fails."""
    try:
        first = next(iter(locations.connection_storage(connection).list(connection.uri)), None)
    except StorageError as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": True, "detail": "The platform reached the location with the connection's credentials"
                                  + (f"; it holds {first.uri}." if first else "; it is empty.")}

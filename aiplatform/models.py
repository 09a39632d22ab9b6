"""The platform core: tenants, workspaces, memberships, API keys, audit events, idempotency."""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Account(models.Model):
    """The tenant and billing entity. Operators create accounts; workspaces belong to one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    # The account's plan: limits operators set per account (empty: the platform's defaults).
    max_priority = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Highest workload priority this account's members may set (empty: WORKLOAD_MAX_PRIORITY).",
    )
    api_requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="API requests per minute per user and per key (empty: API_RATE_LIMIT_PER_MINUTE; 0: no limit).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class AccountMember(models.Model):
    """A user belongs to exactly one account; account admins manage its workspaces."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="members")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account_member")
    is_admin = models.BooleanField(default=False, help_text="Account admins create workspaces and set quotas.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} @ {self.account}"


class Workspace(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="workspaces")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="workspace_name_unique_per_account")]

    def __str__(self):
        return self.name


class StorageConnection(models.Model):
    """An account's own object storage: a bucket (or a prefix of it) that the platform reaches with
    the account's credentials, never its own. Any workspace of the account may name locations in it."""

    class Scheme(models.TextChoices):
        S3 = "s3", "S3"
        OBS = "obs", "OBS"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="storage_connections")
    name = models.CharField(max_length=100)
    scheme = models.CharField(max_length=10, choices=Scheme.choices, default=Scheme.S3)
    bucket = models.CharField(max_length=63)
    prefix = models.CharField(max_length=900, blank=True, default="",
                              help_text="Only keys under this prefix; empty: the whole bucket.")
    endpoint_url = models.CharField(max_length=300, blank=True, default="",
                                    help_text="Empty: the platform's storage endpoint.")
    region = models.CharField(max_length=64, blank=True, default="")
    path_style = models.BooleanField(default=False)
    access_key_id = models.CharField(max_length=128, blank=True, default="")
    # Fernet token of the secret access key (aiplatform.crypto); never leaves the platform.
    secret_access_key_encrypted = models.TextField(blank=True, default="")
    role_arn = models.CharField(max_length=300, blank=True, default="",
                                help_text="A role the platform assumes for the account (short-lived credentials).")
    external_id = models.CharField(max_length=64, blank=True, default="",
                                   help_text="Sent with AssumeRole; put it in the role's trust policy.")
    read_only = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="storage_connection_name_unique"),
            models.UniqueConstraint(fields=["account", "scheme", "bucket", "prefix"],
                                    name="storage_connection_location_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.uri})"

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}"

    def clean(self):
        if not self.role_arn and not (self.access_key_id and self.secret_access_key_encrypted):
            raise ValidationError({"access_key_id": "Give an access key and its secret, or a role_arn to assume."})


class StorageGrant(models.Model):
    """A location outside a workspace's managed one that it may name: what it used before storage
    was scoped (a migration granted those), or what an operator shares with it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="storage_grants")
    uri = models.CharField(max_length=1024, help_text="A location: an object, or a prefix ending in '/'.")
    read_only = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uri"]
        constraints = [models.UniqueConstraint(fields=["workspace", "uri"], name="storage_grant_unique")]

    def __str__(self):
        return f"{self.uri} for {self.workspace}"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    DEVELOPER = "developer", "Developer"
    ANNOTATOR = "annotator", "Annotator"
    VIEWER = "viewer", "Viewer"


class Capability(models.TextChoices):
    """What a role may do in a workspace. Views declare the capability each action needs."""

    READ = "read"
    ANNOTATE = "annotate"
    DEVELOP = "develop"
    ADMINISTER = "administer"


ROLE_CAPABILITIES = {
    Role.OWNER: {Capability.READ, Capability.ANNOTATE, Capability.DEVELOP, Capability.ADMINISTER},
    Role.DEVELOPER: {Capability.READ, Capability.ANNOTATE, Capability.DEVELOP},
    Role.ANNOTATOR: {Capability.READ, Capability.ANNOTATE},
    Role.VIEWER: {Capability.READ},
}

# The least role that holds a capability, named in 403 messages so users know what to ask for.
CAPABILITY_MIN_ROLE = {
    Capability.READ: Role.VIEWER,
    Capability.ANNOTATE: Role.ANNOTATOR,
    Capability.DEVELOP: Role.DEVELOPER,
    Capability.ADMINISTER: Role.OWNER,
}


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.workspace}"

    def clean(self):
        member = AccountMember.objects.filter(user_id=self.user_id).only("account_id").first()
        if member is None or member.account_id != self.workspace.account_id:
            raise ValidationError({"user": "The user must belong to the workspace's account."})


class ApiKey(models.Model):
    """A personal API key. Only a prefix is kept in clear; the secret is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class AuditEvent(models.Model):
    """One mutating API call: who, where, what, on which target, when, from which address."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    action = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    target_type = models.CharField(max_length=100, blank=True, default="")
    target_id = models.CharField(max_length=100, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    api_key_prefix = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_workspace_time")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"


class IdempotencyKey(models.Model):
    """The first response to a creating POST, replayed when the same caller retries its key."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self):
        return self.key


class OutboxMessage(models.Model):
    """A Celery task written in the transaction of the change it carries on, so that the change
    and its message commit together or not at all. It is sent right after the commit and deleted
    once the broker has it; the relay sends whatever is still here (the broker was down, the
    sending process died)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="Also the Celery task id.")
    task = models.CharField(max_length=200, help_text="The registered name of the Celery task.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="Celery's sending options (queue, …).")
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="A sender is sending it until then; after that anyone may."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Sends that failed.")
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["created_at"], name="outbox_created")]

    def __str__(self):
        return f"{self.task} {self.id}"


class TaskLease(models.Model):
    """A worker's hold on a long task (a dataset import, export or publication): which attempt
    runs it and when that worker last showed it is alive. A killed worker's heartbeat stops; the
    reaper then requeues the task and the next attempt takes it over. `events` says what happened."""

    key = models.CharField(max_length=200, primary_key=True, help_text="The task, e.g. datasets.import:<id>.")
    holder = models.CharField(max_length=200, blank=True, default="", help_text="The worker running it; empty: none.")
    attempt = models.PositiveIntegerField(default=0, help_text="Runs started so far.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="[{at, event, message}], oldest first.")

    class Meta:
        indexes = [models.Index(fields=["heartbeat_at"], name="tasklease_heartbeat")]

    def __str__(self):
        return self.key

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
        help_text="API requests per minute per user or key (empty: API_RATE_LIMIT_PER_MINUTE).",
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


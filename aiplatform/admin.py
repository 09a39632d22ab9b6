from django.contrib import admin, messages
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import APIException

from . import outbox, services
from .models import (
    Account,
    AccountMember,
    ApiKey,
    AuditEvent,
    IdempotencyKey,
    Membership,
    OutboxMessage,
    StorageConnection,
    StorageGrant,
    TaskLease,
    Workspace,
)


class ServiceBackedAdmin(admin.ModelAdmin):
    """Objects with a lifecycle or money: read-only here, because a form would bypass the services'
    validation, row locks, lifecycle and events. Operators act through admin actions that call
    the services (see `act`)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def act(modeladmin, request, queryset, *, operation, done: str) -> None:
    """Call a service operation for each selected object; what it refuses (a conflict, bad
    input) is told by name in the operator's words while the others go on."""
    succeeded, refused = 0, []
    for obj in queryset:
        try:
            operation(obj)
            succeeded += 1
        except (APIException, DjangoValidationError) as exc:
            detail = exc.detail if isinstance(exc, APIException) else exc.messages
            refused.append(f"{obj}: {_words(detail)}")
    if succeeded:
        modeladmin.message_user(request, f"{done}: {succeeded}.", messages.SUCCESS)
    for refusal in refused:
        modeladmin.message_user(request, refusal, messages.ERROR)


def _words(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {_words(value)}" for field, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_words(item) for item in detail)
    return str(detail)


class AccountMemberInline(admin.TabularInline):
    model = AccountMember
    extra = 0
    autocomplete_fields = ["user"]


class WorkspaceInline(admin.TabularInline):
    model = Workspace
    extra = 0
    fields = ["name", "description", "created_at"]
    readonly_fields = ["created_at"]
    show_change_link = True


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [AccountMemberInline, WorkspaceInline]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "created_at"]
    list_filter = ["account"]
    search_fields = ["name", "account__name"]
    list_select_related = ["account"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are issued through the API, which shows the secret once

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.revoke_api_key(api_key=api_key)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "workspace", "action", "status_code", "source_ip"]
    list_filter = ["method", "status_code"]
    search_fields = ["action", "path", "actor__username", "target_id"]
    list_select_related = ["actor", "workspace"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "status", "response_status", "created_at", "expires_at"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Messages not sent yet: the broker was down, or a sender died. The relay sends them."""

    list_display = ["created_at", "task", "attempts", "claimed_until", "last_error"]
    search_fields = ["task", "id"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["send_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send every unsent message now")
    def send_now(self, request, queryset):
        self.message_user(request, f"{outbox.relay()} message(s) sent.")


@admin.register(TaskLease)
class TaskLeaseAdmin(admin.ModelAdmin):
    """Who runs each long task, its attempts and heartbeat, and what happened to it."""

    list_display = ["key", "holder", "attempt", "heartbeat_at"]
    search_fields = ["key", "holder"]
    readonly_fields = [f.name for f in TaskLease._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StorageGrant)
class StorageGrantAdmin(admin.ModelAdmin):
    """Locations outside a workspace's own that it may name: what migrations granted from rows
    written before storage was scoped, and what operators share (read-only unless unticked). The
    platform's workspace area (other workspaces' locations) is never reached through a grant."""

    list_display = ["uri", "workspace", "read_only", "note", "created_at"]
    list_filter = ["read_only"]
    search_fields = ["uri", "workspace__name", "note"]
    list_select_related = ["workspace"]
    autocomplete_fields = ["workspace"]


@admin.register(StorageConnection)
class StorageConnectionAdmin(admin.ModelAdmin):
    """Accounts' own buckets; their secret keys are kept encrypted and shown to nobody."""

    list_display = ["name", "account", "scheme", "bucket", "prefix", "read_only", "created_at"]
    search_fields = ["name", "bucket", "account__name"]
    list_select_related = ["account"]
    exclude = ["secret_access_key_encrypted"]
    readonly_fields = ["external_id", "created_by", "created_at", "updated_at"]

"""Read queries of the platform core."""

import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from . import sql
from .models import AccountMember, ApiKey, AuditEvent, Membership, Role, StorageConnection, Workspace


def account_member(*, user) -> AccountMember | None:
    return AccountMember.objects.select_related("account").filter(user=user).first()


def workspaces_for_user(*, user) -> QuerySet[Workspace]:
    """Workspaces the user may see: theirs by membership; every one of the account for its
    admins; every one for operators."""
    queryset = Workspace.objects.select_related("account")
    if user.is_staff:
        return queryset
    member = account_member(user=user)
    if member is not None and member.is_admin:
        return queryset.filter(account_id=member.account_id)
    return queryset.filter(memberships__user=user)


def workspace_and_role(*, user, workspace_id, resource=None) -> tuple[Workspace, str, object]:
    """The workspace, the caller's effective role in it and, when `resource` names one as
    (model, id), that resource of the workspace or None: all in one query. Operators and account
    admins act as owners. Anyone else outside the workspace gets 404, never a hint that it
    exists."""
    try:
        key = uuid.UUID(str(workspace_id))
    except ValueError:
        raise NotFound("Workspace not found.") from None
    # Every workspace-scoped request starts here: hand-written SQL spares the ORM's compile
    # of the subqueries (about a millisecond of CPU per request), and the resource the request
    # is about comes along, saving a round trip to the database.
    fields = Workspace._meta.concrete_fields
    params = [user.pk, user.pk]
    joined, joined_fields = "", ()
    if resource is not None:
        model, resource_id = resource
        try:
            resource_key = model._meta.pk.get_db_prep_value(model._meta.pk.to_python(resource_id), connection)
        except DjangoValidationError:
            resource_key = None  # names nothing: the resource is None, as for an unknown id
        if resource_key is not None:
            joined_fields = model._meta.concrete_fields
            joined = (f" LEFT JOIN {model._meta.db_table} r ON r.{connection.ops.quote_name(model._meta.pk.column)}"
                      f" = %s AND r.{connection.ops.quote_name(model._meta.get_field('workspace').column)} = w.id")
            params.append(resource_key)
    select = sql.columns("w", fields) + (f", {sql.columns('r', joined_fields)}" if joined_fields else "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT m.role FROM {Membership._meta.db_table} m"
            f" WHERE m.workspace_id = w.id AND m.user_id = %s), EXISTS(SELECT 1 FROM {AccountMember._meta.db_table} a"
            f" WHERE a.user_id = %s AND a.account_id = w.account_id AND a.is_admin), {select}"
            f" FROM {Workspace._meta.db_table} w{joined} WHERE w.id = %s",
            [*params, Workspace._meta.pk.get_db_prep_value(key, connection)],
        )
        row = cursor.fetchone()
    if row is not None:
        member_role, by_account_admin = row[:2]
        workspace = sql.instance(Workspace, fields, row[2:2 + len(fields)])
        found = None
        if joined_fields and row[2 + len(fields)] is not None:
            found = sql.instance(resource[0], joined_fields, row[2 + len(fields):])
        if user.is_staff or by_account_admin:
            return workspace, Role.OWNER, found
        if member_role:
            return workspace, member_role, found
    raise NotFound("Workspace not found.")


def api_key_with_user(*, prefix: str) -> ApiKey | None:
    """The API key with this prefix and its user, in one query: the instances that
    select_related("user") would build."""
    # Every API request starts here: hand-written SQL spares the ORM's compile of the join
    # (about a millisecond of CPU per request).
    user_model = get_user_model()
    key_fields, user_fields = ApiKey._meta.concrete_fields, user_model._meta.concrete_fields
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql.columns('k', key_fields)}, {sql.columns('u', user_fields)}"
            f" FROM {ApiKey._meta.db_table} k JOIN {user_model._meta.db_table} u"
            f" ON u.{quote(user_model._meta.pk.column)} = k.{quote(ApiKey._meta.get_field('user').column)}"
            f" WHERE k.prefix = %s",
            [prefix],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    api_key = sql.instance(ApiKey, key_fields, row[:len(key_fields)])
    api_key.user = sql.instance(user_model, user_fields, row[len(key_fields):])
    return api_key


def memberships(*, workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user")


def account_users(*, account_id) -> QuerySet[AccountMember]:
    return AccountMember.objects.filter(account_id=account_id).select_related("user").order_by("user__username")


def api_keys(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def audit_events(*, workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace).select_related("actor")


def storage_connections(*, user) -> QuerySet[StorageConnection]:
    """The connections of the user's account (every account's for operators)."""
    queryset = StorageConnection.objects.select_related("created_by", "account")
    if user.is_staff:
        return queryset
    member = account_member(user=user)
    return queryset.filter(account_id=member.account_id) if member else queryset.none()

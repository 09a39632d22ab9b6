"""Read queries of the platform core."""

import uuid

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from rest_framework.exceptions import NotFound

from .models import AccountMember, ApiKey, AuditEvent, Membership, Role, Workspace


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


def workspace_and_role(*, user, workspace_id) -> tuple[Workspace, str]:
    """The workspace and the caller's effective role in it, in one query. Operators and
    account admins act as owners. Anyone else outside the workspace gets 404, never a hint
    that it exists."""
    try:
        key = uuid.UUID(str(workspace_id))
    except ValueError:
        raise NotFound("Workspace not found.") from None
    workspace = (
        Workspace.objects.select_related("account").filter(pk=key)
        .annotate(
            member_role=Subquery(Membership.objects.filter(workspace=OuterRef("pk"), user=user).values("role")[:1]),
            by_account_admin=Exists(AccountMember.objects.filter(user=user, account=OuterRef("account_id"),
                                                                 is_admin=True)),
        )
        .first()
    )
    if workspace is not None:
        if user.is_staff or workspace.by_account_admin:
            return workspace, Role.OWNER
        if workspace.member_role:
            return workspace, workspace.member_role
    raise NotFound("Workspace not found.")


def memberships(*, workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user")


def api_keys(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def audit_events(*, workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace).select_related("actor")

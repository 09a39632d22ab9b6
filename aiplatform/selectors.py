"""Read queries of the platform core."""

import uuid

from django.db.models import QuerySet
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
    """The workspace and the caller's effective role in it. Operators and account admins act
    as owners. Anyone else outside the workspace gets 404, never a hint that it exists."""
    try:
        workspace = Workspace.objects.select_related("account").filter(pk=uuid.UUID(str(workspace_id))).first()
    except ValueError:
        workspace = None
    if workspace is not None:
        if user.is_staff:
            return workspace, Role.OWNER
        member = account_member(user=user)
        if member is not None and member.is_admin and member.account_id == workspace.account_id:
            return workspace, Role.OWNER
        membership = Membership.objects.filter(workspace=workspace, user=user).only("role").first()
        if membership is not None:
            return workspace, membership.role
    raise NotFound("Workspace not found.")


def memberships(*, workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user")


def api_keys(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user)


def audit_events(*, workspace) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(workspace=workspace).select_related("actor")

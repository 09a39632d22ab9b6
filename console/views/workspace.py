"""The frame around workspaces: landing, the switcher, API keys, the account's people, a
workspace's members and its overview."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from aiplatform import selectors
from aiplatform.models import Capability, Role
from billing import selectors as billing_selectors
from resourcepools import selectors as pool_selectors
from resourcepools.models import Phase, WorkloadEvent

from ..playground import KEY_NAME, playground_key
from .base import LAST_WORKSPACE, PAGE_SIZES, page_of, workspace_page

ACTIVE = (Phase.ADMITTED, Phase.RUNNING, Phase.STOPPING)
WAITING = (Phase.PENDING, Phase.QUEUED)


def root(request):
    return redirect("console:home")


@login_required
def home(request):
    """The workspace last opened, else the first one; a page saying what to do when there is none."""
    workspaces = selectors.workspaces_for_user(user=request.user)
    last = request.session.get(LAST_WORKSPACE)
    chosen = (workspaces.filter(pk=last).first() if last else None) or workspaces.first()
    if chosen is not None:
        return redirect("console:overview", chosen.pk)
    return render(request, "console/workspace/none.html",
                  {"account_member": selectors.account_member(user=request.user)})


@login_required
def switch(request):
    """The switcher's choice (without JavaScript too); a workspace not theirs is a 404."""
    chosen = request.GET.get("workspace", "")
    workspace = selectors.workspaces_for_user(user=request.user).filter(pk=chosen).first() \
        if _uuid_like(chosen) else None
    if workspace is None:
        raise Http404("Workspace not found.")
    return redirect("console:overview", workspace.pk)


def _uuid_like(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


@login_required
def api_keys(request):
    user = request.user
    member = selectors.account_member(user=user)
    may_hold = user.is_staff or (member is not None and member.is_admin) or user.memberships.filter(
        role__in=[Role.OWNER, Role.DEVELOPER]).exists()
    page = page_of(request, selectors.api_keys(user=user).exclude(name=KEY_NAME, revoked_at__isnull=False))
    return render(request, "console/account/api_keys.html", {
        "page": page, "page_sizes": PAGE_SIZES, "may_hold": may_hold, "now": timezone.now(),
        "playground_key_name": KEY_NAME})


@login_required
def account(request):
    member = selectors.account_member(user=request.user)
    if member is None or not member.is_admin:
        raise PermissionDenied("Only account admins manage the account's people; ask your account admin.")
    page = page_of(request, selectors.account_users(account_id=member.account_id))
    return render(request, "console/account/account.html", {
        "page": page, "page_sizes": PAGE_SIZES, "member": member,
        "workspace_choices": [(w.pk, w.name) for w in member.account.workspaces.order_by("name")],
        "roles": Role.choices})


@workspace_page(Capability.READ)
def members(request):
    scope = request.scope
    page = page_of(request, selectors.memberships(workspace=scope.workspace).order_by("user__username"))
    account_users = []
    if scope.can_administer:
        present = {m.user_id for m in selectors.memberships(workspace=scope.workspace).only("user_id")}
        account_users = [m.user for m in selectors.account_users(account_id=scope.workspace.account_id)
                         if m.user_id not in present]
    member = selectors.account_member(user=request.user)
    return render(request, "console/workspace/members.html", {
        "scope": scope, "section": "members", "page": page, "page_sizes": PAGE_SIZES, "roles": Role.choices,
        "account_users": account_users, "account_user_choices": [(u.username, u.username) for u in account_users],
        "account_admin": member is not None and member.is_admin})


@workspace_page(Capability.READ)
def overview(request):
    scope = request.scope
    workloads = pool_selectors.workloads(workspace=scope.workspace)
    active = list(workloads.filter(phase__in=ACTIVE).order_by("-started_at", "-created_at")[:20])
    waiting = list(workloads.filter(phase__in=WAITING).order_by("queue_position", "created_at")[:20])
    events = list(WorkloadEvent.objects.filter(workload__workspace=scope.workspace).select_related("workload")
                  .order_by("-created_at", "-id")[:15])
    reader = billing_selectors.billing_reader(user=request.user)
    month = timezone.now().date().replace(day=1)
    bill = billing_selectors.bills(reader=reader).filter(period=month).first()
    balance = billing_selectors.billing_accounts(reader=reader).first() if reader.whole_account else None
    return render(request, "console/workspace/overview.html", {
        "scope": scope, "section": "overview", "active": active, "waiting": waiting, "events": events,
        "bill": bill, "balance": balance, "reader": reader, "month": month,
        "since": timezone.now() - timedelta(days=1)})


@require_POST
@workspace_page(Capability.READ)
def playground_key_view(request):
    """A short-lived API key of the signed-in user for the chat playground (see console.playground)."""
    return JsonResponse(playground_key(request))

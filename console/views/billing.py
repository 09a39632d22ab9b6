"""Billing, as the API shows it to the caller: account admins see the account's balance, ledger,
packages, subscriptions and bills; other members the bills' lines of their workspaces."""

import uuid
from collections import defaultdict
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from aiplatform import selectors as platform_selectors
from aiplatform.models import Membership
from billing import selectors
from billing.models import BillLine, SubscriptionPeriod
from resourcepools import selectors as pool_selectors

from .base import PAGE_SIZES, page_of
from .capacity import current_prices

CHART_MONTHS = 12


@login_required
def overview(request):
    reader = selectors.billing_reader(user=request.user)
    if reader.account_id is None and not reader.operator:
        raise PermissionDenied("Billing belongs to an account; your user is in none.")
    bills = list(selectors.bills(reader=reader).filter(account_id=reader.account_id).order_by("-period")[:CHART_MONTHS])
    context = {"reader": reader, "bills": bills, "spend_chart": _spend_chart(reader, bills), "now": timezone.now()}
    if reader.whole_account:
        context.update(
            balance=selectors.billing_accounts(reader=reader).filter(account_id=reader.account_id).first(),
            ledger=page_of(request, selectors.ledger(reader=reader).filter(account_id=reader.account_id)
                           .order_by("-created_at", "-id")),
            packages=list(selectors.packages(reader=reader).filter(account_id=reader.account_id)
                          .order_by("valid_until")[:50]),
            subscriptions=list(selectors.subscriptions(reader=reader).filter(account_id=reader.account_id)
                               .order_by("-starts_at")[:50]),
            notifications=list(selectors.notifications(reader=reader).filter(account_id=reader.account_id)
                               .order_by("-created_at")[:10]),
            offers=list(selectors.package_offers().filter(is_active=True).order_by("name")),
            page_sizes=PAGE_SIZES, periods=SubscriptionPeriod.choices,
            flavor_choices=_priced_flavors())
        for package in context["packages"]:
            package.left_hours = (package.node_seconds_total - package.node_seconds_used) / 3600
            total = package.node_seconds_total
            package.used_share = package.node_seconds_used / total if total else 1
    return render(request, "console/billing/overview.html", context)


def _priced_flavors():
    flavors = list(pool_selectors.flavors().filter(is_active=True).order_by("name"))
    prices = current_prices([f.pk for f in flavors])
    return [(f.name, f"{f.name}") for f in flavors if f.pk in prices]


def _spend_chart(reader, bills) -> dict:
    """Spend per month (the bills the reader may see), stacked by workspace, in one query."""
    months = sorted(bills, key=lambda bill: bill.period)
    lines = BillLine.objects.filter(bill_id__in=[bill.pk for bill in months])
    if not reader.whole_account:  # as the API's bill lines: only the reader's workspaces'
        lines = lines.filter(workspace_id__in=Membership.objects.filter(user_id=reader.user_id).values("workspace_id"))
    per_workspace = defaultdict(dict)
    for row in lines.values("bill_id", "workspace_name").annotate(total=Sum("amount")).order_by():
        per_workspace[row["workspace_name"] or "account"][row["bill_id"]] = row["total"]
    return {"kind": "bar", "labels": [bill.period.strftime("%Y-%m") for bill in months], "x": "month", "y": "spend",
            "stacked": True,
            "datasets": [{"label": name, "data": [float(totals.get(bill.pk, Decimal(0))) for bill in months]}
                         for name, totals in sorted(per_workspace.items())]}


@login_required
def bill(request, bill_id):
    reader = selectors.billing_reader(user=request.user)
    found = selectors.bills(reader=reader).filter(pk=bill_id).first() if str(bill_id).isdigit() else None
    if found is None:
        raise Http404("Bill not found.")
    lines = selectors.bill_lines(bill=found, reader=reader).order_by("workspace_name", "resource_name", "id")
    workspace = request.GET.get("workspace", "")
    if workspace:
        lines = lines.filter(workspace_id=workspace) if _uuid(workspace) else lines.none()
    workspaces = platform_selectors.workspaces_for_user(user=request.user)
    return render(request, "console/billing/bill.html", {
        "reader": reader, "bill": found, "page": page_of(request, lines), "page_sizes": PAGE_SIZES,
        "workspace": workspace, "workspaces": list(workspaces)})


def _uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

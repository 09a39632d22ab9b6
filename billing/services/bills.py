"""Monthly bills: their lines from purchases and rating runs, and generating them."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from aiplatform.models import Account, Workspace
from resourcepools.models import Flavor

from .. import rules, selectors
from ..models import Bill, BillLine, CostTag, ResourceType
from .balance import locked_billing_account
from .metering import meter_usage
from .usage_rating import rate_usage


def bill_lines_for(*, account_id, period) -> list[BillLine]:
    """A month's lines. A usage line sums what the rating runs charged one workload for one
    flavor, mode, unit price and package, and costs unit price × exact node-hours, rounded
    half-up once; a purchase line carries its (already rounded) amount."""
    usage, lines = defaultdict(int), []
    for workspace_id, workload_id, name, _, mode, flavor_id, package_id, unit_price, seconds in (
            selectors.rated_usage_lines(account_id=account_id, period=period)):
        usage[(workspace_id, workload_id, name, mode, flavor_id, package_id, Decimal(unit_price))] += seconds
    for c in selectors.charges_of_month(account_id=account_id, period=period):
        if c["unit"] == "node-hour":  # usage charged before RatedUsage
            usage[(str(c["workspace_id"]), c["resource_id"], c["resource_name"], c["mode"], c["flavor_id"],
                   c["package_id"], c["unit_price"])] += c["node_seconds"]
        else:
            lines.append(c)
    tokens = defaultdict(int)
    for workspace_id, service_id, name, _, mode, direction, flavor_id, unit_price, count in (
            selectors.rated_token_lines(account_id=account_id, period=period)):
        tokens[(workspace_id, service_id, name, mode, direction, flavor_id, Decimal(unit_price))] += count
    for (workspace_id, service_id, name, mode, direction, flavor_id, unit_price), count in tokens.items():
        lines.append({"workspace_id": workspace_id, "resource_type": ResourceType.SERVICE, "resource_id": service_id,
                      "resource_name": name, "mode": mode, "flavor_id": flavor_id,
                      "unit": f"1M {direction} tokens", "unit_price": unit_price, "package_id": None,
                      "quantity": (Decimal(count) / 1_000_000).quantize(Decimal("0.000001")),
                      "amount": rules.money(rules.token_amount(per_million=unit_price, tokens=count)),
                      "key": "", "description": f"{count} {direction} tokens"})
    for (workspace_id, workload_id, name, mode, flavor_id, package_id, unit_price), seconds in usage.items():
        lines.append({"workspace_id": workspace_id, "resource_type": ResourceType.WORKLOAD, "resource_id": workload_id,
                      "resource_name": name, "mode": mode, "flavor_id": flavor_id, "unit": "node-hour",
                      "unit_price": unit_price, "package_id": package_id, "node_seconds": seconds, "key": "",
                      "description": ""})
    workspaces = dict(Workspace.objects.filter(pk__in={c["workspace_id"] for c in lines if c["workspace_id"]})
                      .values_list("pk", "name"))
    flavors = dict(Flavor.objects.filter(pk__in={c["flavor_id"] for c in lines if c["flavor_id"]})
                   .values_list("pk", "name"))
    tags = defaultdict(dict)
    for workload_id, key, value in CostTag.objects.filter(workload__workspace__account_id=account_id).values_list(
            "workload_id", "key", "value"):
        tags[str(workload_id)][key] = value
    lines.sort(key=lambda c: (c["resource_type"], c["resource_name"], c["resource_id"], c["mode"],
                              flavors.get(c["flavor_id"], ""), c["unit_price"], c["package_id"] is not None,
                              c["package_id"] or 0, c["key"]))
    bill_lines = []
    for c in lines:
        workspace_id = uuid.UUID(str(c["workspace_id"])) if c["workspace_id"] else None
        if c["unit"] == "node-hour":
            quantity = (Decimal(c["node_seconds"]) / 3600).quantize(Decimal("0.000001"))
            amount = rules.money(rules.usage_amount(hourly=c["unit_price"], node_seconds=c["node_seconds"]))
        else:
            quantity, amount = c["quantity"], c["amount"]
        bill_lines.append(BillLine(
            workspace_id=workspace_id, workspace_name=workspaces.get(workspace_id, ""),
            resource_type=c["resource_type"], resource_id=c["resource_id"], resource_name=c["resource_name"],
            mode=c["mode"], flavor_name=flavors.get(c["flavor_id"], ""), unit=c["unit"], quantity=quantity,
            unit_price=c["unit_price"], amount=amount,
            description=c["description"] or (f"package {c['package_id']}" if c["package_id"] else ""),
            tags=tags.get(c["resource_id"], {}) if c["resource_type"] == ResourceType.WORKLOAD else {}))
    return bill_lines


def generate_bill(*, account: Account, period, now: datetime | None = None) -> Bill:
    """(Re)generate an account's bill for the month starting `period`, after rating its pending
    usage. A month is closed once it is over by the settle time; its charges no longer change,
    so its bill comes out the same every time."""
    now = now or timezone.now()
    period = period.replace(day=1)
    rate_usage(account_ids=[account.pk], now=now)
    with transaction.atomic():
        locked_billing_account(account_id=account.pk)
        lines = bill_lines_for(account_id=account.pk, period=period)
        next_month = rules.term_end(datetime(period.year, period.month, 1, tzinfo=UTC), 1)
        bill, _ = Bill.objects.select_for_update().get_or_create(
            account=account, period=period, defaults={"generated_at": now})
        bill.lines.all().delete()
        for line in lines:
            line.bill = bill
        BillLine.objects.bulk_create(lines)
        bill.total = sum((line.amount for line in lines), Decimal("0.00"))
        # Usage of the month's last hour is metered and rated just after it; the settle time covers that.
        bill.closed = now >= next_month + timedelta(hours=settings.BILLING_BILL_SETTLE_HOURS)
        bill.generated_at = now
        bill.full_clean()
        bill.save()
    return bill


def generate_bills(*, now: datetime | None = None) -> int:
    """This month's (open) bills and last month's for every account with charges, after metering
    what has run up to now."""
    now = now or timezone.now()
    meter_usage(now=now)
    this_month = rules.month_start(now)
    last_month = rules.month_start(now.replace(day=1) - timedelta(days=1))
    generated = 0
    for period in (last_month, this_month):
        for account in selectors.accounts_billed_in(period=period):
            generate_bill(account=account, period=period, now=now)
            generated += 1
    return generated

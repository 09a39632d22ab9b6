"""Monthly bills: lines per resource and mode, rounding once per line, totals, reproduction."""

from decimal import Decimal

import pytest

from billing import services
from billing.models import BillLine
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran, rated_lines
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def snapshot(bill):
    return list(BillLine.objects.filter(bill=bill).order_by("id").values_list(
        "workspace_id", "resource_type", "resource_id", "resource_name", "mode", "flavor_name", "unit", "quantity",
        "unit_price", "amount", "description"))


def test_monthly_bill_lines_rounding_and_reproduction(workspace):
    flavor = priced_cpu_flavor(hourly="0.0100", monthly="1750.00")
    pool = public_pool(flavor)
    other = WorkspaceFactory(account=workspace.account)
    fund(workspace.account, "10000.00")
    offer = services.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("5.00"))
    services.buy_package(account=workspace.account, offer=offer, now=at("2023-04-01T00:00:00"))
    services.buy_subscription(account=workspace.account, pool_name="ded-1", flavor=flavor, nodes=1,
                              period="monthly", periods=2, now=at("2023-04-01T10:00:00"))
    # 1 h from the package, then 20 min × 3 at 0.01/h: 0.00333… each, 0.01 once rounded per line.
    ran(workspace, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T02:00:00", name="train")
    ran(other, pool, flavor, start="2023-04-04T00:00:00", end="2023-04-04T00:20:00", name="infer")
    ran(workspace, pool, flavor, start="2023-05-01T00:00:00", end="2023-05-01T01:00:00", name="may")
    services.meter_usage(now=at("2023-05-01T12:00:00"))
    services.rate_usage(now=at("2023-05-01T12:00:00"))  # within April's settle time

    bill = services.generate_bill(account=workspace.account, period=at("2023-04-15T00:00:00").date(),
                                  now=at("2023-05-02T00:00:00"))
    assert bill.closed and str(bill.period) == "2023-04-01"
    lines = {(line.resource_name, line.mode): line for line in bill.lines.all()}
    assert set(lines) == {("cpu-1h", "package"), ("ded-1", "subscription"), ("train", "package"),
                          ("train", "pay_per_use"), ("infer", "pay_per_use")}
    train = lines[("train", "pay_per_use")]
    assert (train.quantity, train.unit_price, train.amount) == (Decimal("1"), Decimal("0.0100"), Decimal("0.01"))
    infer = lines[("infer", "pay_per_use")]
    assert (infer.quantity, infer.amount, infer.workspace_id) == (Decimal("0.333333"), Decimal("0.00"), other.pk)
    assert lines[("train", "package")].amount == 0 and lines[("train", "package")].quantity == 1
    assert lines[("ded-1", "subscription")].amount == Decimal("3500.00")
    assert bill.total == Decimal("3505.01")

    first = snapshot(bill)
    again = services.generate_bill(account=workspace.account, period=at("2023-04-01T00:00:00").date(),
                                   now=at("2023-06-10T00:00:00"))
    assert again.pk == bill.pk and snapshot(again) == first and again.total == bill.total
    may = services.generate_bill(account=workspace.account, period=at("2023-05-01T00:00:00").date(),
                                 now=at("2023-06-01T23:59:59"))
    assert not may.closed  # still settling
    assert [line.resource_name for line in may.lines.all()] == ["may"]


def test_usage_rated_after_its_month_closed_goes_on_the_next_open_bill(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    april = services.generate_bill(account=workspace.account, period=at("2023-04-01T00:00:00").date(),
                                   now=at("2023-05-03T00:00:00"))
    assert april.closed and april.total == 0
    # The meter was down: April's last hour is only recorded on 2023-05-03.
    ran(workspace, pool, flavor, start="2023-04-30T23:00:00", end="2023-05-01T00:00:00", name="late")
    services.meter_usage(now=at("2023-05-03T00:00:00"))
    again = services.generate_bill(account=workspace.account, period=at("2023-04-01T00:00:00").date(),
                                   now=at("2023-05-03T00:00:00"))
    assert again.total == 0 and snapshot(again) == []
    may = services.generate_bill(account=workspace.account, period=at("2023-05-01T00:00:00").date(),
                                 now=at("2023-05-03T00:00:00"))
    assert [(line.resource_name, line.amount) for line in may.lines.all()] == [("late", Decimal("2.00"))]



def test_a_bill_line_sums_what_every_rating_run_charged(workspace):
    """Rated hour by hour, a workload's pay-per-use is a line in each run and one bill line, with
    the exact total rounded once: 20 + 60 + 60 min at 0.005/h is 0.01, where rounding each run
    would give 0.00 + 0.01 + 0.01."""
    flavor = priced_cpu_flavor(hourly="0.0050")
    pool = public_pool(flavor)
    fund(workspace.account, "100.00")
    ran(workspace, pool, flavor, start="2023-04-03T00:40:00", name="serve")
    for hour in ("01", "02", "03"):
        services.meter_usage(now=at(f"2023-04-03T{hour}:05:00"))
        services.rate_usage(now=at(f"2023-04-03T{hour}:05:00"))
    assert [line["node_seconds"] for line in rated_lines(workspace.account)] == [1200, 3600, 3600]

    bill = services.generate_bill(account=workspace.account, period=at("2023-04-01T00:00:00").date(),
                                  now=at("2023-04-03T03:10:00"))
    (line,) = bill.lines.all()
    assert (line.resource_name, line.mode, line.quantity, line.amount) == (
        "serve", "pay_per_use", Decimal("2.333333"), Decimal("0.01"))

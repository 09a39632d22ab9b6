"""Metering and rating run twice at once on PostgreSQL: nothing recorded or charged twice, and
a package is never overdrawn."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.exceptions import ValidationError

from billing import services
from billing.models import BillingAccount, ChargeMode, LedgerEntry, Notification, Package, UsageRecord
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran, rated_lines
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def in_parallel(work, threads=4):
    barrier = threading.Barrier(threads)
    errors = []

    def run():
        try:
            barrier.wait()
            work()
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []


def test_parallel_meters_and_raters_charge_each_hour_once_and_never_overdraw_packages():
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=8)
    workspaces = [WorkspaceFactory() for _ in range(3)]
    offer = services.save_package_offer(name="cpu-5h", family="cpu", node_hours=5, price=Decimal("8.00"))
    for ws in workspaces:
        fund(ws.account, "100.00")
        services.buy_package(account=ws.account, offer=offer, now=at("2023-04-01T00:00:00"))
        for i in range(2):
            ran(ws, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T06:00:00", name=f"job-{i}")

    def meter_and_rate():
        for _ in range(3):
            services.meter_usage(now=at("2023-04-03T00:00:00"))
            services.rate_usage(now=at("2023-04-03T00:00:00"))

    in_parallel(meter_and_rate)
    services.rate_usage(now=at("2023-04-03T00:00:00"))  # whatever a skipped (locked) account left
    assert UsageRecord.objects.count() == 3 * 2 * 6
    for ws in workspaces:
        package = Package.objects.get(account=ws.account)
        assert package.node_seconds_used == package.node_seconds_total == 5 * 3600
        assert sum(line["node_seconds"] for line in rated_lines(ws.account, ChargeMode.PAY_PER_USE)) == 7 * 3600
        assert BillingAccount.objects.get(pk=ws.account_id).balance == Decimal("100.00") - 8 - 7 * 2
        assert sum(LedgerEntry.objects.filter(account=ws.account, kind="pay_per_use")
                   .values_list("amount", flat=True)) == -14


def test_parallel_purchases_never_overdraw_the_balance():
    priced_cpu_flavor()
    workspace = WorkspaceFactory()
    fund(workspace.account, "10.00")
    offer = services.save_package_offer(name="cpu-5h", family="cpu", node_hours=5, price=Decimal("4.00"))
    refused = []

    def buy():
        try:
            services.buy_package(account=workspace.account, offer=offer)
        except ValidationError as exc:
            refused.append(exc)

    in_parallel(buy)
    assert len(refused) == 2 and Package.objects.count() == 2
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("2.00")


def test_parallel_subscription_runs_renew_once():
    flavor = priced_cpu_flavor(monthly="1750.00")
    workspace = WorkspaceFactory()
    fund(workspace.account, "10000.00")
    subscription = services.buy_subscription(account=workspace.account, pool_name="ded-1", flavor=flavor, nodes=1,
                                             period="monthly", periods=1, auto_renew=True,
                                             now=at("2023-04-01T10:00:00"))
    in_parallel(lambda: services.process_subscriptions(now=at("2023-05-01T10:00:00")))
    subscription.refresh_from_db()
    assert (subscription.periods, subscription.ends_at) == (2, at("2023-06-01T10:00:00"))
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("6500.00")


def test_many_notifications_at_once_go_in_once_per_key_outside_a_transaction():
    """Rating warns by the thousand through a scratch table; called on its own (autocommit), the
    same path leaves each key once, and a second call adds nothing."""
    account = WorkspaceFactory().account
    notices = [services.Notice(account.pk, "test", f"n{i}", "", f"test:{i}") for i in range(150)]
    assert len(services.notify_many(notices=notices)) == 150
    assert services.notify_many(notices=notices) == []
    assert Notification.objects.filter(account=account, kind="test").count() == 150

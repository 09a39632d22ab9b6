"""Subscriptions: the documented example, renewal, expiry → freeze → stop → release, mid-term
nodes, unsubscribing, and bad input that charges nothing."""

from decimal import Decimal

import pytest
from rest_framework.exceptions import ValidationError

from billing import services
from billing.models import BillingAccount, Charge, LedgerEntry, Subscription, SubscriptionStatus
from resourcepools.admission import admit_workloads
from resourcepools.models import Node, Phase, PoolKind, PoolStatus, ResourcePool
from tests.billing.helpers import at, fund, priced_cpu_flavor
from tests.factories import FlavorFactory, make_workload

pytestmark = pytest.mark.django_db


def balance(account):
    return BillingAccount.objects.get(pk=account.pk).balance


def buy(account, flavor, nodes=1, periods=2, when="2023-04-01T10:00:00", **extra):
    return services.buy_subscription(account=account, pool_name="ded-1", flavor=flavor, nodes=nodes,
                                     period="monthly", periods=periods, now=at(when), **extra)


def test_documented_example_two_months_of_one_cpu_node(workspace):
    """2023-04-01 10:00:00, CPU 8 cores 32 GB, 1 node, 2 months at 1,750.00 → 3,500.00 until
    2023-06-01 10:00:00."""
    flavor = priced_cpu_flavor(monthly="1750.00")
    assert (flavor.vcpus, flavor.memory_gib) == (8, 32)
    fund(workspace.account, "5000.00")
    subscription = buy(workspace.account, flavor)
    assert subscription.paid == Decimal("3500.00")
    assert subscription.starts_at == at("2023-04-01T10:00:00")
    assert subscription.ends_at == at("2023-06-01T10:00:00")
    assert balance(workspace.account) == Decimal("1500.00")
    pool = ResourcePool.objects.get(pk=subscription.pool_id)
    assert (pool.kind, pool.account_id, pool.status) == (PoolKind.DEDICATED, workspace.account_id, PoolStatus.RUNNING)
    assert Node.objects.filter(pool=pool, flavor=flavor).count() == 1
    entry = LedgerEntry.objects.get(key=f"subscription:{subscription.pk}:purchase")
    assert entry.amount == Decimal("-3500.00")
    charge = Charge.objects.get(key=entry.key)
    assert (charge.unit, charge.unit_price, charge.quantity, charge.amount) == (
        "node-month", Decimal("1750.00"), 2, Decimal("3500.00"))


def test_estimate_matches_the_purchase():
    flavor = priced_cpu_flavor(hourly="2.50", monthly="1750.00")
    monthly = services.estimate(flavor=flavor, nodes=1, mode="monthly", periods=2, now=at("2023-04-01T10:00:00"))
    assert (monthly["amount"], monthly["ends_at"]) == (Decimal("3500.00"), at("2023-06-01T10:00:00"))
    hourly = services.estimate(flavor=flavor, nodes=3, mode="pay_per_use", now=at("2023-04-01T10:00:00"))
    assert (hourly["unit_price"], hourly["amount"], hourly["per"]) == (Decimal("2.5000"), Decimal("7.50"), "hour")


@pytest.mark.parametrize(("nodes", "periods", "field"), [(0, 2, "nodes"), (1, 0, "periods"), (-1, 1, "nodes"),
                                                          (1, -3, "periods")])
def test_non_positive_counts_are_refused_and_nothing_is_charged(workspace, nodes, periods, field):
    flavor = priced_cpu_flavor()
    fund(workspace.account, "5000.00")
    with pytest.raises(ValidationError) as refused:
        buy(workspace.account, flavor, nodes=nodes, periods=periods)
    assert field in refused.value.detail
    assert balance(workspace.account) == Decimal("5000.00")
    assert not ResourcePool.objects.exists()


def test_flavor_without_price_and_short_balance_are_refused(workspace):
    unpriced = FlavorFactory()
    fund(workspace.account, "3499.99")
    with pytest.raises(ValidationError) as no_price:
        buy(workspace.account, unpriced)
    assert "has no price" in str(no_price.value.detail["flavor"])
    with pytest.raises(ValidationError) as short:
        buy(workspace.account, priced_cpu_flavor())
    assert "top up at least 0.01" in str(short.value.detail["balance"])
    assert balance(workspace.account) == Decimal("3499.99")
    assert not ResourcePool.objects.exists() and not Subscription.objects.exists()


def test_expiry_freezes_then_stops_work_then_releases(workspace, settings):
    settings.BILLING_SUBSCRIPTION_GRACE_HOURS = 2
    settings.BILLING_SUBSCRIPTION_RETENTION_DAYS = 3
    flavor = priced_cpu_flavor()
    fund(workspace.account, "5000.00")
    subscription = buy(workspace.account, flavor, periods=1)
    pool = subscription.pool
    running = make_workload(workspace, pool, flavor=flavor, name="running")
    admit_workloads()
    assert services.process_subscriptions(now=at("2023-05-01T09:59:59"))["expired"] == 0
    assert services.process_subscriptions(now=at("2023-05-01T10:00:00"))["expired"] == 1
    pool.refresh_from_db()
    assert pool.status == PoolStatus.FROZEN
    waiting = make_workload(workspace, pool, flavor=flavor, name="waiting")
    admit_workloads()
    waiting.refresh_from_db()
    assert (waiting.phase, waiting.reason) == (Phase.QUEUED, "PoolNotAdmitting")
    running.refresh_from_db()
    assert running.phase == Phase.ADMITTED  # the grace period lets it run on
    assert services.process_subscriptions(now=at("2023-05-01T12:00:00"))["stopped"] == 1
    running.refresh_from_db()
    assert (running.phase, running.reason) == (Phase.STOPPING, "SubscriptionExpired")
    assert services.process_subscriptions(now=at("2023-05-04T10:00:00"))["released"] == 1
    subscription.refresh_from_db()
    pool.refresh_from_db()
    assert subscription.status == SubscriptionStatus.RELEASED and pool.status == PoolStatus.DELETING
    assert [e.reason for e in subscription.events.all()] == ["Purchased", "Expired", "GraceOver", "Released"]
    assert workspace.account.notifications.filter(kind="subscription_expired").count() == 1


def test_auto_renew_extends_from_the_original_start_and_charges(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "5000.00")
    subscription = services.buy_subscription(account=workspace.account, pool_name="ded-1", flavor=flavor, nodes=1,
                                             period="monthly", periods=1, auto_renew=True,
                                             now=at("2023-01-31T08:00:00"))
    assert subscription.ends_at == at("2023-02-28T08:00:00")
    assert services.process_subscriptions(now=at("2023-02-28T08:00:00"))["renewed"] == 1
    subscription.refresh_from_db()
    assert subscription.ends_at == at("2023-03-31T08:00:00")  # not drifting to the 28th
    assert (subscription.periods, subscription.paid) == (2, Decimal("3500.00"))
    assert balance(workspace.account) == Decimal("1500.00")
    # Without the money for another month it expires instead, and renewing later thaws it.
    services.process_subscriptions(now=at("2023-03-31T08:00:00"))
    services.process_subscriptions(now=at("2023-03-31T08:00:00"))
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.EXPIRED
    fund(workspace.account, "1000.00")
    subscription = services.renew_subscription(subscription=subscription, periods=1, now=at("2023-04-02T00:00:00"))
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.ends_at == at("2023-04-30T08:00:00")
    assert subscription.pool.status == PoolStatus.RUNNING


def test_adding_nodes_mid_term_costs_pro_rata_to_the_end(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "10000.00")
    subscription = buy(workspace.account, flavor, periods=2)
    # 2023-05-01 10:00: 31 of 61 days left; the term's price per node is 3,500.00.
    subscription = services.add_subscription_nodes(subscription=subscription, nodes=2,
                                                   now=at("2023-05-01T10:00:00"))
    expected = (Decimal("3500.00") * 2 * 31 / 61).quantize(Decimal("0.01"))
    assert expected == Decimal("3557.38")
    assert subscription.nodes == 3 and subscription.paid == Decimal("3500.00") + expected
    assert Node.objects.filter(pool=subscription.pool).count() == 3
    assert balance(workspace.account) == Decimal("10000.00") - Decimal("3500.00") - expected


def test_unsubscribe_refunds_the_unused_share_and_releases_the_pool(workspace):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "5000.00")
    subscription = buy(workspace.account, flavor, periods=2)
    subscription = services.unsubscribe(subscription=subscription, now=at("2023-05-01T10:00:00"))
    refund = (Decimal("3500.00") * 31 / 61).quantize(Decimal("0.01"))
    assert refund == Decimal("1778.69")
    assert balance(workspace.account) == Decimal("1500.00") + refund
    assert subscription.status == SubscriptionStatus.UNSUBSCRIBED
    assert subscription.pool.status == PoolStatus.DELETING
    assert LedgerEntry.objects.get(key=f"subscription:{subscription.pk}:refund").amount == refund
    with pytest.raises(Exception, match="already unsubscribed"):
        services.unsubscribe(subscription=subscription, now=at("2023-05-02T10:00:00"))

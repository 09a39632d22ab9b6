"""Metering (hour pieces per pod set, unique keys, dedicated pools) and rating (prices in force,
packages first, soonest-expiring first, overflow, expiry, warnings, arrears)."""

from collections import defaultdict
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from billing import services
from billing.models import (
    BillingAccount,
    Charge,
    ChargeMode,
    LedgerEntry,
    Notification,
    Package,
    RatedUsage,
    UsageRecord,
)
from billing.services import usage_rating
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran, rated_lines
from tests.factories import AccountMemberFactory, UserFactory, WorkspaceFactory, make_pool, make_workload

pytestmark = pytest.mark.django_db


def balance(account):
    return BillingAccount.objects.get(pk=account.pk).balance


def usage_lines(account, mode):
    """(unit price, node-seconds, package) of the account's usage in a mode, summed over rating
    runs as a bill line sums them."""
    summed = defaultdict(int)
    for line in rated_lines(account, mode):
        summed[(Decimal(line["unit_price"]), line["package_id"])] += line["node_seconds"]
    return {(price, seconds, package) for (price, package), seconds in summed.items()}


def offer(family="cpu", node_hours=10, months=1, price="20.00"):
    return services.save_package_offer(name=f"{family}-{node_hours}h-{months}m-{price}", family=family,
                                       node_hours=node_hours, validity_months=months, price=Decimal(price))


def test_running_work_is_metered_per_hour_and_remetering_adds_nothing(workspace):
    flavor = priced_cpu_flavor()
    pool = public_pool(flavor)
    workload = ran(workspace, pool, flavor, start="2023-04-01T10:30:00", replicas=2)
    # 10:30–11:00, 11:00–12:00 and 12:00–13:00 are over at 13:10; 13:00–14:00 is not yet.
    assert services.meter_usage(now=at("2023-04-01T13:10:00")) == 3
    assert services.meter_usage(now=at("2023-04-01T13:10:00")) == 0
    assert services.meter_usage(now=at("2023-04-01T13:10:00"), workload_ids=[workload.pk]) == 0
    assert services.meter_usage(now=at("2023-04-01T14:00:00")) == 1
    assert UsageRecord.objects.count() == 4
    records = list(UsageRecord.objects.order_by("started_at"))
    assert records[0].node_seconds == 2 * 1800 and records[1].node_seconds == 2 * 3600
    assert {r.key for r in records} == {f"{r.pod_set_id}:{r.started_at:%Y%m%d%H}" for r in records}


def test_finished_work_is_metered_to_the_moment_it_left_running(workspace):
    flavor = priced_cpu_flavor()
    pool = public_pool(flavor)
    ran(workspace, pool, flavor, start="2023-04-01T10:30:00", end="2023-04-01T12:15:00")
    assert services.meter_usage(now=at("2023-04-02T00:00:00")) == 3
    assert sum(UsageRecord.objects.values_list("node_seconds", flat=True)) == 105 * 60
    assert services.meter_usage(now=at("2023-04-03T00:00:00")) == 0


def test_a_month_long_service_is_billed_as_it_goes(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "10000.00")
    ran(workspace, pool, flavor, start="2023-04-01T00:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    services.rate_usage()
    assert balance(workspace.account) == Decimal("10000.00") - 24 * Decimal("2.00")
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    services.rate_usage()
    assert balance(workspace.account) == Decimal("10000.00") - 48 * Decimal("2.00")
    assert UsageRecord.objects.count() == 48


def test_dedicated_pool_work_is_recorded_but_not_charged(workspace):
    flavor = priced_cpu_flavor()
    fund(workspace.account, "5000.00")
    subscription = services.buy_subscription(account=workspace.account, pool_name="ded-1", flavor=flavor, nodes=1,
                                             period="monthly", periods=1, now=at("2023-04-01T00:00:00"))
    ran(workspace, subscription.pool, flavor, start="2023-04-01T10:00:00", end="2023-04-01T12:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    assert services.rate_usage() == 2
    assert balance(workspace.account) == Decimal("3250.00")
    assert usage_lines(workspace.account, ChargeMode.SUBSCRIPTION) == {(Decimal(0), 7200, None)}
    assert not LedgerEntry.objects.filter(kind="pay_per_use").exists()


def test_price_change_never_rewrites_past_charges(workspace):
    flavor = priced_cpu_flavor(hourly="2.00", effective_from="2023-01-01T00:00:00")
    services.publish_price(flavor=flavor, pay_per_use_hourly=Decimal("3.00"), monthly=Decimal("1"),
                           yearly=Decimal("1"), effective_from=at("2023-04-01T11:00:00"),
                           now=at("2023-04-01T10:30:00"))
    pool = public_pool(flavor)
    ran(workspace, pool, flavor, start="2023-04-01T10:00:00", end="2023-04-01T12:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    services.rate_usage()
    assert usage_lines(workspace.account, ChargeMode.PAY_PER_USE) == {(Decimal("2.0000"), 3600, None),
                                                                      (Decimal("3.0000"), 3600, None)}
    assert balance(workspace.account) == Decimal("-5.00")
    with pytest.raises(Exception, match="past charges keep their price"):
        services.publish_price(flavor=flavor, pay_per_use_hourly=Decimal("9"), monthly=Decimal("1"),
                               yearly=Decimal("1"), effective_from=at("2023-04-01T00:00:00"),
                               now=at("2023-04-02T00:00:00"))


def test_packages_are_used_soonest_expiring_first_then_overflow_to_pay_per_use(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "1000.00")
    long_lived = services.buy_package(account=workspace.account, offer=offer(node_hours=2, months=2),
                                      now=at("2023-04-01T00:00:00"))
    soon = services.buy_package(account=workspace.account, offer=offer(node_hours=2, months=1),
                                now=at("2023-04-01T00:00:00"))
    assert balance(workspace.account) == Decimal("960.00")
    ran(workspace, pool, flavor, start="2023-04-10T00:00:00", end="2023-04-10T05:00:00")
    services.meter_usage(now=at("2023-04-11T00:00:00"))
    services.rate_usage()
    soon.refresh_from_db()
    long_lived.refresh_from_db()
    assert (soon.node_seconds_used, long_lived.node_seconds_used) == (7200, 7200)
    assert usage_lines(workspace.account, ChargeMode.PACKAGE) == {(Decimal(0), 7200, soon.pk),
                                                                  (Decimal(0), 7200, long_lived.pk)}
    assert usage_lines(workspace.account, ChargeMode.PAY_PER_USE) == {(Decimal("2.0000"), 3600, None)}
    assert balance(workspace.account) == Decimal("958.00")


def test_usage_outside_the_validity_or_of_another_family_is_pay_per_use(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "1000.00")
    package = services.buy_package(account=workspace.account, offer=offer(node_hours=100, months=1),
                                   now=at("2023-04-01T00:00:00"))
    ran(workspace, pool, flavor, start="2023-05-01T00:00:00", end="2023-05-01T01:00:00", name="after")
    services.meter_usage(now=at("2023-05-02T00:00:00"))
    services.rate_usage()
    package.refresh_from_db()
    assert package.node_seconds_used == 0  # expired at 2023-05-01 00:00: the leftover is lost
    assert usage_lines(workspace.account, ChargeMode.PAY_PER_USE) == {(Decimal("2.0000"), 3600, None)}


def test_package_warnings_at_80_90_100_percent_and_before_expiry(workspace, settings,
                                                                 django_capture_on_commit_callbacks):
    settings.BILLING_EMAIL_NOTIFICATIONS = True
    AccountMemberFactory(account=workspace.account, user=UserFactory(email="admin@example.com"), is_admin=True)
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "1000.00")
    package = services.buy_package(account=workspace.account, offer=offer(node_hours=10, months=1),
                                   now=at("2023-04-01T00:00:00"))
    for day, end, thresholds in (("10", "08:30", (80,)), ("12", "01:00", (80, 90)), ("14", "02:00", (80, 90, 100))):
        ran(workspace, pool, flavor, start=f"2023-04-{day}T00:00:00", end=f"2023-04-{day}T{end}:00", name=day)
        services.meter_usage(now=at(f"2023-04-{day}T23:00:00"))
        with django_capture_on_commit_callbacks(execute=True):
            services.rate_usage()
        assert set(Notification.objects.values_list("key", flat=True)) == {
            f"package:{package.pk}:used:{t}" for t in thresholds}
    assert [m.to for m in mail.outbox] == [["admin@example.com"]] * 3
    assert services.check_packages(now=at("2023-04-20T00:00:00")) == 0  # nothing left to expire


def test_a_run_crossing_several_thresholds_warns_of_the_highest(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    fund(workspace.account, "1000.00")
    package = services.buy_package(account=workspace.account, offer=offer(node_hours=10, months=1),
                                   now=at("2023-04-01T00:00:00"))
    ran(workspace, public_pool(flavor), flavor, start="2023-04-10T00:00:00", end="2023-04-10T12:00:00")
    services.meter_usage(now=at("2023-04-11T00:00:00"))
    services.rate_usage()
    (warning,) = Notification.objects.all()
    assert (warning.key, warning.subject) == (f"package:{package.pk}:used:100", "Package of cpu is 100% used")
    assert "0.00 are left" in warning.message


def test_expiry_warning_seven_days_before(workspace):
    fund(workspace.account, "100.00")
    priced_cpu_flavor()
    package = services.buy_package(account=workspace.account, offer=offer(), now=at("2023-04-01T00:00:00"))
    assert services.check_packages(now=at("2023-04-23T23:59:59")) == 0
    assert services.check_packages(now=at("2023-04-24T00:00:00")) == 1
    assert services.check_packages(now=at("2023-04-25T00:00:00")) == 0
    assert Notification.objects.get().key == f"package:{package.pk}:expiring"


def test_package_offer_for_unknown_family_is_refused():
    priced_cpu_flavor()
    with pytest.raises(Exception, match="No flavor family 'gpu.h100'"):
        offer(family="gpu.h100")


def test_arrears_refuse_pay_per_use_admission_then_stop_running_work_and_top_up_lifts_it(workspace, settings):
    settings.BILLING_ARREARS_GRACE_HOURS = 1
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "1.00")
    ran(workspace, pool, flavor, start="2023-04-01T00:00:00", end="2023-04-01T01:00:00", name="done")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    services.rate_usage(now=at("2023-04-02T00:00:00"))
    billing = BillingAccount.objects.get(pk=workspace.account_id)
    assert billing.balance == Decimal("-1.00") and billing.arrears_since == at("2023-04-02T00:00:00")
    queued = make_workload(workspace, pool, flavor=flavor, name="queued")
    admit_workloads()
    queued.refresh_from_db()
    assert (queued.phase, queued.reason) == (Phase.QUEUED, "AdmissionRefused")
    assert "Account balance is -1.00, below zero" in queued.message
    # Dedicated work is paid by subscription and still starts.
    dedicated = make_pool(name="ded-x", flavor=flavor, nodes=1, kind="dedicated", account=workspace.account)
    mine = make_workload(workspace, dedicated, flavor=flavor, name="dedicated")
    running = ran(workspace, pool, flavor, start="2023-04-02T00:00:00", name="running")
    admit_workloads()
    assert Workload.objects.get(pk=mine.pk).phase == Phase.ADMITTED
    assert services.enforce_arrears(now=at("2023-04-02T00:59:59")) == 0
    assert services.enforce_arrears(now=at("2023-04-02T01:00:00")) == 1
    running.refresh_from_db()
    assert (running.phase, running.reason) == (Phase.STOPPING, "Arrears")
    assert Workload.objects.get(pk=mine.pk).phase == Phase.ADMITTED
    fund(workspace.account, "1.00")
    assert BillingAccount.objects.get(pk=workspace.account_id).arrears_since is None
    admit_workloads()
    assert Workload.objects.get(pk=queued.pk).phase == Phase.ADMITTED


def test_rating_twice_charges_once(workspace):
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    ran(workspace, pool, flavor, start="2023-04-01T00:00:00", end="2023-04-01T03:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    assert services.rate_usage() == 3
    assert services.rate_usage() == 0
    assert balance(workspace.account) == Decimal("-6.00")
    assert LedgerEntry.objects.filter(kind="pay_per_use").count() == 1


def test_a_failed_rating_run_leaves_nothing_half_charged(workspace):
    """The ledger key of the run already exists (as if a crashed run's entry had survived):
    the whole run rolls back — no package deduction, no charge line, no cursor move."""
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "100.00")
    package = services.buy_package(account=workspace.account, offer=offer(node_hours=1),
                                   now=at("2023-04-01T00:00:00"))
    ran(workspace, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T02:00:00")
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    last = UsageRecord.objects.order_by("pk").values_list("pk", flat=True).last()
    LedgerEntry.objects.create(account=workspace.account, kind="pay_per_use", amount=0, balance_after=0,
                               key=f"usage:{workspace.account_id}:1-{last}")
    with pytest.raises(Exception, match="duplicate key"):
        services.rate_usage()
    package.refresh_from_db()
    assert package.node_seconds_used == 0
    assert not RatedUsage.objects.exists()
    assert BillingAccount.objects.get(pk=workspace.account_id).rated_through_id == 0
    assert balance(workspace.account) == Decimal("80.00")
    assert Package.objects.get().node_seconds_used == 0


def test_rating_takes_the_same_queries_for_any_number_of_accounts_and_workloads():
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=50)
    two_hours = offer(node_hours=2)
    counts = []
    # After the first round, accounts already rated and the new ones form two groups each time.
    for accounts, workloads in ((1, 1), (2, 2), (5, 3)):
        for _ in range(accounts):
            ws = WorkspaceFactory()
            services.buy_package(account=fund(ws.account, "100.00").account, offer=two_hours,
                                 now=at("2023-04-01T00:00:00"))
            for i in range(workloads):
                ran(ws, pool, flavor, start="2023-04-02T00:30:00", end="2023-04-02T05:00:00", name=f"job-{i}")
        services.meter_usage(now=at("2023-04-03T00:00:00"))
        with CaptureQueriesContext(connection) as queries:
            assert services.rate_usage(now=at("2023-04-03T00:00:00")) == accounts * workloads * 5
        counts.append(len(queries))
    assert counts[1] == counts[2]
    assert Package.objects.filter(node_seconds_used=7200).count() == 8


def test_accounts_rated_in_parts_of_one_come_out_as_rated_together(monkeypatch):
    # A part is rated in a thread while the one before is written; parts of one account each
    # must give every account what rating them all at once gives.
    monkeypatch.setattr(usage_rating, "RATED_FIRST", 1)
    monkeypatch.setattr(usage_rating, "RATED_TOGETHER", 1)
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=50)
    two_hours = offer(node_hours=2)
    workspaces = []
    for _ in range(5):
        ws = WorkspaceFactory()
        services.buy_package(account=fund(ws.account, "100.00").account, offer=two_hours,
                             now=at("2023-04-01T00:00:00"))
        ran(ws, pool, flavor, start="2023-04-02T00:30:00", end="2023-04-02T05:00:00")
        workspaces.append(ws)
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    assert services.rate_usage(now=at("2023-04-03T00:00:00")) == 5 * 5
    assert Notification.objects.filter(kind="package_usage").count() == 5  # each package used up
    assert set(Package.objects.values_list("node_seconds_used", flat=True)) == {7200}
    # 4.5 node-hours each: 2 from the package, 2.5 at 2.00 = 5.00 from 100.00 less the package's 20.00.
    assert {BillingAccount.objects.get(pk=ws.account_id).balance for ws in workspaces} == {Decimal("75.00")}


def test_an_idle_account_is_not_written_and_joins_the_others_pass_when_it_runs_again():
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=8)
    busy, idle = WorkspaceFactory(), WorkspaceFactory()
    for ws in (busy, idle):
        ran(ws, pool, flavor, start="2023-04-01T00:00:00", end="2023-04-01T02:00:00", name="first")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    assert services.rate_usage(now=at("2023-04-02T00:00:00")) == 4
    first = UsageRecord.objects.order_by("pk").last().pk

    ran(busy, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T01:00:00", name="second")
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    assert services.rate_usage(now=at("2023-04-03T00:00:00")) == 1
    second = UsageRecord.objects.order_by("pk").last().pk
    assert BillingAccount.objects.get(pk=idle.account_id).rated_through_id == first  # untouched while idle

    for ws in (busy, idle):
        ran(ws, pool, flavor, start="2023-04-03T00:00:00", end="2023-04-03T03:00:00", name="third")
    services.meter_usage(now=at("2023-04-04T00:00:00"))
    assert services.rate_usage(now=at("2023-04-04T00:00:00")) == 6
    third = UsageRecord.objects.order_by("pk").last().pk
    # Both rated in one pass over (second, third]: the idle account had nothing in (first, second].
    for ws in (busy, idle):
        assert LedgerEntry.objects.filter(account=ws.account, key=f"usage:{ws.account_id}:{second + 1}-{third}",
                                          amount=-6).exists()
        assert BillingAccount.objects.get(pk=ws.account_id).rated_through_id == third
    assert balance(idle.account) == -10
    assert balance(busy.account) == -12


def test_what_charges_name_cannot_be_deleted(workspace):
    """Charges keep their references without database constraints and rated usage names them in
    its lines; the ORM still refuses to delete a package, a flavor or a workspace that were
    bought or used (their purchase charge and usage records hold them)."""
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor)
    fund(workspace.account, "1000.00")
    package = services.buy_package(account=workspace.account, offer=offer(node_hours=1, months=1),
                                   now=at("2023-04-01T00:00:00"))
    ran(workspace, pool, flavor, start="2023-04-01T10:00:00", end="2023-04-01T12:00:00")
    services.meter_usage(now=at("2023-04-02T00:00:00"))
    services.rate_usage()
    assert Charge.objects.filter(package=package).exists()
    assert {(line["package_id"], line["flavor_id"], line["workspace_id"]) for line in rated_lines(
        workspace.account)} == {(package.pk, flavor.pk, str(workspace.pk)), (None, flavor.pk, str(workspace.pk))}
    for instance in (package, flavor, workspace):
        with pytest.raises(ProtectedError):
            type(instance).objects.filter(pk=instance.pk).delete()
    assert Package.objects.filter(pk=package.pk).exists()

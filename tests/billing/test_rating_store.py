"""The rating store's statements, one round trip each: what a read gives equals what the ORM
reads of the same rows (the embedded database's path, which runs here too), and what a write
is given comes back field by field, by the hand-written statement and by the ORM's path alike."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing import rating, rating_store, services
from billing.models import BillingAccount, LedgerEntry, Notification, Package, PackageOffer, RatedUsage, UsageRecord
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.factories import WorkspaceFactory, make_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def metered(workspace):
    """Usage of two accounts: full hours, a start within an hour, a replica change (two records of
    one pod set, apart), on a public and a dedicated pool."""
    flavor = priced_cpu_flavor()
    pool, dedicated = public_pool(flavor), make_pool(name="dedicated-1", flavor=flavor, nodes=2, kind="dedicated",
                                                             account=workspace.account)
    other = WorkspaceFactory()
    ran(workspace, pool, flavor, "2023-04-10T00:00:00", "2023-04-10T05:00:00", name="steady")
    ran(workspace, pool, flavor, "2023-04-10T01:20:00", "2023-04-10T03:00:00", replicas=2, name="late")
    ran(workspace, dedicated, flavor, "2023-04-10T00:00:00", "2023-04-10T02:00:00", name="own")
    ran(other, pool, flavor, "2023-04-10T00:00:00", "2023-04-10T03:30:00", name="theirs")
    services.meter_usage(now=at("2023-04-11T00:00:00"))
    scaled = UsageRecord.objects.filter(workload__name="steady").order_by("started_at")[2]
    UsageRecord.objects.filter(pk=scaled.pk).update(replicas=3, node_seconds=3 * 3600)
    return workspace, other


def by_pod_set(summaries):
    return sorted(summaries, key=lambda s: (s.pod_set_id, s.replicas, s.node_seconds))


@pytest.mark.parametrize("whole_range", [False, True])
def test_summaries_come_back_as_the_orm_reads_them(metered, whole_range):
    workspace, other = metered
    through = UsageRecord.objects.order_by("-pk").values_list("pk", flat=True)[0]
    accounts = [str(workspace.account_id)]
    summaries = rating_store.read_summaries(account_ids=accounts, after=0, through=through, whole_range=whole_range)
    expected = rating_store._summaries_by_orm(accounts=set(accounts), after=0, through=through)
    assert by_pod_set(summaries) == by_pod_set(expected)
    assert {s.workload_name for s in summaries} == {"steady", "late", "own"}
    assert sum(s.records for s in summaries) == UsageRecord.objects.filter(account_id=workspace.account_id).count()
    steady = [s for s in summaries if s.workload_name == "steady"]
    assert sorted((s.replicas, s.records) for s in steady) == [(1, 4), (3, 1)]
    assert [s.dedicated for s in summaries if s.workload_name == "own"] == [True]
    assert all(isinstance(s.account_id, str) and s.account_id == accounts[0] for s in summaries)
    late = next(s for s in summaries if s.workload_name == "late" and s.node_seconds == 2 * 40 * 60)
    assert rating.moment(late.first) == at("2023-04-10T01:20:00")


def test_the_summaries_statement_names_the_summary_fields():
    with connection.cursor() as cursor:
        cursor.execute(rating_store.SUMMARIES.format(accounts=""), {"dedicated_kind": "dedicated", "after": 0,
                                                                     "through": 0})
        assert tuple(column.name for column in cursor.description) == rating.UsageSummary._fields


def test_records_come_back_one_by_one(metered):
    workspace, _ = metered
    steady = UsageRecord.objects.filter(workload__name="steady").order_by("started_at")
    records = rating_store.read_records(pod_set_ids={steady[0].pod_set_id}, account_ids=[str(workspace.account_id)],
                                        after=0, through=steady.last().pk)
    assert sorted(records, key=lambda r: r.started) == [
        rating.UsageRecordRow(pod_set_id=r.pod_set_id, flavor_id=r.flavor_id, dedicated=False,
                              started=rating.micros(r.started_at), node_seconds=r.node_seconds) for r in steady]


@pytest.mark.parametrize("insert", [rating_store.insert_new_notifications, rating_store._new_notifications_by_orm],
                         ids=["statement", "orm"])
def test_new_notifications_come_back_once_per_key(workspace, insert):
    account = str(workspace.account_id)
    first = [rating_store.Notice(account, "package_usage", "Subject \"quoted\"", "Line\twith\ttabs\n", "k:1"),
             rating_store.Notice(account, "arrears", "Ünïcode ✓", "{braces}, commas", "k:2")]
    with transaction.atomic():
        assert insert(notices=first, now=at("2023-04-10T00:00:00")) == {"k:1", "k:2"}
        again = [*first, rating_store.Notice(account, "arrears", "third", "", "k:3")]
        assert insert(notices=again, now=at("2023-04-11T00:00:00")) == {"k:3"}
    stored = {n.key: n for n in Notification.objects.all()}
    for notice in again:
        row = stored[notice.key]
        assert rating_store.Notice(str(row.account_id), row.kind, row.subject, row.message, row.key) == notice
    assert stored["k:1"].created_at == at("2023-04-10T00:00:00")


@pytest.mark.parametrize("postgresql", [True, False], ids=["statement", "orm"])
def test_rated_rows_come_back_field_by_field(workspace, postgresql):
    account = str(workspace.account_id)
    fund(workspace.account, "10")
    offer = PackageOffer.objects.create(name="cpu-10h", family="cpu", node_hours=10, price=Decimal("5"))
    package = Package.objects.create(account=workspace.account, offer=offer, family="cpu",
                                     node_seconds_total=36000, price=offer.price, valid_from=at("2023-04-01T00:00:00"),
                                     valid_until=at("2023-05-01T00:00:00"), purchased_at=at("2023-04-01T00:00:00"))
    created, now = at("2023-04-12T00:00:00"), at("2023-04-12T00:05:00")
    lines = [[str(workspace.pk), "w-1", "job\t\"one\"", [["2023-04-01", "pay_per_use", 1, None, "2.5000", 7200]]]]
    rated = rating_store.Rated(
        runs=[rating_store.RunRow(account, 10, 20, date(2023, 4, 1), date(2023, 4, 1), lines, Decimal("5.0000000001"),
                                  created)],
        entries=[rating_store.EntryRow(account, "pay_per_use", Decimal("-5.0000000001"), Decimal("-4.9999999989"),
                                       f"usage:{account}:11-20", "Pay-per-use of usage records 11–20", created)],
        deductions=[rating_store.Deduction(id=package.pk, used=1800)],
        moves=[rating_store.AccountMove(account, Decimal("-4.9999999989"), created)],
        warnings=[rating_store.Notice(account, "package_usage", "Package of cpu is 50% used", "…", "package:x:50")])
    write = rating_store.write_rated if postgresql else rating_store._write_by_orm
    with transaction.atomic():
        keys = write(rated=rating_store.prepare(rated) if postgresql else rated, through=20, now=now, notified_at=now)
    assert keys == {"package:x:50"}
    run = RatedUsage.objects.get(account_id=account)
    assert rating_store.RunRow(str(run.account_id), run.after, run.through, run.first_period, run.last_period,
                               run.lines, run.pay_per_use, run.created_at) == rated.runs[0]
    entry = LedgerEntry.objects.get(account_id=account, kind="pay_per_use")
    assert rating_store.EntryRow(str(entry.account_id), entry.kind, entry.amount, entry.balance_after, entry.key,
                                 entry.description, entry.created_at) == rated.entries[0]
    assert Package.objects.get(pk=package.pk).node_seconds_used == 1800
    billing = BillingAccount.objects.get(pk=account)
    assert (billing.balance, billing.arrears_since, billing.rated_through_id) == (Decimal("-4.9999999989"), created,
                                                                                  20)
    assert Notification.objects.get(key="package:x:50").subject == "Package of cpu is 50% used"


def test_every_unnest_takes_its_rows_fields():
    for row_type, types in rating_store._ARRAY_TYPES.items():
        assert tuple(types) == row_type._fields
        params = rating_store.arrays(row_type, "x", [])
        assert set(params) == {f"x_{field}" for field in row_type._fields}
        assert all(f"%({name})s" in rating_store._unnest(row_type, "x") for name in params)

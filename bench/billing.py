"""Rate 1,000,000 usage records across 1,000 accounts with packages, on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres aiplatform_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aiplatform_bench .venv/bin/python bench/billing.py [--data mixed]

Two data sets (`--data`), each with 10 finished workloads per account:
- uniform: 2 packages of 300 node-hours per account and 10 workloads of one flavor that ran the
  same 100 hours (1,000 node-hours), so 600 node-hours come from packages and 400 are
  pay-per-use; every account's pod sets run alike.
- mixed, as usage really comes: three flavors of three families at their own prices, workloads
  starting at random minutes of random hours over the month (a part hour first) and ending
  within an hour (a part hour last), a third of them changing their replica count midway, and
  per account a package of each family sized to run out partway through the month.
Prints the rating time and records/s next to the time of one plain SQL aggregate that computes
the same per-account totals (the floor), and checks that the two agree to the cent (a family's
packages are valid over all its usage, so usage beyond them is pay-per-use whatever its order).
Data is loaded with COPY; it needs an empty database (it migrates it first).

The records are rated `--rounds` times (5): after each round what rating wrote is taken back
(runs, usage ledger entries, warnings; packages, balances and cursors as loaded) and the tables
vacuumed, and before each round the database writes out what is dirty (CHECKPOINT), so that
neither rating nor the floor shares the cores with that. The first round reads the index from
the operating system's cache into PostgreSQL's; the median round is the figure."""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

import django  # noqa: E402

django.setup()

from common import host_speed  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from aiplatform.models import Account, Workspace  # noqa: E402
from aiplatform.process import tune_collector  # noqa: E402
from aiplatform.sql import copy_rows  # noqa: E402
from billing import rules, services  # noqa: E402
from billing.models import (  # noqa: E402
    BillingAccount,
    LedgerEntry,
    Notification,
    Package,
    PackageOffer,
    Price,
    RatedUsage,
    UsageRecord,
)
from resourcepools.models import Flavor, PodSet, ResourcePool, Workload  # noqa: E402

START = datetime(2023, 4, 10, tzinfo=UTC)
HOURLY = Decimal("2.3456")
WORKLOADS_PER_ACCOUNT = 10
PACKAGES_PER_ACCOUNT = 2
PACKAGE_HOURS = 300

# Each family has one flavor, so a family's usage beyond its packages has one price.
FLOOR_SQL = """
WITH used AS (
    SELECT account_id, family, flavor_id, SUM(node_seconds) AS node_seconds
    FROM billing_usagerecord GROUP BY account_id, family, flavor_id
), prepaid AS (
    SELECT account_id, family, SUM(node_seconds_total) AS node_seconds FROM billing_package
    GROUP BY account_id, family
)
SELECT used.account_id, SUM(GREATEST(used.node_seconds - COALESCE(prepaid.node_seconds, 0), 0)
                            * price.pay_per_use_hourly / 3600)
FROM used LEFT JOIN prepaid USING (account_id, family) JOIN billing_price price ON price.flavor_id = used.flavor_id
GROUP BY used.account_id
"""
USAGE_COLUMNS = ["key", "account_id", "workspace_id", "workload_id", "pod_set_id", "pool_id", "dedicated", "flavor_id",
                 "family", "replicas", "started_at", "ended_at", "node_seconds", "created_at"]
HOUR = timedelta(hours=1)
# The mixed data set's flavors: (name, family, pay-per-use price, package node-hours per account).
MIXED_FLAVORS = [("cpu.8u32g", "cpu", Decimal("2.3456"), 400), ("gpu.1a100", "gpu", Decimal("31.5000"), 150),
                 ("npu.1x910b", "npu", Decimal("18.2000"), 60)]


def load(accounts: int, records: int) -> None:
    hours = records // (accounts * WORKLOADS_PER_ACCOUNT)
    flavor = Flavor.objects.create(name="cpu.8u32g", family="cpu", vcpus=8, memory_gib=32)
    Price.objects.create(flavor=flavor, pay_per_use_hourly=HOURLY, monthly=Decimal("1750.00"),
                         yearly=Decimal("17500.00"), effective_from=START - timedelta(days=30))
    pool = ResourcePool.objects.create(name="bench-public", kind="public")
    offer = PackageOffer.objects.create(name="cpu-300h", family="cpu", node_hours=PACKAGE_HOURS, price=Decimal("500"))
    account_rows = Account.objects.bulk_create([Account(name=f"bench-{i}") for i in range(accounts)])
    workspaces = Workspace.objects.bulk_create([Workspace(account=a, name="main") for a in account_rows])
    BillingAccount.objects.bulk_create([BillingAccount(account=a, balance=Decimal("10000")) for a in account_rows])
    Package.objects.bulk_create([
        Package(account=a, offer=offer, family="cpu", node_seconds_total=PACKAGE_HOURS * 3600, price=offer.price,
                valid_from=START - timedelta(days=9) + timedelta(minutes=k), valid_until=START + timedelta(days=51 + k),
                purchased_at=START - timedelta(days=9))
        for a in account_rows for k in range(PACKAGES_PER_ACCOUNT)])
    workloads = Workload.objects.bulk_create([
        Workload(workspace=ws, pool=pool, name=f"job-{k}", phase="succeeded", started_at=START,
                 finished_at=START + timedelta(hours=hours))
        for ws in workspaces for k in range(WORKLOADS_PER_ACCOUNT)], batch_size=5000)
    pod_sets = PodSet.objects.bulk_create([
        PodSet(workload=w, name="worker", replicas=1, flavor=flavor, vcpus=8, memory_gib=32) for w in workloads],
        batch_size=5000)
    account_of = {ws.pk: ws.account_id for ws in workspaces}
    now = datetime.now(UTC).isoformat()

    def rows():
        for w, ps in zip(workloads, pod_sets, strict=True):
            for h in range(hours):
                start = START + timedelta(hours=h)
                yield (f"{ps.pk}:{start:%Y%m%d%H}", account_of[w.workspace_id], w.workspace_id, w.pk, ps.pk, pool.pk,
                       "f", flavor.pk, "cpu", 1, start.isoformat(), (start + timedelta(hours=1)).isoformat(), 3600,
                       now)

    with connection.cursor() as cursor:
        copy_rows(cursor, "billing_usagerecord", USAGE_COLUMNS, rows())


def load_mixed(accounts: int, records: int) -> None:
    """The mixed data set (see the module's docstring), from a fixed seed."""
    rng = random.Random(26)
    mean_hours = records // (accounts * WORKLOADS_PER_ACCOUNT)
    flavors = []
    for name, family, hourly, _ in MIXED_FLAVORS:
        flavor = Flavor.objects.create(name=name, family=family, vcpus=8, memory_gib=32)
        Price.objects.create(flavor=flavor, pay_per_use_hourly=hourly, monthly=Decimal("1750.00"),
                             yearly=Decimal("17500.00"), effective_from=START - timedelta(days=30))
        flavors.append(flavor)
    pool = ResourcePool.objects.create(name="bench-public", kind="public")
    offers = [PackageOffer.objects.create(name=f"{family}-{hours}h", family=family, node_hours=hours,
                                          price=Decimal("500")) for _, family, _, hours in MIXED_FLAVORS]
    account_rows = Account.objects.bulk_create([Account(name=f"bench-{i}") for i in range(accounts)])
    workspaces = Workspace.objects.bulk_create([Workspace(account=a, name="main") for a in account_rows])
    BillingAccount.objects.bulk_create([BillingAccount(account=a, balance=Decimal("10000")) for a in account_rows])
    Package.objects.bulk_create([
        Package(account=a, offer=offer, family=offer.family, node_seconds_total=offer.node_hours * 3600,
                price=offer.price, valid_from=START - timedelta(days=9), valid_until=START + timedelta(days=60),
                purchased_at=START - timedelta(days=9))
        for a in account_rows for offer in offers])
    runs = []  # (workspace, flavor, start, hours, replicas before, replicas after, hour of the change)
    for ws in workspaces:
        for _ in range(WORKLOADS_PER_ACCOUNT):
            start = START + rng.randrange(0, 20 * 24) * HOUR + timedelta(minutes=rng.choice([0, rng.randrange(60)]))
            hours = rng.randint(mean_hours // 5, 2 * mean_hours - mean_hours // 5)
            replicas = rng.choice([1, 1, 2, 4])
            change = rng.randrange(1, hours) if hours > 1 and rng.random() < 1 / 3 else None
            runs.append((ws, rng.choice(flavors), start, hours, replicas, rng.choice([1, 2, 3, 8]), change))
    workloads = Workload.objects.bulk_create([
        Workload(workspace=ws, pool=pool, name=f"job-{k}", phase="succeeded", started_at=start,
                 finished_at=start + timedelta(hours=hours, minutes=-rng.randrange(60)))
        for k, (ws, _, start, hours, *_) in enumerate(runs)], batch_size=5000)
    pod_sets = PodSet.objects.bulk_create([
        PodSet(workload=w, name="worker", replicas=run[5] if run[6] else run[4], flavor=run[1], vcpus=8, memory_gib=32)
        for w, run in zip(workloads, runs, strict=True)], batch_size=5000)
    now = datetime.now(UTC).isoformat()

    def rows():
        for w, ps, (ws, flavor, start, hours, before, after, change) in zip(workloads, pod_sets, runs, strict=True):
            hour = start.replace(minute=0)
            for h in range(hours + (1 if start.minute else 0)):
                piece_start, piece_end = max(hour + h * HOUR, start), min(hour + (h + 1) * HOUR, w.finished_at)
                if piece_end <= piece_start:
                    continue
                replicas = after if change is not None and h >= change else before
                yield (f"{ps.pk}:{piece_start:%Y%m%d%H}", ws.account_id, ws.pk, w.pk, ps.pk, pool.pk, "f", flavor.pk,
                       flavor.family, replicas, piece_start.isoformat(), piece_end.isoformat(),
                       replicas * int((piece_end - piece_start).total_seconds()), now)

    with connection.cursor() as cursor:
        copy_rows(cursor, "billing_usagerecord", USAGE_COLUMNS, rows())


def take_back() -> None:
    """Undo what rating wrote, so that the same records can be rated again."""
    with connection.cursor() as cursor:  # all that the loader wrote there is rating's
        cursor.execute(f"TRUNCATE {RatedUsage._meta.db_table}, {LedgerEntry._meta.db_table}, "
                       f"{Notification._meta.db_table}")
    Package.objects.update(node_seconds_used=0)
    BillingAccount.objects.update(rated_through_id=0, balance=Decimal("10000"), arrears_since=None)
    settle(tables=[Package._meta.db_table, BillingAccount._meta.db_table])


def settle(tables=()) -> None:
    """Vacuum the tables (all of them, and analyse them, after loading) and write out what is
    dirty. After loading: the loader's rows visible to all (hint bits set) and counted, as metered
    usage is by the time it is rated. Between rounds only what rating rewrote is vacuumed, as
    autovacuum would: the records are as the last round left them, and so are the caches."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(tables)}" if tables else "VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


def one_round() -> tuple[int, float, float]:
    """Rate everything as a Celery worker does; then time the floor and check the totals."""
    started = time.perf_counter()
    rated = services.rate_usage()
    rating = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL)
        floor_totals = {account_id: Decimal(total) for account_id, total in cursor.fetchall()}
    floor = time.perf_counter() - started
    charged = {account_id: -total for account_id, total in LedgerEntry.objects.filter(kind="pay_per_use")
               .values_list("account_id", "amount")}
    mismatched = [a for a, total in floor_totals.items()
                  if rules.money(charged.get(a, Decimal(0))) != rules.money(total)]
    if mismatched:
        sys.exit(f"mismatch in {len(mismatched)} accounts, e.g. {mismatched[0]}")
    print(f"  rated {rated:,} records in {rating:.3f} s = {rated / rating:,.0f} records/s; floor {floor:.3f} s; "
          f"rating / floor = {rating / floor:.2f}x; totals agree to the cent for {len(floor_totals):,} accounts "
          f"({rules.money(sum(charged.values())):,} CNY)")
    return rated, rating, floor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", choices=["uniform", "mixed"], default="uniform")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run it on PostgreSQL: set DATABASE_URL.")
    call_command("migrate", verbosity=0)
    if UsageRecord.objects.exists():
        sys.exit("The database already holds usage records; give an empty one.")
    started = time.perf_counter()
    (load_mixed if args.data == "mixed" else load)(args.accounts, args.records)
    records = UsageRecord.objects.count()
    settle()
    print(f"loaded {records:,} usage records ({args.data}) for {args.accounts:,} accounts in "
          f"{time.perf_counter() - started:.1f} s")

    tune_collector()  # as a Celery worker process does when it starts
    rounds = []
    for number in range(args.rounds):
        if number:
            take_back()
        rounds.append(one_round())
    rated = rounds[0][0]
    rating, floor = statistics.median(r[1] for r in rounds), statistics.median(r[2] for r in rounds)
    ratio = statistics.median(r[1] / r[2] for r in rounds)
    print(f"median of {len(rounds)} rounds: rated {rated:,} records in {rating:.3f} s = {rated / rating:,.0f} "
          f"records/s; floor (one SQL aggregate of the same totals) {floor:.3f} s; rating / floor = {ratio:.2f}x "
          f"(rounds {min(r[1] / r[2] for r in rounds):.2f}–{max(r[1] / r[2] for r in rounds):.2f}x); "
          f"host speed {host_speed()} (lower is faster)")


if __name__ == "__main__":
    main()

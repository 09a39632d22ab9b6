"""Rating from summaries: runs of identical hours taken in steps, pod sets that run alike taken in
pod set order, give exactly what taking every record in turn (started_at, then pod set) gives —
checked by hand and on random usage."""

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from billing import rating, rules
from billing.models import ChargeMode
from tests.billing.helpers import at

HOUR = timedelta(hours=1)
APRIL = date(2023, 4, 1)


@dataclass
class Record:
    pod_set_id: int
    flavor_id: int
    family: str
    dedicated: bool
    started_at: datetime
    node_seconds: int
    replicas: int = 1


def summarised(records: list[Record], rng: random.Random | None = None) -> list[rating.Usage]:
    """What rating reads: the summaries selectors.usage_to_rate gives (a summary per pod set,
    replicas and node-seconds), made usages (rating.gather); then the records of the pod sets whose
    summaries are not all runs, one by one, as services.usage_rating._rate_accounts adds them. The database
    gives both in no particular order: with `rng`, they come shuffled."""
    groups = defaultdict(list)
    for r in records:
        groups[(r.pod_set_id, r.flavor_id, r.family, r.dedicated, r.replicas, r.node_seconds)].append(r)
    summaries = [rating.UsageSummary(
        pod_set_id=pod_set_id, flavor_id=flavor_id, dedicated=dedicated, replicas=replicas, node_seconds=node_seconds,
        records=len(mine), first=rating.micros(min(r.started_at for r in mine)),
        last=rating.micros(max(r.started_at for r in mine)), family=family, account_id="account",
        workspace_id="workspace", workload_id=f"workload-{pod_set_id}", workload_name="job")
                 for (pod_set_id, flavor_id, family, dedicated, replicas, node_seconds), mine in groups.items()]
    records = list(records)
    if rng is not None:
        rng.shuffle(summaries)
        rng.shuffle(records)
    usages, _, scattered, _ = rating.gather(summaries)
    for r in records:
        if r.pod_set_id in scattered:
            usages["account"].append(rating.Usage.of_record(rating.UsageRecordRow(
                pod_set_id=r.pod_set_id, flavor_id=r.flavor_id, dedicated=r.dedicated,
                started=rating.micros(r.started_at), node_seconds=r.node_seconds), r.family))
    return usages["account"]


def one_by_one(records, packages, prices, first_open):
    """The definition: every record in turn, from the packages valid when it started."""
    lines = defaultdict(lambda: defaultdict(int))
    for r in sorted(records, key=lambda r: (r.started_at, r.pod_set_id)):
        period = max(rules.month_start(r.started_at), first_open)
        if r.dedicated and r.node_seconds:
            lines[r.pod_set_id][(period, ChargeMode.SUBSCRIPTION, Decimal(0), None)] += r.node_seconds
        if r.dedicated:
            continue
        taken, left = rules.deduct(packages=packages, family=r.family, at=r.started_at, node_seconds=r.node_seconds)
        for package, amount in taken:
            lines[r.pod_set_id][(period, ChargeMode.PACKAGE, Decimal(0), package.id)] += amount
        if left:
            hourly = prices.hourly(r.flavor_id, rating.micros(r.started_at))
            lines[r.pod_set_id][(period, ChargeMode.PAY_PER_USE, hourly, None)] += left
    return {pod_set_id: dict(charges) for pod_set_id, charges in lines.items()}


def hours(pod_set_id, start, count, replicas=1, flavor_id=1, family="cpu", dedicated=False):
    return [Record(pod_set_id, flavor_id, family, dedicated, at(start) + k * HOUR, replicas * 3600, replicas)
            for k in range(count)]


def package(pk, valid_from, valid_until, node_hours, family="cpu", bought="2023-03-01T00:00:00"):
    return rules.PackageBalance(pk, family, at(valid_from), at(valid_until), at(bought), node_hours * 3600, 0)


PRICES = rating.PricesInForce({1: [(at("2023-01-01T00:00:00"), Decimal("2.0000"))],
                               2: [(at("2023-01-01T00:00:00"), Decimal("5.0000"))]})


def test_a_run_is_read_as_one_usage_and_a_gap_as_records():
    run = summarised(hours(1, "2023-04-10T00:00:00", 100))
    assert [(u.count, u.node_seconds, u.end) for u in run] == [(100, 3600, rating.micros(at("2023-04-14T04:00:00")))]
    gap = hours(2, "2023-04-10T00:00:00", 2) + hours(2, "2023-04-10T05:00:00", 1)
    assert [u.count for u in summarised(gap)] == [1, 1, 1]
    # Started at 00:30, stopped at 04:15: the part hours apart, the full hours one run.
    part = ([Record(3, 1, "cpu", False, at("2023-04-10T00:30:00"), 2 * 1800, 2)]
            + hours(3, "2023-04-10T01:00:00", 3, replicas=2)
            + [Record(3, 1, "cpu", False, at("2023-04-10T04:00:00"), 2 * 900, 2)])
    assert sorted((u.count, u.node_seconds) for u in summarised(part)) == [(1, 1800), (1, 3600), (3, 7200)]
    # A part hour worth a full hour at other replicas is not taken for one.
    mixed = hours(4, "2023-04-10T01:00:00", 1) + [Record(4, 1, "cpu", False, at("2023-04-10T02:30:00"), 3600, 2)]
    assert sorted(u.first for u in summarised(mixed)) == [rating.micros(at("2023-04-10T01:00:00")),
                                                          rating.micros(at("2023-04-10T02:30:00"))]


def test_packages_run_out_within_an_hour_in_pod_set_order():
    records = hours(7, "2023-04-10T00:00:00", 10) + hours(3, "2023-04-10T00:00:00", 10, replicas=2)
    packages = [package(1, "2023-04-01T00:00:00", "2023-05-01T00:00:00", 10),
                package(2, "2023-04-01T00:00:00", "2023-06-01T00:00:00", 5)]
    lines = rating.rate(usages=summarised(records), packages=packages, prices=PRICES, first_open=APRIL)
    # 3 node-hours an hour: package 1 lasts 3 hours and a third; pod set 3 (2 nodes) comes first
    # in the fourth hour and takes its last node-hour, pod set 7 the first of package 2.
    assert lines == {
        3: {(APRIL, ChargeMode.PACKAGE, 0, 1): 7 * 3600, (APRIL, ChargeMode.PACKAGE, 0, 2): 3 * 3600,
            (APRIL, ChargeMode.PAY_PER_USE, Decimal("2.0000"), None): 10 * 3600},
        7: {(APRIL, ChargeMode.PACKAGE, 0, 1): 3 * 3600, (APRIL, ChargeMode.PACKAGE, 0, 2): 2 * 3600,
            (APRIL, ChargeMode.PAY_PER_USE, Decimal("2.0000"), None): 5 * 3600}}
    assert [p.used for p in packages] == [10 * 3600, 5 * 3600]


@pytest.mark.parametrize("seed", range(300))
def test_equals_taking_every_record_in_turn(seed):
    rng = random.Random(seed)
    start = at("2023-04-28T00:00:00")
    records, pod_set_id = [], 0
    for _ in range(rng.randint(1, 12)):
        pod_set_id += rng.randint(1, 3)
        if pod_set_id < 4 or rng.random() < 0.6:  # else a pod set alike the one before
            flavor_id = rng.choice([1, 1, 2])
            family = {1: "cpu", 2: rng.choice(["cpu", "gpu"])}[flavor_id]
            dedicated = rng.random() < 0.15
            replicas = rng.randint(1, 3)
            first = start + rng.randint(0, 200) * HOUR
            count = rng.randint(1, 120)
        for k in range(count):
            if rng.random() < 0.03:
                continue  # a gap: the workload was not running that hour
            now_replicas = replicas if rng.random() > 0.05 else rng.randint(0, 3)  # scaled for a while
            seconds = now_replicas * 3600
            moment = first + k * HOUR
            if k == 0 and rng.random() < 0.3:
                moment += timedelta(minutes=rng.randint(1, 59))  # started mid-hour
                seconds = now_replicas * int((first + HOUR - moment).total_seconds())
            elif k == count - 1 and rng.random() < 0.3:
                seconds = now_replicas * rng.randint(60, 3599)  # stopped mid-hour
            records.append(Record(pod_set_id, flavor_id, family, dedicated, moment, seconds, now_replicas))
    packages = []
    for pk in range(1, rng.randint(1, 5)):
        valid_from = start + timedelta(minutes=rng.randint(-3000, 9000))
        packages.append(rules.PackageBalance(
            pk, rng.choice(["cpu", "cpu", "gpu"]), valid_from, valid_from + timedelta(minutes=rng.randint(30, 12000)),
            start - timedelta(days=rng.randint(0, 3)), rng.randint(1, 150) * 3600 + rng.randint(0, 3599),
            rng.choice([0, 0, rng.randint(0, 3600)])))
    packages = rules.deduction_order([p for p in packages if p.used <= p.total])
    prices = rating.PricesInForce({
        1: [(start - timedelta(days=30), Decimal("2.3456")), (start + timedelta(minutes=rng.randint(0, 9000)),
                                                              Decimal("3.1000"))],
        2: [(start + timedelta(minutes=rng.randint(-100, 5000)), Decimal("17.0000"))]})
    first_open = rng.choice([APRIL, date(2023, 5, 1)])
    expected_packages = [rules.PackageBalance(**vars(p)) for p in packages]

    expected = one_by_one(records, expected_packages, prices, first_open)
    lines = rating.rate(usages=summarised(records, rng), packages=packages, prices=prices, first_open=first_open)
    assert lines == expected
    assert [p.used for p in packages] == [p.used for p in expected_packages]

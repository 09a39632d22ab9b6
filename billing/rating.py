"""Pay-per-use rating of one account's usage, from summaries instead of one object per record.

Metering writes a record per pod set per clock hour, so a pod set's unrated usage is almost
always a run of identical records, one every hour (full hours at a steady replica count); it
is read as one `Usage` of `count` records, and anything else as its single records. Usage is
taken from packages in the order it started (usage that started at the same moment in the
order of its pod set), soonest-expiring package first. Between two moments at which something
changes (a run starts or ends, a package becomes valid or expires, a price changes, a month
begins) every hour is the same, so whole hours are taken in one step; only the hour in which a
package runs out is taken record by record. The result equals taking every record in turn.

Moments are microseconds since the epoch (UTC): rating adds, compares, sorts and hashes them
for every run and interval, which integers do several times faster than aware datetimes."""

import heapq
import itertools
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from . import rules

HOUR = 3_600_000_000
ZERO = Decimal(0)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# ChargeMode's values, as the plain strings they equal.
PACKAGE, PAY_PER_USE, SUBSCRIPTION = "package", "pay_per_use", "subscription"



class UsageSummary(NamedTuple):
    """A pod set's usage records of one replica count and node-seconds, summed up, with its
    owners (rating_store.read_summaries). Ids of accounts, workspaces and workloads are text."""

    pod_set_id: int
    flavor_id: int
    dedicated: bool
    replicas: int
    node_seconds: int
    records: int
    first: int  # the first record's start, on rating's clock
    last: int  # the last record's start
    family: str
    account_id: str
    workspace_id: str
    workload_id: str
    workload_name: str


class UsageRecordRow(NamedTuple):
    """One usage record of a pod set whose records are read one by one (rating_store.read_records)."""

    pod_set_id: int
    flavor_id: int
    dedicated: bool
    started: int  # on rating's clock
    node_seconds: int


class ChargeKey(NamedTuple):
    """What a pod set's node-seconds are charged as: in a month, by a mode, at a unit price (per
    node-hour; zero for packages and subscriptions), from a package (None: from none)."""

    period: date
    mode: str
    unit_price: Decimal
    package_id: int | None


# {pod set id: {ChargeKey: node-seconds}}: what rating charged each pod set (it has one flavor).
Charges = dict[int, dict[ChargeKey, int]]


def micros(moment: datetime) -> int:
    """An aware moment as rating's clock reads it."""
    return (moment - EPOCH) // _MICROSECOND


def moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def month_start(micros: int) -> date:
    day = moment(micros)
    return date(day.year, day.month, 1)


class Usage:
    """`count` usage records of a pod set, of `node_seconds` each, started at `first` (µs) and
    then every hour; a run of more than one starts on the hour. `charges` collects what it is
    charged as it is rated."""

    __slots__ = ("pod_set_id", "flavor_id", "family", "dedicated", "first", "count", "node_seconds", "on_the_hour",
                 "end", "charges")

    def __init__(self, *, pod_set_id: int, flavor_id: int, family: str, dedicated: bool, first: int, count: int,
                 node_seconds: int):
        self.pod_set_id = pod_set_id
        self.flavor_id = flavor_id
        self.family = family
        self.dedicated = dedicated
        self.first = first
        self.count = count
        self.node_seconds = node_seconds
        self.on_the_hour = not first % HOUR
        self.end = first + count * HOUR if self.on_the_hour else first + 1
        self.charges = None

    @classmethod
    def of_run(cls, summary: UsageSummary) -> "Usage":
        return cls(pod_set_id=summary.pod_set_id, flavor_id=summary.flavor_id, family=summary.family,
                   dedicated=summary.dedicated, first=summary.first, count=summary.records,
                   node_seconds=summary.node_seconds)

    @classmethod
    def of_record(cls, record: UsageRecordRow, family: str) -> "Usage":
        return cls(pod_set_id=record.pod_set_id, flavor_id=record.flavor_id, family=family,
                   dedicated=record.dedicated, first=record.started, count=1, node_seconds=record.node_seconds)


def is_run(*, replicas: int, node_seconds: int, count: int, first: int, last: int) -> bool:
    """Whether records of the same pod set, replicas and node-seconds (`count` of them, started
    from `first` to `last`) are one run: when they are not (several part hours, or full hours with
    a gap) they are read one by one. Full hours (replicas × 3,600 node-seconds) each fill a whole
    clock hour."""
    return count == 1 or (node_seconds == replicas * 3600 and last - first == (count - 1) * HOUR)


def gather(summaries: list[UsageSummary]) -> tuple[dict[str, list[Usage]], dict[int, UsageSummary],
                                                  dict[int, UsageSummary], int]:
    """The accounts' usage as rating takes it, from the summaries: {account id: [Usage]} of the
    pod sets whose summaries are all runs, the summaries' pod sets {pod set id: a summary of it
    (its flavor and owners)}, the other pod sets, whose records must be read one by one
    (Usage.of_record), and the records summed up."""
    scattered = {s.pod_set_id: s for s in summaries if not is_run(
        replicas=s.replicas, node_seconds=s.node_seconds, count=s.records, first=s.first, last=s.last)}
    usages = defaultdict(list)
    for summary in summaries:
        if summary.pod_set_id not in scattered:
            usages[summary.account_id].append(Usage.of_run(summary))
    return usages, {s.pod_set_id: s for s in summaries}, scattered, sum(s.records for s in summaries)


class PricesInForce:
    """Pay-per-use prices of flavors over time: `changes[flavor]` is [(effective_from, hourly)]
    in time order. Before its first price a flavor costs its first price."""

    def __init__(self, changes: dict[int, list[tuple[datetime, Decimal]]]):
        self.changes = changes
        self._since = {flavor_id: [micros(since) for since, _ in mine] for flavor_id, mine in changes.items()}
        self._hourly = {flavor_id: [hourly for _, hourly in mine] for flavor_id, mine in changes.items()}

    def hourly(self, flavor_id, at: int) -> Decimal | None:
        since = self._since.get(flavor_id)
        if not since:
            return None
        return self._hourly[flavor_id][max(bisect_right(since, at) - 1, 0)]

    def change_times(self, flavor_id) -> list[int]:
        return self._since.get(flavor_id, [])


def rate(*, usages: list[Usage], packages: list[rules.PackageBalance], prices: PricesInForce,
         first_open: date) -> Charges:
    """What one account's usage is charged, per pod set. `packages` are the account's, in
    deduction order; their `used` grows as usage is taken from them. Usage of a month whose bill
    has closed goes on the first open month (`first_open`)."""
    streams = defaultdict(list)
    for usage in usages:
        usage.charges = defaultdict(int)
        streams[(usage.dedicated, "" if usage.dedicated else usage.family)].append(usage)
    charges = {}
    for (dedicated, family), stream in streams.items():
        mine = [] if dedicated else [_Package(p) for p in packages if p.family == family]
        _Stream(stream, dedicated, mine, prices, first_open).rate()
        for usage in stream:
            if not usage.charges:
                continue
            if usage.pod_set_id not in charges:
                charges[usage.pod_set_id] = usage.charges
                continue
            for key, seconds in usage.charges.items():  # a pod set with several usages: summed
                charges[usage.pod_set_id][key] += seconds
    return charges


class _Package:
    """A package's validity on rating's clock, beside the balance it deducts from."""

    __slots__ = ("balance", "valid_from", "valid_until")

    def __init__(self, balance: rules.PackageBalance):
        self.balance = balance
        self.valid_from = micros(balance.valid_from)
        self.valid_until = micros(balance.valid_until)


def _pod_set(usage: Usage) -> int:
    return usage.pod_set_id


class _Stream:
    """The usage that may draw on the same packages: one flavor family on public pools, or
    everything on dedicated pools (paid by subscription, never by package)."""

    def __init__(self, usages, dedicated, packages, prices, first_open):
        self.usages = usages
        self.dedicated = dedicated
        self.runs = sorted((u for u in usages if u.on_the_hour), key=lambda u: u.first)
        # Records that started within an hour (a workload starting mid-hour), by that moment.
        self.singles = defaultdict(list)
        for usage in usages:
            if not usage.on_the_hour:
                self.singles[usage.first].append(usage)
        self.packages = packages
        self.prices = prices
        self.first_open = first_open

    def breakpoints(self) -> list[int]:
        start = min(u.first for u in self.usages)
        stop = max(u.end for u in self.usages)
        points = {u.first for u in self.usages} | {u.end for u in self.usages}
        for package in self.packages:
            points.add(package.valid_from)
            points.add(package.valid_until)
        for flavor_id in {u.flavor_id for u in self.usages}:
            points.update(self.prices.change_times(flavor_id))
        month = month_start(start)
        while (at := micros(datetime(month.year, month.month, 1, tzinfo=UTC))) <= stop:
            points.add(at)
            month = date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
        return sorted(p for p in points if start <= p <= stop)

    def rate(self) -> None:
        """Sweep the moments at which something changes. Runs start and end at breakpoints, so
        within [a, b) the same runs are active at every hour."""
        waiting, ends, ordered = 0, [], None
        active = {}  # the runs under way, by their place in self.runs
        runs = self.runs
        for a, b in itertools.pairwise(self.breakpoints()):
            while waiting < len(runs) and runs[waiting].first <= a:
                active[waiting] = runs[waiting]
                heapq.heappush(ends, (runs[waiting].end, waiting))
                waiting, ordered = waiting + 1, None
            while ends and ends[0][0] <= a:
                del active[heapq.heappop(ends)[1]]
                ordered = None
            hour = a if not a % HOUR else a - a % HOUR + HOUR
            hours = -((hour - b) // HOUR) if active and hour < b else 0
            singles = self.singles.get(a)
            if not (hours or singles):
                continue
            self.valid = [p.balance for p in self.packages if p.valid_from <= a and p.valid_until >= b]
            self.period = max(month_start(a), self.first_open)
            self.at = a
            for usage in sorted(singles or (), key=_pod_set):
                self.take(usage, usage.node_seconds)
            if hours:
                if ordered is None:
                    ordered = sorted(active.values(), key=_pod_set)
                self.take_hours(ordered, hours)

    def take_hours(self, runs: list[Usage], hours: int) -> None:
        """`hours` identical hours of the runs (in pod set order): whole hours from the package in
        front, and the hour in which it runs out record by record."""
        per_hour = sum(u.node_seconds for u in runs)
        while hours:
            front = next((p for p in self.valid if p.used < p.total), None)
            if front is None or per_hour == 0:
                self.charge(runs, hours)
                return
            whole = min(hours, (front.total - front.used) // per_hour)
            if whole:
                key = ChargeKey(self.period, PACKAGE, ZERO, front.id)
                for usage in runs:
                    if usage.node_seconds:
                        usage.charges[key] += whole * usage.node_seconds
                front.used += whole * per_hour
                hours -= whole
                continue  # the front may be used up exactly; then the next one takes whole hours too
            for usage in runs:
                self.take(usage, usage.node_seconds)
            hours -= 1

    def take(self, usage: Usage, node_seconds: int) -> None:
        """One record: from the packages valid over the interval, in deduction order (rules.deduct;
        only the hour a package runs out and records started within an hour come here); the rest
        charged."""
        taken, left = rules.deduct(packages=self.valid, family=usage.family, at=moment(self.at),
                                   node_seconds=node_seconds)
        for package, amount in taken:
            usage.charges[ChargeKey(self.period, PACKAGE, ZERO, package.id)] += amount
        if left:
            self.charge((usage,), 1, left)

    def charge(self, usages, hours: int, node_seconds: int | None = None) -> None:
        """`hours` hours of the usages beyond the packages (of `node_seconds` each, when given)."""
        if self.dedicated:
            key = ChargeKey(self.period, SUBSCRIPTION, ZERO, None)
            for usage in usages:
                if seconds := hours * (node_seconds or usage.node_seconds):
                    usage.charges[key] += seconds
            return
        hourly, flavor_id = self.prices.hourly, None
        for usage in usages:
            if seconds := hours * (node_seconds or usage.node_seconds):
                if usage.flavor_id != flavor_id:
                    flavor_id = usage.flavor_id
                    key = ChargeKey(self.period, PAY_PER_USE, hourly(flavor_id, self.at), None)
                usage.charges[key] += seconds

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
from collections import Counter, defaultdict
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


class Charged(NamedTuple):
    """What some pod sets were charged, alike for each of them: {(period, mode, unit price,
    package id): node-seconds}. A pod set has one flavor, and is in one Charged of a rating."""

    pod_set_ids: tuple[int, ...]
    charges: dict[tuple, int]


def micros(moment: datetime) -> int:
    """An aware moment as rating's clock reads it."""
    return (moment - EPOCH) // _MICROSECOND


def moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def month_start(micros: int) -> date:
    day = moment(micros)
    return date(day.year, day.month, 1)


class Usage:
    """`count` usage records of each of some pod sets, of `node_seconds` each, started at `first`
    (µs) and then every hour; a run of more than one starts on the hour. Pod sets whose runs are
    alike (the same flavor, pool kind, start, count and node-seconds) are gathered in one Usage:
    every hour treats them the same, and so do their `charges` (each pod set's), until a package
    runs out within an hour; then they are taken one by one, in pod set order."""

    __slots__ = ("pod_set_ids", "flavor_id", "family", "dedicated", "first", "count", "node_seconds", "on_the_hour",
                 "end", "charges", "parts")

    def __init__(self, pod_set_ids: list[int], flavor_id: int, family: str, dedicated: bool, first: int, count: int,
                 node_seconds: int):
        self.pod_set_ids = pod_set_ids
        self.flavor_id = flavor_id
        self.family = family
        self.dedicated = dedicated
        self.first = first
        self.count = count
        self.node_seconds = node_seconds
        self.on_the_hour = not first % HOUR
        self.end = first + count * HOUR if self.on_the_hour else first + 1
        self.charges = None
        self.parts = None  # its pod sets' usages, one each, once a package ran out within an hour

    def one(self, pod_set_id: int) -> "Usage":
        """One pod set of gathered usage, with what it was charged so far."""
        usage = Usage([pod_set_id], self.flavor_id, self.family, self.dedicated, self.first, self.count,
                      self.node_seconds)
        usage.charges = defaultdict(int, self.charges)
        return usage


def is_run(*, replicas: int, node_seconds: int, count: int, first: int, last: int) -> bool:
    """Whether records of the same pod set, replicas and node-seconds (`count` of them, started
    from `first` to `last`) are one run: when they are not (several part hours, or full hours with
    a gap) they are read one by one. Full hours (replicas × 3,600 node-seconds) each fill a whole
    clock hour."""
    return count == 1 or (node_seconds == replicas * 3600 and last - first == (count - 1) * HOUR)


class Gathering:
    """An account's usages as rating takes them, pod sets with alike runs gathered (Usage)."""

    def __init__(self):
        self.usages: list[Usage] = []
        self._runs = {}

    def add(self, pod_set_id: int, flavor_id: int, family: str, dedicated: bool, first: int, count: int,
            node_seconds: int) -> None:
        """A run of a pod set's usage (is_run), or one of its records."""
        if first % HOUR:  # started within an hour: taken at that moment, in pod set order
            self.usages.append(Usage([pod_set_id], flavor_id, family, dedicated, first, count, node_seconds))
            return
        key = (flavor_id, family, dedicated, first, count, node_seconds)
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = Usage([pod_set_id], flavor_id, family, dedicated, first, count, node_seconds)
            self.usages.append(run)
        else:
            run.pod_set_ids.append(pod_set_id)

    def drop(self, pod_set_ids) -> None:
        """Leave out what was added of these pod sets."""
        kept = []
        for usage in self.usages:
            usage.pod_set_ids = [p for p in usage.pod_set_ids if p not in pod_set_ids]
            if usage.pod_set_ids:
                kept.append(usage)
        self.usages = kept
        self._runs = {key: run for key, run in self._runs.items() if run.pod_set_ids}


def gather(summaries: list[UsageSummary]) -> tuple[dict, dict, dict, int]:
    """The accounts' usage as rating takes it, from the summaries: {account id: Gathering}, the
    summaries' pod sets {pod set id: a summary of it (its flavor and owners)}, those of them whose
    records must be read one by one, and the records summed up."""
    pod_sets, scattered, records = {}, {}, 0
    gatherings = defaultdict(Gathering)
    for summary in summaries:
        records += summary.records
        pod_sets[summary.pod_set_id] = summary
        if is_run(replicas=summary.replicas, node_seconds=summary.node_seconds, count=summary.records,
                  first=summary.first, last=summary.last):
            gatherings[summary.account_id].add(summary.pod_set_id, summary.flavor_id, summary.family,
                                               summary.dedicated, summary.first, summary.records,
                                               summary.node_seconds)
        else:
            scattered[summary.pod_set_id] = summary
    for account_id in {summary.account_id for summary in scattered.values()}:
        gatherings[account_id].drop(scattered)  # runs of theirs gathered before they were found scattered
    return gatherings, pod_sets, scattered, records


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
         first_open: date) -> list[Charged]:
    """What one account's usage is charged. `packages` are the account's, in deduction order;
    their `used` grows as usage is taken from them. Usage of a month whose bill has closed goes
    on the first open month (`first_open`). Pod sets whose usage was gathered, and treated alike,
    come as one Charged; a pod set with several usages has one of its own, their charges summed."""
    streams = defaultdict(list)
    for usage in usages:
        usage.charges = defaultdict(int)
        streams[(usage.dedicated, "" if usage.dedicated else usage.family)].append(usage)
    rated = []
    for (dedicated, family), stream in streams.items():
        mine = [] if dedicated else [_Package(p) for p in packages if p.family == family]
        rated += _Stream(stream, dedicated, mine, prices, first_open).rate()
    charged = [usage for usage in rated if usage.charges]
    usages_of = Counter(pod_set_id for usage in charged for pod_set_id in usage.pod_set_ids)
    result, summed = [], defaultdict(lambda: defaultdict(int))
    for usage in charged:
        alone = tuple(pod_set_id for pod_set_id in usage.pod_set_ids if usages_of[pod_set_id] == 1)
        if alone:
            result.append(Charged(alone, usage.charges))
        for pod_set_id in usage.pod_set_ids:
            if usages_of[pod_set_id] > 1:
                for key, seconds in usage.charges.items():
                    summed[pod_set_id][key] += seconds
    return result + [Charged((pod_set_id,), charges) for pod_set_id, charges in summed.items()]


class _Package:
    """A package's validity on rating's clock, beside the balance it deducts from."""

    __slots__ = ("balance", "valid_from", "valid_until")

    def __init__(self, balance: rules.PackageBalance):
        self.balance = balance
        self.valid_from = micros(balance.valid_from)
        self.valid_until = micros(balance.valid_until)


def _first_pod_set(usage: Usage) -> int:
    return usage.pod_set_ids[0]


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

    def rate(self) -> list[Usage]:
        """Sweep the moments at which something changes. Runs start and end at breakpoints, so
        within [a, b) the same runs are active at every hour. Returns the usages as rated: the
        gathered ones that had to be taken apart replaced by their parts."""
        waiting, ends, ordered = 0, [], None
        self.active = {}  # the runs under way, by their place in self.runs: [usage] or its parts
        runs = self.runs
        for a, b in itertools.pairwise(self.breakpoints()):
            while waiting < len(runs) and runs[waiting].first <= a:
                self.active[waiting] = [runs[waiting]]
                heapq.heappush(ends, (runs[waiting].end, waiting))
                waiting, ordered = waiting + 1, None
            while ends and ends[0][0] <= a:
                del self.active[heapq.heappop(ends)[1]]
                ordered = None
            hour = a if not a % HOUR else a - a % HOUR + HOUR
            hours = -((hour - b) // HOUR) if self.active and hour < b else 0
            singles = self.singles.get(a)
            if not (hours or singles):
                continue
            self.valid = [p.balance for p in self.packages if p.valid_from <= a and p.valid_until >= b]
            self.period = max(month_start(a), self.first_open)
            self.at = a
            for usage in sorted(singles or (), key=_first_pod_set):
                self.take(usage, usage.node_seconds)
            if hours:
                if ordered is None:
                    ordered = sorted((u for mine in self.active.values() for u in mine), key=_first_pod_set)
                ordered = self.take_hours(ordered, hours)
        return [part for usage in self.usages for part in (usage.parts or (usage,))]

    def take_hours(self, runs: list[Usage], hours: int) -> list[Usage]:
        """`hours` identical hours of the runs: whole hours from the package in front, and the
        hour in which it runs out record by record. Returns the runs, taken apart if they had
        to be for that."""
        per_hour = sum(u.node_seconds * len(u.pod_set_ids) for u in runs)
        while hours:
            front = next((p for p in self.valid if p.used < p.total), None)
            if front is None or per_hour == 0:
                self.charge(runs, hours)
                return runs
            whole = min(hours, (front.total - front.used) // per_hour)
            if whole:
                key = (self.period, PACKAGE, ZERO, front.id)
                for usage in runs:
                    if usage.node_seconds:
                        usage.charges[key] += whole * usage.node_seconds
                front.used += whole * per_hour
                hours -= whole
                continue  # the front may be used up exactly; then the next one takes whole hours too
            if len(runs) < sum(len(u.pod_set_ids) for u in runs):
                runs = self.take_apart()
            for usage in runs:
                self.take(usage, usage.node_seconds)
            hours -= 1
        return runs

    def take_apart(self) -> list[Usage]:
        """The runs under way, pod set by pod set, in pod set order."""
        for place, mine in self.active.items():
            if len(mine) == 1 and len(mine[0].pod_set_ids) > 1:
                self.active[place] = mine[0].parts = [mine[0].one(pod_set_id) for pod_set_id in mine[0].pod_set_ids]
        return sorted((u for mine in self.active.values() for u in mine), key=_first_pod_set)

    def take(self, usage: Usage, node_seconds: int) -> None:
        """One record: from the packages valid over the interval, in deduction order (rules.deduct;
        only the hour a package runs out and records started within an hour come here); the rest
        charged."""
        taken, left = rules.deduct(packages=self.valid, family=usage.family, at=moment(self.at),
                                   node_seconds=node_seconds)
        for package, amount in taken:
            usage.charges[(self.period, PACKAGE, ZERO, package.id)] += amount
        if left:
            self.charge((usage,), 1, left)

    def charge(self, usages, hours: int, node_seconds: int | None = None) -> None:
        """`hours` hours of the usages beyond the packages (of `node_seconds` each, when given)."""
        if self.dedicated:
            key = (self.period, SUBSCRIPTION, ZERO, None)
            for usage in usages:
                if seconds := hours * (node_seconds or usage.node_seconds):
                    usage.charges[key] += seconds
            return
        hourly, flavor_id = self.prices.hourly, None
        for usage in usages:
            if seconds := hours * (node_seconds or usage.node_seconds):
                if usage.flavor_id != flavor_id:
                    flavor_id = usage.flavor_id
                    key = (self.period, PAY_PER_USE, hourly(flavor_id, self.at), None)
                usage.charges[key] += seconds

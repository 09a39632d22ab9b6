"""Pay-per-use rating of one account's usage, from summaries instead of one object per record.

Metering writes a record per pod set per clock hour, so a pod set's unrated usage is almost
always a run of identical records, one every hour (full hours at a steady replica count); it
is read as one `Usage` of `count` records, and anything else as its single records. Usage is
taken from packages in the order it started (usage that started at the same moment in the
order of its pod set), soonest-expiring package first. Between two moments at which something
changes (a run starts or ends, a package becomes valid or expires, a price changes, a month
begins) every hour is the same, so whole hours are taken in one step; only the hour in which a
package runs out is taken record by record. The result equals taking every record in turn."""

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from . import rules
from .models import ChargeMode

HOUR = timedelta(hours=1)
MOMENT = timedelta(microseconds=1)
ZERO = Decimal(0)

# (period, pod set id, flavor id, mode, unit price, package id) -> node-seconds
Lines = dict[tuple, int]


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def is_on_the_hour(moment: datetime) -> bool:
    # Read for every run of usage: cheaper than building the hour to compare with.
    return not (moment.minute or moment.second or moment.microsecond)


@dataclass(slots=True)
class Usage:
    """`count` usage records of a pod set, of `node_seconds` each, started at `first` and then
    every hour; a run of more than one starts on the hour."""

    pod_set_id: int
    flavor_id: int
    family: str
    dedicated: bool
    first: datetime
    count: int
    node_seconds: int
    on_the_hour: bool = field(init=False)
    end: datetime = field(init=False)

    def __post_init__(self):
        # Read for every interval of the sweep, so worked out once.
        self.on_the_hour = is_on_the_hour(self.first)
        self.end = self.first + self.count * HOUR if self.on_the_hour else self.first + MOMENT

    @classmethod
    def from_summary(cls, *, pod_set_id, flavor_id, family, dedicated, replicas, node_seconds, count, first,
                     last) -> "Usage | None":
        """The run that records of the same pod set, replicas and node-seconds summarise, or None
        when they are not one (several part hours, or full hours with a gap): then they are read
        one by one. Full hours (replicas × 3,600 node-seconds) each fill a whole clock hour."""
        if count == 1 or (node_seconds == replicas * 3600 and last - first == (count - 1) * HOUR):
            return cls(pod_set_id=pod_set_id, flavor_id=flavor_id, family=family, dedicated=dedicated, first=first,
                       count=count, node_seconds=node_seconds)
        return None


class PricesInForce:
    """Pay-per-use prices of flavors over time: `changes[flavor]` is [(effective_from, hourly)]
    in time order. Before its first price a flavor costs its first price."""

    def __init__(self, changes: dict[int, list[tuple[datetime, Decimal]]]):
        self.changes = changes

    def hourly(self, flavor_id, at: datetime) -> Decimal | None:
        changes = self.changes.get(flavor_id)
        if not changes:
            return None
        price = changes[0][1]
        for since, hourly in changes:
            if since > at:
                break
            price = hourly
        return price

    def change_times(self, flavor_id) -> list[datetime]:
        return [since for since, _ in self.changes.get(flavor_id, ())]


def rate(*, usages: list[Usage], packages: list[rules.PackageBalance], prices: PricesInForce,
         first_open) -> Lines:
    """Charge lines of one account's usage. `packages` are the account's, in deduction order;
    their `used` grows as usage is taken from them. Usage of a month whose bill has closed goes
    on the first open month (`first_open`)."""
    lines = defaultdict(int)
    streams = defaultdict(list)
    for usage in usages:
        streams[(usage.dedicated, "" if usage.dedicated else usage.family)].append(usage)
    for (dedicated, family), stream in streams.items():
        mine = [] if dedicated else [p for p in packages if p.family == family]
        _Stream(stream, mine, prices, first_open, lines).rate()
    return dict(lines)


class _Stream:
    """The usage that may draw on the same packages: one flavor family on public pools, or
    everything on dedicated pools (paid by subscription, never by package)."""

    def __init__(self, usages, packages, prices, first_open, lines):
        self.usages = usages
        self.runs = sorted((u for u in usages if u.on_the_hour), key=lambda u: u.first)
        # Records that started within an hour (a workload starting mid-hour), by that moment.
        self.singles = defaultdict(list)
        for usage in usages:
            if not usage.on_the_hour:
                self.singles[usage.first].append(usage)
        self.packages = packages
        self.prices = prices
        self.first_open = first_open
        self.lines = lines

    def breakpoints(self) -> list[datetime]:
        start = min(u.first for u in self.usages)
        stop = max(u.end for u in self.usages)
        points = {u.first for u in self.usages} | {u.end for u in self.usages}
        for package in self.packages:
            points |= {package.valid_from, package.valid_until}
        for flavor_id in {u.flavor_id for u in self.usages}:
            points.update(self.prices.change_times(flavor_id))
        month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while month <= stop:
            points.add(month)
            month = month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(
                month=month.month + 1)
        return sorted(p for p in points if start <= p <= stop)

    def rate(self) -> None:
        """Sweep the moments at which something changes. Runs start and end at breakpoints, so
        within [a, b) the same runs are active at every hour."""
        waiting, active, ends, ordered = 0, {}, [], []
        points = self.breakpoints()
        for a, b in zip(points, points[1:], strict=False):
            while waiting < len(self.runs) and self.runs[waiting].first <= a:
                active[waiting] = self.runs[waiting]
                heapq.heappush(ends, (self.runs[waiting].end, waiting))
                waiting, ordered = waiting + 1, None
            while ends and ends[0][0] <= a:
                del active[heapq.heappop(ends)[1]]
                ordered = None
            hour = a if is_on_the_hour(a) else hour_floor(a) + HOUR
            hours = -((hour - b) // HOUR) if active and hour < b else 0
            singles = self.singles.get(a)
            if not (hours or singles):
                continue
            self.valid = [p for p in self.packages if p.valid_from <= a and p.valid_until >= b]
            self.period = max(rules.month_start(a), self.first_open)
            self.at = a
            for usage in sorted(singles or (), key=lambda u: u.pod_set_id):
                self.take(usage, usage.node_seconds)
            if hours:
                if ordered is None:
                    ordered = sorted(active.values(), key=lambda u: u.pod_set_id)
                self.take_hours(ordered, hours)

    def take_hours(self, runs: list[Usage], hours: int) -> None:
        """`hours` identical hours of the runs: whole hours from the package in front, and the
        hour in which it runs out record by record."""
        per_hour = sum(u.node_seconds for u in runs)
        while hours:
            front = next((p for p in self.valid if p.remaining > 0), None)
            if front is None or per_hour == 0:
                for usage in runs:
                    self.charge(usage, hours * usage.node_seconds)
                return
            whole = min(hours, front.remaining // per_hour)
            if whole:
                for usage in runs:
                    self.add(usage, ChargeMode.PACKAGE, ZERO, front.id, whole * usage.node_seconds)
                front.used += whole * per_hour
                hours -= whole
                continue  # the front may be used up exactly; then the next one takes whole hours too
            for usage in runs:
                self.take(usage, usage.node_seconds)
            hours -= 1

    def take(self, usage: Usage, node_seconds: int) -> None:
        """One record: from the valid packages in deduction order, the rest charged."""
        taken, left = rules.deduct(packages=self.valid, family=usage.family, at=self.at, node_seconds=node_seconds)
        for package, amount in taken:
            self.add(usage, ChargeMode.PACKAGE, ZERO, package.id, amount)
        if left:
            self.charge(usage, left)

    def charge(self, usage: Usage, node_seconds: int) -> None:
        if usage.dedicated:
            self.add(usage, ChargeMode.SUBSCRIPTION, ZERO, None, node_seconds)
        else:
            self.add(usage, ChargeMode.PAY_PER_USE, self.prices.hourly(usage.flavor_id, self.at), None, node_seconds)

    def add(self, usage: Usage, mode: str, unit_price: Decimal, package_id, node_seconds: int) -> None:
        if node_seconds:
            self.lines[(self.period, usage.pod_set_id, usage.flavor_id, mode, unit_price, package_id)] += node_seconds


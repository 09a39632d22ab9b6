"""The pure rules of billing: terms, rounding, pro rata, package deduction order, hour slots."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

CENT = Decimal("0.01")
EXACT = Decimal("0.0000000001")
HOUR = timedelta(hours=1)
MONTHS_PER_PERIOD = {"monthly": 1, "yearly": 12}


def money(amount: Decimal) -> Decimal:
    """Half-up to the cent: applied once per bill line and per purchase, never per record."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def exact(amount: Decimal) -> Decimal:
    return amount.quantize(EXACT, rounding=ROUND_HALF_UP)


def term_end(start: datetime, months: int) -> datetime:
    """The same clock time `months` calendar months later; a day the shorter month lacks
    clamps to its last day (2023-01-31 + 1 month = 2023-02-28)."""
    return start + relativedelta(months=months)


def subscription_amount(*, unit_price: Decimal, periods: int, nodes: int) -> Decimal:
    return money(unit_price * periods * nodes)


def unused_share(*, start: datetime, end: datetime, now: datetime) -> Decimal:
    """The part of the term [start, end) still ahead of `now`, by the second, between 0 and 1."""
    total = Decimal(int((end - start).total_seconds()))
    left = Decimal(max(0, min(int((end - now).total_seconds()), int(total))))
    return left / total


def node_hours(node_seconds: int) -> str:
    """Node-seconds as node-hours to the hundredth, half-up, for people to read: 3,599 is 1.00."""
    hundredths = (node_seconds * 100 + 1800) // 3600
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def usage_amount(*, hourly: Decimal, node_seconds: int) -> Decimal:
    return Decimal(hourly) * node_seconds / 3600


def token_amount(*, per_million: Decimal, tokens: int) -> Decimal:
    return Decimal(per_million) * tokens / 1_000_000


def month_start(moment: datetime):
    return moment.date().replace(day=1)


def hour_slots(*, start: datetime, end: datetime | None, now: datetime, since: datetime | None = None):
    """The (slot start, slot end) pieces of a running interval, one per clock hour. While it
    is still running (`end` is None) only hours that are over are given, so each piece is final
    and its key (pod set, hour) never records it twice."""
    upto = end if end is not None else now.replace(minute=0, second=0, microsecond=0)
    hour = (since or start).replace(minute=0, second=0, microsecond=0)
    while hour < upto:
        piece_start, piece_end = max(start, hour), min(hour + HOUR, upto)
        if piece_end > piece_start:
            yield piece_start, piece_end
        hour += HOUR


@dataclass
class PackageBalance:
    """A package as the allocator sees it; `used` changes as usage is deducted."""

    id: int
    family: str
    valid_from: datetime
    valid_until: datetime
    purchased_at: datetime
    total: int
    used: int

    @property
    def remaining(self) -> int:
        return self.total - self.used


def deduction_order(packages: list[PackageBalance]) -> list[PackageBalance]:
    """Soonest-expiring first, then the oldest purchase."""
    return sorted(packages, key=lambda p: (p.valid_until, p.purchased_at, p.id))


def deduct(*, packages: list[PackageBalance], family: str, at: datetime, node_seconds: int):
    """Take usage of `family` that started at `at` from the packages that match and are valid
    then, in deduction order (the list must already be in it). Returns ([(package, taken)],
    node-seconds left for pay-per-use)."""
    taken, need = [], node_seconds
    for package in packages:
        if need == 0:
            break
        if package.family != family or not (package.valid_from <= at < package.valid_until) or package.remaining <= 0:
            continue
        amount = min(need, package.remaining)
        package.used += amount
        need -= amount
        taken.append((package, amount))
    return taken, need


WARNING_THRESHOLDS = (80, 90, 100)


def crossed_threshold(*, total: int, before: int, after: int) -> int | None:
    """The highest used-share warning (in %) a deduction from `before` to `after` crosses, if any."""
    crossed = [t for t in WARNING_THRESHOLDS if before * 100 < t * total <= after * 100]
    return crossed[-1] if crossed else None

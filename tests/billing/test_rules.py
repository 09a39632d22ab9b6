"""Pure rules: calendar-month terms, rounding, pro rata, package order, hour pieces, warnings."""

from decimal import Decimal

from billing import rules
from tests.billing.helpers import at


def test_term_ends_same_clock_time_n_calendar_months_later():
    assert rules.term_end(at("2023-04-01T10:00:00"), 2) == at("2023-06-01T10:00:00")
    assert rules.term_end(at("2023-04-01T10:00:00"), 12) == at("2024-04-01T10:00:00")


def test_month_end_start_clamps_to_shorter_month():
    assert rules.term_end(at("2023-01-31T23:30:00"), 1) == at("2023-02-28T23:30:00")
    assert rules.term_end(at("2024-01-31T08:00:00"), 1) == at("2024-02-29T08:00:00")
    # Counting from the start (not chaining) keeps the 31st once the months are long again.
    assert rules.term_end(at("2023-01-31T08:00:00"), 3) == at("2023-04-30T08:00:00")
    assert rules.term_end(at("2023-01-31T08:00:00"), 2) == at("2023-03-31T08:00:00")


def test_subscription_amount_is_unit_price_times_periods_times_nodes():
    assert rules.subscription_amount(unit_price=Decimal("1750.00"), periods=2, nodes=1) == Decimal("3500.00")
    assert rules.subscription_amount(unit_price=Decimal("1750.00"), periods=3, nodes=4) == Decimal("21000.00")


def test_money_rounds_half_up_once():
    assert rules.money(Decimal("0.005")) == Decimal("0.01")
    assert rules.money(Decimal("0.0049999")) == Decimal("0.00")
    assert rules.money(Decimal("2.345")) == Decimal("2.35")
    # 3 records of 20 minutes at 0.01/h: 0.00333… each; rounded once per line, not per record.
    exact = sum(rules.usage_amount(hourly=Decimal("0.01"), node_seconds=1200) for _ in range(3))
    assert rules.money(exact) == Decimal("0.01")
    assert sum(rules.money(rules.usage_amount(hourly=Decimal("0.01"), node_seconds=1200)) for _ in range(3)) == 0


def test_unused_share_by_the_second():
    start, end = at("2023-04-01T10:00:00"), at("2023-06-01T10:00:00")
    assert rules.unused_share(start=start, end=end, now=start) == 1
    assert rules.unused_share(start=start, end=end, now=end) == 0
    assert rules.unused_share(start=start, end=end, now=at("2023-05-01T10:00:00")) == Decimal(31) / Decimal(61)


def test_hour_pieces_of_running_and_finished_work():
    now = at("2023-04-01T13:20:00")
    running = list(rules.hour_slots(start=at("2023-04-01T10:15:00"), end=None, now=now))
    assert running == [(at("2023-04-01T10:15:00"), at("2023-04-01T11:00:00")),
                       (at("2023-04-01T11:00:00"), at("2023-04-01T12:00:00")),
                       (at("2023-04-01T12:00:00"), at("2023-04-01T13:00:00"))]
    finished = list(rules.hour_slots(start=at("2023-04-01T10:15:00"), end=at("2023-04-01T11:05:00"), now=now))
    assert finished == [(at("2023-04-01T10:15:00"), at("2023-04-01T11:00:00")),
                        (at("2023-04-01T11:00:00"), at("2023-04-01T11:05:00"))]
    resumed = list(rules.hour_slots(start=at("2023-04-01T10:15:00"), end=at("2023-04-01T13:05:00"), now=now,
                                    since=at("2023-04-01T13:00:00")))
    assert resumed == [(at("2023-04-01T13:00:00"), at("2023-04-01T13:05:00"))]


def package(pk, until, bought, total=3600, family="cpu", used=0):
    return rules.PackageBalance(pk, family, at("2023-04-01T00:00:00"), at(until), at(bought), total, used)


def test_deduction_order_soonest_expiring_then_oldest_purchase():
    late = package(1, "2023-06-01T00:00:00", "2023-03-01T00:00:00")
    soon_new = package(2, "2023-05-01T00:00:00", "2023-03-20T00:00:00")
    soon_old = package(3, "2023-05-01T00:00:00", "2023-03-10T00:00:00")
    assert [p.id for p in rules.deduction_order([late, soon_new, soon_old])] == [3, 2, 1]


def test_deduct_overflows_to_next_package_then_pay_per_use():
    packages = rules.deduction_order([package(1, "2023-05-01T00:00:00", "2023-03-01T00:00:00", total=1000),
                                      package(2, "2023-06-01T00:00:00", "2023-03-01T00:00:00", total=1000)])
    taken, left = rules.deduct(packages=packages, family="cpu", at=at("2023-04-10T00:00:00"), node_seconds=2500)
    assert [(p.id, n) for p, n in taken] == [(1, 1000), (2, 1000)]
    assert left == 500
    assert all(p.remaining == 0 for p in packages)


def test_deduct_skips_other_families_and_usage_outside_validity():
    packages = [package(1, "2023-05-01T00:00:00", "2023-03-01T00:00:00", family="npu.910b")]
    assert rules.deduct(packages=packages, family="cpu", at=at("2023-04-10T00:00:00"), node_seconds=10) == ([], 10)
    assert rules.deduct(packages=packages, family="npu.910b", at=at("2023-05-01T00:00:00"),
                        node_seconds=10) == ([], 10)
    assert rules.deduct(packages=packages, family="npu.910b", at=at("2023-03-31T23:59:59"),
                        node_seconds=10) == ([], 10)


def test_warning_thresholds_crossed_once_each():
    assert rules.crossed_threshold(total=100, before=0, after=79) is None
    assert rules.crossed_threshold(total=100, before=79, after=80) == 80
    assert rules.crossed_threshold(total=100, before=80, after=89) is None
    # Of several crossed at once only the highest is told: the lower ones are out of date.
    assert rules.crossed_threshold(total=100, before=80, after=100) == 100
    assert rules.crossed_threshold(total=100, before=0, after=95) == 90


def test_node_hours_read_to_the_hundredth_half_up():
    assert [rules.node_hours(s) for s in (0, 17, 18, 3599, 3600, 5418, 360_000 * 3 + 1)] == [
        "0.00", "0.00", "0.01", "1.00", "1.00", "1.51", "300.00"]

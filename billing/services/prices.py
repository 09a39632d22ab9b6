"""Pay-per-use and subscription prices: publishing, withdrawing, the price in force, estimates."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform.errors import Conflict
from resourcepools.models import Flavor

from .. import rules
from ..models import Price, SubscriptionPeriod

UNIT_FOR_PERIOD = {SubscriptionPeriod.MONTHLY: "node-month", SubscriptionPeriod.YEARLY: "node-year"}


@transaction.atomic
def publish_price(*, flavor: Flavor, pay_per_use_hourly: Decimal, monthly: Decimal, yearly: Decimal,
                  input_tokens_per_million: Decimal | None = None, output_tokens_per_million: Decimal | None = None,
                  currency: str = "CNY", effective_from: datetime | None = None, created_by=None,
                  now: datetime | None = None) -> Price:
    """A new price for a flavor from `effective_from` on (default: now), per node-hour and, for
    services on it, per million tokens served (empty: tokens not charged). Never in the past:
    usage already rated keeps the price it was rated at."""
    now = now or timezone.now()
    effective_from = effective_from or now
    if effective_from < now - timedelta(minutes=1):
        raise ValidationError({"effective_from": "A price applies from now on, so past charges keep their price; "
                                                 "give the current time or a later one."})
    price = Price(flavor=flavor, pay_per_use_hourly=pay_per_use_hourly, monthly=monthly, yearly=yearly,
                  input_tokens_per_million=input_tokens_per_million,
                  output_tokens_per_million=output_tokens_per_million, currency=currency,
                  effective_from=effective_from, created_by=created_by)
    price.full_clean()
    price.save()
    return price


@transaction.atomic
def withdraw_price(*, price: Price, now: datetime | None = None) -> None:
    """Cancel a price change that has not taken effect; one in force may have been charged."""
    now = now or timezone.now()
    price = Price.objects.select_for_update().get(pk=price.pk)
    if price.effective_from <= now:
        raise Conflict("This price is in force and may have been charged; publish a new price instead.",
                       code="price_in_force")
    price.delete()


def price_in_force(*, flavor: Flavor, at: datetime, field: str = "flavor") -> Price:
    price = Price.objects.filter(flavor=flavor, effective_from__lte=at).order_by("-effective_from").first()
    if price is None:
        raise ValidationError({field: f"Flavor '{flavor.name}' has no price yet; choose a priced flavor or ask an "
                                      "operator to publish a price for it."})
    return price


def estimate(*, flavor: Flavor, nodes: int, mode: str, periods: int = 1, now: datetime | None = None) -> dict:
    """What work on `nodes` nodes of `flavor` costs: per hour for pay-per-use, or the total of a
    subscription of `periods` months or years."""
    now = now or timezone.now()
    price = price_in_force(flavor=flavor, at=now)
    if mode == "pay_per_use":
        return {"flavor": flavor.name, "nodes": nodes, "mode": mode, "periods": None, "currency": price.currency,
                "unit_price": price.pay_per_use_hourly, "unit": "node-hour",
                "amount": rules.money(price.pay_per_use_hourly * nodes), "per": "hour", "ends_at": None}
    unit_price = price.monthly if mode == SubscriptionPeriod.MONTHLY else price.yearly
    return {"flavor": flavor.name, "nodes": nodes, "mode": mode, "periods": periods, "currency": price.currency,
            "unit_price": unit_price, "unit": UNIT_FOR_PERIOD[mode],
            "amount": rules.subscription_amount(unit_price=unit_price, periods=periods, nodes=nodes), "per": "term",
            "ends_at": rules.term_end(now, rules.MONTHS_PER_PERIOD[mode] * periods)}

"""The pool and flavor picker's facts: each pool the caller may use, its free capacity, and per
flavor its nodes and the pay-per-use price per hour in force now. A fixed number of queries."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from billing.models import Price
from resourcepools import selectors as pool_selectors
from resourcepools.models import Node


@dataclass
class FlavorOffer:
    flavor: object
    nodes: int
    price: object = None
    currency: str = ""


@dataclass
class PoolOffer:
    pool: object
    usage: dict
    flavors: list = field(default_factory=list)

    @property
    def free(self) -> dict:
        return {k: self.usage["capacity"][k] - self.usage["used"][k] for k in self.usage["capacity"]}


def current_prices(flavor_ids) -> dict:
    """The pay-per-use price per hour in force now, per flavor: (price, currency)."""
    prices = {}
    for price in Price.objects.filter(flavor_id__in=flavor_ids, effective_from__lte=timezone.now()).order_by(
            "flavor_id", "effective_from"):
        prices[price.flavor_id] = (price.pay_per_use_hourly, price.currency)
    return prices


def pool_offers(*, user) -> list[PoolOffer]:
    pools = list(pool_selectors.pools_visible_to(user=user).order_by("kind", "name"))
    usage = pool_selectors.pool_utilisation(pool_ids=[p.pk for p in pools])
    per_pool = defaultdict(list)
    rows = (Node.objects.filter(pool__in=pools).values("pool_id", "flavor_id")
            .annotate(n=Count("id", filter=Q(schedulable=True, health="healthy"))).order_by())
    flavor_ids = set()
    for row in rows:
        per_pool[row["pool_id"]].append(row)
        flavor_ids.add(row["flavor_id"])
    flavors = {f.pk: f for f in pool_selectors.flavors().filter(pk__in=flavor_ids)}
    prices = current_prices(flavor_ids)
    offers = []
    for pool in pools:
        offer = PoolOffer(pool=pool, usage=usage[pool.pk])
        for row in sorted(per_pool[pool.pk], key=lambda r: flavors[r["flavor_id"]].name):
            price, currency = prices.get(row["flavor_id"], (None, ""))
            offer.flavors.append(FlavorOffer(flavor=flavors[row["flavor_id"]], nodes=row["n"], price=price,
                                             currency=currency))
        offers.append(offer)
    return offers

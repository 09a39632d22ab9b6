"""Subscriptions to dedicated pools: buying, renewing, adding nodes, unsubscribing, and the
daily processing of renewals, expiry and release."""

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform.errors import IllegalTransition
from aiplatform.models import Account
from resourcepools import services as pool_services
from resourcepools.models import TERMINAL_PHASES, Flavor, Phase, PoolKind, PoolStatus, Workload

from .. import rules
from ..models import (
    SUBSCRIPTION_TRANSITIONS,
    Charge,
    ChargeMode,
    LedgerKind,
    ResourceType,
    Subscription,
    SubscriptionEvent,
    SubscriptionPeriod,
    SubscriptionStatus,
)
from .balance import _post, _require_funds, locked_billing_account
from .notifications import notify
from .prices import UNIT_FOR_PERIOD, price_in_force

logger = logging.getLogger(__name__)


def _check_counts(**counts) -> None:
    errors = {name: f"Give a whole number of at least 1 for {name}." for name, value in counts.items()
              if not isinstance(value, int) or value < 1}
    if errors:
        raise ValidationError(errors)


def _transition_subscription(*, subscription_id, to: str, reason: str, message: str = "", **fields) -> Subscription:
    """The one way a subscription changes: locks it, refuses moves the lifecycle forbids,
    applies `fields` and leaves an event."""
    subscription = Subscription.objects.select_for_update().select_related("pool").get(pk=subscription_id)
    if to not in SUBSCRIPTION_TRANSITIONS[subscription.status]:
        raise IllegalTransition(f"A subscription that is {subscription.status} cannot become {to}.")
    from_status = subscription.status
    subscription.status = to
    for name, value in fields.items():
        setattr(subscription, name, value)
    subscription.full_clean()
    subscription.save()
    SubscriptionEvent.objects.create(subscription=subscription, from_status=from_status, to_status=to,
                                     reason=reason, message=message)
    return subscription


@transaction.atomic
def set_auto_renew(*, subscription: Subscription, auto_renew: bool) -> Subscription:
    return _transition_subscription(subscription_id=subscription.pk, to=subscription.status, reason="AutoRenewSet",
                                    message=f"Auto-renew {'on' if auto_renew else 'off'}.", auto_renew=auto_renew)


def _subscription_charge(*, subscription: Subscription, key: str, quantity, amount: Decimal, description: str,
                         now: datetime) -> Charge:
    charge = Charge(
        account_id=subscription.account_id, period=rules.month_start(now), resource_type=ResourceType.POOL,
        resource_id=str(subscription.pool_id), resource_name=subscription.pool.name, mode=ChargeMode.SUBSCRIPTION,
        flavor=subscription.flavor, unit=UNIT_FOR_PERIOD[subscription.period], unit_price=subscription.unit_price,
        quantity=quantity, amount=amount, key=key, description=description,
    )
    charge.full_clean()
    charge.save()
    return charge


def _term_months(subscription: Subscription, periods: int | None = None) -> int:
    return rules.MONTHS_PER_PERIOD[subscription.period] * (subscription.periods if periods is None else periods)


@transaction.atomic
def buy_subscription(*, account: Account, pool_name: str, flavor: Flavor, nodes: int, period: str, periods: int,
                     auto_renew: bool = False, created_by=None, now: datetime | None = None) -> Subscription:
    """Buy a dedicated pool of `nodes` nodes for `periods` months or years: unit price ×
    periods × nodes, paid from the balance at once; the pool is created in the same transaction."""
    now = now or timezone.now()
    _check_counts(nodes=nodes, periods=periods)
    if period not in SubscriptionPeriod.values:
        raise ValidationError({"period": f"Choose one of: {', '.join(SubscriptionPeriod.values)}."})
    pool_services.check_pool_name_available(name=pool_name, kind=PoolKind.DEDICATED, account=account,
                                            field="pool_name")
    price = price_in_force(flavor=flavor, at=now)
    unit_price = price.monthly if period == SubscriptionPeriod.MONTHLY else price.yearly
    amount = rules.subscription_amount(unit_price=unit_price, periods=periods, nodes=nodes)
    billing = locked_billing_account(account_id=account.pk)
    _require_funds(billing=billing, amount=amount, currency=price.currency, what="The subscription")
    pool = pool_services.create_pool(name=pool_name, kind=PoolKind.DEDICATED, account=account)
    for i in range(nodes):
        # Node names are cluster-wide; pool names only per account: the placement label is unique.
        pool_services.add_node(pool=pool, name=f"{pool.placement_label}-node-{i}", flavor=flavor)
    subscription = Subscription(
        account=account, pool=pool, flavor=flavor, nodes=nodes, period=period, periods=periods,
        unit_price=unit_price, currency=price.currency, paid=amount, starts_at=now,
        ends_at=rules.term_end(now, rules.MONTHS_PER_PERIOD[period] * periods), auto_renew=auto_renew,
        created_by=created_by,
    )
    subscription.full_clean()
    subscription.save()
    SubscriptionEvent.objects.create(subscription=subscription, to_status=SubscriptionStatus.ACTIVE,
                                     reason="Purchased", message=f"Paid {amount} {price.currency}.")
    key = f"subscription:{subscription.pk}:purchase"
    description = (f"{nodes} × {flavor.name} for {periods} {period} period(s), "
                   f"{subscription.starts_at:%Y-%m-%d %H:%M} to {subscription.ends_at:%Y-%m-%d %H:%M} UTC")
    _post(billing=billing, kind=LedgerKind.SUBSCRIPTION, amount=-amount, key=key, description=description,
          created_by=created_by, now=now)
    _subscription_charge(subscription=subscription, key=key, quantity=periods * nodes, amount=amount,
                         description=description, now=now)
    return subscription


@transaction.atomic
def renew_subscription(*, subscription: Subscription, periods: int, created_by=None,
                       now: datetime | None = None) -> Subscription:
    """Extend the term by `periods` at today's price. The new end is counted from the original
    start (start + all months bought), so month-end clamping never drifts; an expired pool thaws."""
    now = now or timezone.now()
    _check_counts(periods=periods)
    subscription = Subscription.objects.select_for_update().select_related("pool", "flavor").get(pk=subscription.pk)
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED):
        raise IllegalTransition(f"A subscription that is {subscription.status} cannot be renewed; buy a new one.")
    price = price_in_force(flavor=subscription.flavor, at=now)
    unit_price = price.monthly if subscription.period == SubscriptionPeriod.MONTHLY else price.yearly
    amount = rules.subscription_amount(unit_price=unit_price, periods=periods, nodes=subscription.nodes)
    billing = locked_billing_account(account_id=subscription.account_id)
    _require_funds(billing=billing, amount=amount, currency=price.currency, what="The renewal")
    bought_before = subscription.periods
    total = bought_before + periods
    subscription = _transition_subscription(
        subscription_id=subscription.pk, to=SubscriptionStatus.ACTIVE, reason="Renewed",
        message=f"{periods} more {subscription.period} period(s) for {amount} {price.currency}.",
        periods=total, ends_at=rules.term_end(subscription.starts_at, _term_months(subscription, total)),
        paid=subscription.paid + amount, unit_price=unit_price, work_stopped=False,
    )
    if subscription.pool.status == PoolStatus.FROZEN:
        subscription.pool = pool_services.update_pool(pool=subscription.pool, status=PoolStatus.RUNNING,
                                                      status_message="")
    key = f"subscription:{subscription.pk}:renewal:{bought_before}"
    description = f"Renewed for {periods} {subscription.period} period(s), until {subscription.ends_at:%Y-%m-%d %H:%M}"
    _post(billing=billing, kind=LedgerKind.SUBSCRIPTION, amount=-amount, key=key, description=description,
          created_by=created_by, now=now)
    _subscription_charge(subscription=subscription, key=key, quantity=periods * subscription.nodes, amount=amount,
                         description=description, now=now)
    return subscription


@transaction.atomic
def add_subscription_nodes(*, subscription: Subscription, nodes: int, created_by=None,
                           now: datetime | None = None) -> Subscription:
    """Grow the pool mid-term: each new node costs the term's price per node (unit price ×
    periods) times the unused share of the term, by the second; half-up to the cent."""
    now = now or timezone.now()
    _check_counts(nodes=nodes)
    subscription = Subscription.objects.select_for_update().select_related("pool", "flavor").get(pk=subscription.pk)
    if subscription.status != SubscriptionStatus.ACTIVE or now >= subscription.ends_at:
        raise IllegalTransition("Only an active subscription grows; renew it first.")
    share = rules.unused_share(start=subscription.starts_at, end=subscription.ends_at, now=now)
    amount = rules.money(subscription.unit_price * subscription.periods * nodes * share)
    billing = locked_billing_account(account_id=subscription.account_id)
    _require_funds(billing=billing, amount=amount, currency=subscription.currency, what="Adding the nodes")
    for i in range(subscription.nodes, subscription.nodes + nodes):
        pool_services.add_node(pool=subscription.pool, name=f"{subscription.pool.placement_label}-node-{i}",
                               flavor=subscription.flavor)
    before = subscription.nodes
    subscription = _transition_subscription(
        subscription_id=subscription.pk, to=SubscriptionStatus.ACTIVE, reason="NodesAdded",
        message=f"{nodes} node(s) added for {amount} {subscription.currency} (pro rata {share:.6f} of the term).",
        nodes=before + nodes, paid=subscription.paid + amount,
    )
    key = f"subscription:{subscription.pk}:nodes:{before}"
    description = f"{nodes} node(s) added, pro rata {share:.6f} of the term to {subscription.ends_at:%Y-%m-%d %H:%M}"
    _post(billing=billing, kind=LedgerKind.SUBSCRIPTION, amount=-amount, key=key, description=description,
          created_by=created_by, now=now)
    _subscription_charge(subscription=subscription, key=key, quantity=(subscription.periods * nodes * share)
                         .quantize(Decimal("0.000001")), amount=amount, description=description, now=now)
    return subscription


def _stop_pool_work(*, pool, reason: str, message: str) -> list:
    live = Workload.objects.filter(pool=pool).exclude(phase__in=TERMINAL_PHASES)
    stopped = pool_services.transition_workloads(
        workload_ids=list(live.filter(phase__in=(Phase.PENDING, Phase.QUEUED)).values_list("pk", flat=True)),
        to=Phase.STOPPED, reason=reason, message=message, skip_illegal=True)
    stopping = pool_services.transition_workloads(
        workload_ids=list(live.filter(phase__in=(Phase.ADMITTED, Phase.RUNNING)).values_list("pk", flat=True)),
        to=Phase.STOPPING, reason=reason, message=message, skip_illegal=True)
    return stopped + stopping


def _release(*, subscription: Subscription, to: str, reason: str, message: str, **fields) -> Subscription:
    _stop_pool_work(pool=subscription.pool, reason=reason, message=message)
    pool = pool_services.update_pool(pool=subscription.pool, status=PoolStatus.DELETING, status_message=message)
    subscription = _transition_subscription(subscription_id=subscription.pk, to=to, reason=reason, message=message,
                                            work_stopped=True, **fields)
    subscription.pool = pool
    return subscription


@transaction.atomic
def unsubscribe(*, subscription: Subscription, created_by=None, now: datetime | None = None) -> Subscription:
    """End a subscription now: the unused share of the term, by the second, of everything paid
    is refunded (half-up to the cent); an expired subscription refunds nothing. The pool's work
    is stopped and the pool released."""
    now = now or timezone.now()
    subscription = Subscription.objects.select_for_update().select_related("pool").get(pk=subscription.pk)
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED):
        raise IllegalTransition(f"The subscription is already {subscription.status}.")
    share = (rules.unused_share(start=subscription.starts_at, end=subscription.ends_at, now=now)
             if subscription.status == SubscriptionStatus.ACTIVE else Decimal(0))
    refund = rules.money(subscription.paid * share)
    billing = locked_billing_account(account_id=subscription.account_id)
    message = f"Unsubscribed; refunded {refund} {subscription.currency} ({share:.6f} of the term unused)."
    subscription = _release(subscription=subscription, to=SubscriptionStatus.UNSUBSCRIBED, reason="Unsubscribed",
                            message=message, paid=subscription.paid - refund)
    if refund:
        key = f"subscription:{subscription.pk}:refund"
        _post(billing=billing, kind=LedgerKind.REFUND, amount=refund, key=key, description=message,
              created_by=created_by, now=now)
        _subscription_charge(subscription=subscription, key=key, quantity=0, amount=-refund, description=message,
                             now=now)
    return subscription


def process_subscriptions(*, now: datetime | None = None) -> dict:
    """Due subscriptions renew (auto-renew with enough balance) or expire, freezing their pool;
    after the grace period their running work is stopped; after the retention period the pool
    is released. Each subscription is handled in its own transaction."""
    now = now or timezone.now()
    grace = timedelta(hours=settings.BILLING_SUBSCRIPTION_GRACE_HOURS)
    retention = timedelta(days=settings.BILLING_SUBSCRIPTION_RETENTION_DAYS)
    report = {"renewed": 0, "expired": 0, "stopped": 0, "released": 0}
    # Each step re-reads the subscription under its lock: a run in parallel may have done it already.
    for pk in Subscription.objects.filter(status=SubscriptionStatus.ACTIVE, ends_at__lte=now).values_list("pk",
                                                                                                         flat=True):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().get(pk=pk)
            if subscription.status != SubscriptionStatus.ACTIVE or subscription.ends_at > now:
                continue
            if subscription.auto_renew:
                try:
                    renew_subscription(subscription=subscription, periods=1, now=now)
                    report["renewed"] += 1
                    continue
                except ValidationError as exc:
                    logger.info("auto-renewal of %s failed: %s", subscription.pk, exc.detail)
            expired = _transition_subscription(
                subscription_id=subscription.pk, to=SubscriptionStatus.EXPIRED, reason="Expired",
                message=f"The term ended at {subscription.ends_at:%Y-%m-%d %H:%M} UTC; renew to thaw the pool.")
            pool_services.update_pool(pool=expired.pool, status=PoolStatus.FROZEN,
                                      status_message="The subscription expired; renew it to admit work again.")
            notify(account_id=expired.account_id, kind="subscription_expired",
                   subject=f"Dedicated pool {expired.pool.name} is frozen",
                   message=f"Its subscription ended at {expired.ends_at:%Y-%m-%d %H:%M} UTC. Running work stops "
                           f"after {settings.BILLING_SUBSCRIPTION_GRACE_HOURS} h and the pool is released after "
                           f"{settings.BILLING_SUBSCRIPTION_RETENTION_DAYS} days unless you renew.",
                   key=f"subscription:{expired.pk}:expired:{expired.periods}")
            report["expired"] += 1
    for pk in Subscription.objects.filter(status=SubscriptionStatus.EXPIRED, ends_at__lte=now - grace,
                                          work_stopped=False).values_list("pk", flat=True):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().get(pk=pk)
            if subscription.status != SubscriptionStatus.EXPIRED or subscription.work_stopped:
                continue
            subscription = _transition_subscription(
                subscription_id=subscription.pk, to=SubscriptionStatus.EXPIRED, reason="GraceOver",
                message="The grace period is over; running work is stopped.", work_stopped=True)
            _stop_pool_work(pool=subscription.pool, reason="SubscriptionExpired",
                            message="The dedicated pool's subscription expired; renew it to run work again.")
            report["stopped"] += 1
    for pk in Subscription.objects.filter(status=SubscriptionStatus.EXPIRED, ends_at__lte=now - retention).values_list(
            "pk", flat=True):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().select_related("pool").get(pk=pk)
            if subscription.status != SubscriptionStatus.EXPIRED or subscription.ends_at > now - retention:
                continue
            _release(subscription=subscription, to=SubscriptionStatus.RELEASED, reason="Released",
                     message="The subscription expired and was not renewed; the pool is released.")
            report["released"] += 1
    return report

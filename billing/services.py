"""Billing operations. Every function is keyword-only and runs in a transaction: a charge is the
balance change, its ledger entry (with a unique key) and its charge (a purchase) or rated usage
(a rating run's lines) together, or nothing.
Per account, metering and rating are ordered by the lock on its BillingAccount row."""

import functools
import logging
import uuid
from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform import sql as aiplatform_sql
from aiplatform.errors import Conflict, IllegalTransition
from aiplatform.models import Account, AccountMember, Workspace
from aiplatform.process import thread_alongside
from resourcepools import services as pool_services
from resourcepools.models import (
    TERMINAL_PHASES,
    Flavor,
    Phase,
    PodSet,
    PoolKind,
    PoolStatus,
    Workload,
    WorkloadEvent,
    WorkloadRun,
)

from . import rating, rating_store, rules, selectors
from .models import (
    SUBSCRIPTION_TRANSITIONS,
    Bill,
    BillingAccount,
    BillLine,
    Charge,
    ChargeMode,
    CostTag,
    LedgerEntry,
    LedgerKind,
    Notification,
    Package,
    PackageOffer,
    Price,
    RatedTokenUsage,
    ResourceType,
    Subscription,
    SubscriptionEvent,
    SubscriptionPeriod,
    SubscriptionStatus,
    TokenDirection,
    TokenUsageRecord,
    UsageRecord,
    WorkloadMeter,
)
from .rating_store import Notice

logger = logging.getLogger(__name__)

UNIT_FOR_PERIOD = {SubscriptionPeriod.MONTHLY: "node-month", SubscriptionPeriod.YEARLY: "node-year"}


# --- prices -------------------------------------------------------------------------------------


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


# --- balance ------------------------------------------------------------------------------------


def locked_billing_account(*, account_id) -> BillingAccount:
    BillingAccount.objects.bulk_create([BillingAccount(account_id=account_id)], ignore_conflicts=True)
    return BillingAccount.objects.select_for_update().get(pk=account_id)


def _post(*, billing: BillingAccount, kind: str, amount: Decimal, key: str, description: str = "",
          created_by=None, now: datetime) -> LedgerEntry:
    """Change a locked balance by `amount` and leave its ledger entry; arrears start when the
    balance goes below zero and end when it is back at zero or above."""
    billing.balance += amount
    if billing.balance < 0 and billing.arrears_since is None:
        billing.arrears_since = now
    elif billing.balance >= 0:
        billing.arrears_since = None
    billing.save()
    return LedgerEntry.objects.create(account_id=billing.account_id, kind=kind, amount=amount,
                                      balance_after=billing.balance, key=key, description=description,
                                      created_by=created_by)


def _require_funds(*, billing: BillingAccount, amount: Decimal, currency: str, what: str) -> None:
    if billing.balance < amount:
        short = rules.money(amount - billing.balance)
        raise ValidationError({"balance": f"{what} costs {amount} {currency} but the balance is "
                                          f"{rules.money(billing.balance)}; top up at least {short} first."})


@transaction.atomic
def top_up(*, account: Account, amount: Decimal, created_by=None, note: str = "",
           now: datetime | None = None) -> LedgerEntry:
    """Operators record money received. Paying the arrears lifts the admission refusal."""
    now = now or timezone.now()
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Give a positive amount to top up."})
    billing = locked_billing_account(account_id=account.pk)
    return _post(billing=billing, kind=LedgerKind.TOP_UP, amount=Decimal(amount), key=f"top-up:{uuid.uuid4()}",
                 description=note or "Top-up", created_by=created_by, now=now)


# --- notifications ------------------------------------------------------------------------------


def notify(*, account_id, kind: str, subject: str, message: str, key: str) -> bool:
    """Leave a notification once per key; mail it to the account admins when enabled. Returns
    whether it is new."""
    return bool(notify_many(notices=[Notice(str(account_id), kind, subject, message, key)]))


def notify_many(*, notices: list[Notice]) -> list[Notice]:
    """Leave the notifications whose keys are new and mail those (when enabled); returns them.
    A key seen before, or left at the same time by another worker, is skipped by the database."""
    if not notices:
        return []
    notices = [n if type(n.account_id) is str else n._replace(account_id=str(n.account_id)) for n in notices]
    return _mail_new(notices=notices, created=_insert_new_notifications(notices=notices, now=timezone.now()))


def _mail_new(*, notices: list[Notice], created: set[str]) -> list[Notice]:
    """The notices whose keys were created, each key once, mailed to their accounts' admins when
    that is enabled."""
    new = [n for n in notices if n.key in created and not created.discard(n.key)]
    if new and settings.BILLING_EMAIL_NOTIFICATIONS:
        recipients = defaultdict(list)
        for account_id, email in AccountMember.objects.filter(
                account_id__in={n.account_id for n in new}, is_admin=True).values_list("account_id", "user__email"):
            if email:
                recipients[str(account_id)].append(email)
        for n in new:
            if recipients[n.account_id]:
                transaction.on_commit(lambda n=n, to=recipients[n.account_id]: send_mail(
                    n.subject, n.message, None, to, fail_silently=True))
    return new


@transaction.atomic(savepoint=False)  # several statements for very many: all or none
def _insert_new_notifications(*, notices: list[Notice], now: datetime) -> set[str]:
    """Insert the notices whose keys are new; returns their keys."""
    return rating_store.insert_new_notifications(notices=notices, now=now)


@transaction.atomic
def mark_notification_read(*, notification: Notification, now: datetime | None = None) -> Notification:
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


# --- subscriptions ------------------------------------------------------------------------------


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


# --- packages -----------------------------------------------------------------------------------


@transaction.atomic
def save_package_offer(*, offer: PackageOffer | None = None, **fields) -> PackageOffer:
    offer = offer or PackageOffer()
    for name, value in fields.items():
        setattr(offer, name, value)
    offer.full_clean()
    offer.save()
    return offer


@transaction.atomic
def buy_package(*, account: Account, offer: PackageOffer, created_by=None, now: datetime | None = None) -> Package:
    now = now or timezone.now()
    if not offer.is_active:
        raise ValidationError({"offer": f"Package '{offer.name}' is no longer sold; choose an active offer."})
    billing = locked_billing_account(account_id=account.pk)
    _require_funds(billing=billing, amount=offer.price, currency=offer.currency, what=f"Package '{offer.name}'")
    package = Package(
        account=account, offer=offer, family=offer.family, node_seconds_total=offer.node_hours * 3600,
        price=offer.price, valid_from=now, valid_until=rules.term_end(now, offer.validity_months), purchased_at=now,
        created_by=created_by,
    )
    package.full_clean()
    package.save()
    key = f"package:{package.pk}:purchase"
    description = (f"{offer.node_hours} node-hours of {offer.family}, valid {package.valid_from:%Y-%m-%d %H:%M} "
                   f"to {package.valid_until:%Y-%m-%d %H:%M} UTC")
    _post(billing=billing, kind=LedgerKind.PACKAGE, amount=-offer.price, key=key, description=description,
          created_by=created_by, now=now)
    charge = Charge(account=account, period=rules.month_start(now), resource_type=ResourceType.PACKAGE,
                    resource_id=str(package.pk), resource_name=offer.name, mode=ChargeMode.PACKAGE, package=package,
                    unit="package", unit_price=offer.price, quantity=1, amount=offer.price, key=key,
                    description=description)
    charge.full_clean()
    charge.save()
    return package


def check_packages(*, now: datetime | None = None) -> int:
    """Warn once, 7 days before a package with quantity left expires."""
    now = now or timezone.now()
    warned = 0
    due = Package.objects.filter(expiry_warned=False, valid_until__gt=now, valid_until__lte=now + timedelta(days=7),
                                 node_seconds_used__lt=F("node_seconds_total")).select_related("offer")
    for package in due:
        with transaction.atomic():
            notify(account_id=package.account_id, kind="package_expiring",
                   subject=f"Package '{package.offer.name}' expires in 7 days or less",
                   message=f"{rules.node_hours(package.remaining_node_seconds)} node-hours of {package.family} are "
                           f"left and expire at "
                           f"{package.valid_until:%Y-%m-%d %H:%M} UTC; leftovers are not refunded.",
                   key=f"package:{package.pk}:expiring")
            Package.objects.filter(pk=package.pk).update(expiry_warned=True)
            warned += 1
    return warned


# --- metering -----------------------------------------------------------------------------------


def meter_usage(*, now: datetime | None = None, workload_ids=None, batch: int = 500) -> int:
    """Record the RUNNING intervals of workloads per pod set in clock-hour pieces. A running
    workload's hours are recorded as each ends; the last piece when it leaves RUNNING. A
    workload that preemption stopped and queued again runs more than once: each earlier run
    (WorkloadRun) is recorded too, under keys of its own. Keys make a second pass (or two at
    once) add nothing. Returns the records added."""
    now = now or timezone.now()
    candidates = Workload.objects.filter(Q(started_at__isnull=False) | Q(runs__isnull=False)).distinct().exclude(
        pk__in=WorkloadMeter.objects.filter(closed=True).values("workload_id"))
    if workload_ids is not None:
        candidates = candidates.filter(pk__in=list(workload_ids))
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    added = 0
    for start in range(0, len(ids), batch):
        added += _meter_batch(workload_ids=ids[start:start + batch], now=now)
    return added


def _meter_batch(*, workload_ids, now: datetime) -> int:
    workloads = {w["id"]: w for w in Workload.objects.filter(pk__in=workload_ids).values(
        "id", "workspace_id", "workspace__account_id", "pool_id", "pool__kind", "phase", "started_at", "finished_at")}
    left_running = defaultdict(list)
    for wid, at in WorkloadEvent.objects.filter(workload_id__in=workload_ids, from_phase=Phase.RUNNING).values_list(
            "workload_id", "created_at"):
        left_running[wid].append(at)
    earlier_runs = defaultdict(list)
    for run in WorkloadRun.objects.filter(workload_id__in=workload_ids).order_by("started_at", "id"):
        earlier_runs[run.workload_id].append((run.started_at, run.ended_at))
    meters = dict(WorkloadMeter.objects.filter(workload_id__in=workload_ids).values_list("workload_id",
                                                                                         "metered_until"))
    pod_sets = defaultdict(list)
    for ps in PodSet.objects.filter(workload_id__in=workload_ids).values("id", "workload_id", "replicas", "flavor_id",
                                                                         "flavor__family"):
        pod_sets[ps["workload_id"]].append(ps)
    records, progress = [], []
    for wid, w in workloads.items():
        runs = list(earlier_runs[wid])
        end = None
        if w["started_at"] is not None:
            # It stops costing when it leaves RUNNING (a stop request frees its capacity at once), or
            # earlier when the backend saw it end before the reconciler noticed.
            left = [t for t in left_running[wid] if t >= w["started_at"]]
            ends = [t for t in (min(left, default=None), w["finished_at"]) if t is not None]
            end = None if w["phase"] == Phase.RUNNING else min(ends, default=now)
            runs.append((w["started_at"], end))
        # Work between runs (queued again after preemption) may run again: its meter stays open.
        closed = end is not None if w["started_at"] is not None else w["phase"] in TERMINAL_PHASES
        until = meters.get(wid)
        metered = until
        for number, (start, run_end) in enumerate(runs, start=1):
            # The first run keeps the keys metering always had; later runs' keys carry their number.
            suffix = "" if number == 1 else f":r{number}"
            for piece_start, piece_end in rules.hour_slots(start=start, end=run_end, now=now, since=until):
                seconds = int((piece_end - piece_start).total_seconds())
                metered = max(metered or piece_end, piece_end)
                for ps in pod_sets[wid]:
                    records.append(UsageRecord(
                        key=f"{ps['id']}:{piece_start:%Y%m%d%H}{suffix}", account_id=w["workspace__account_id"],
                        workspace_id=w["workspace_id"], workload_id=wid, pod_set_id=ps["id"], pool_id=w["pool_id"],
                        dedicated=w["pool__kind"] == PoolKind.DEDICATED, flavor_id=ps["flavor_id"],
                        family=ps["flavor__family"], replicas=ps["replicas"], started_at=piece_start,
                        ended_at=piece_end, node_seconds=ps["replicas"] * seconds,
                    ))
        progress.append(WorkloadMeter(workload_id=wid, metered_until=metered or runs[0][0], closed=closed))
    with transaction.atomic():
        # The rater reads records past its cursor under the same lock, so none commits behind it.
        for account_id in sorted({w["workspace__account_id"] for w in workloads.values()}):
            locked_billing_account(account_id=account_id)
        recorded = set(UsageRecord.objects.filter(key__in=[r.key for r in records]).values_list("key", flat=True))
        new = [r for r in records if r.key not in recorded]
        UsageRecord.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
        WorkloadMeter.objects.bulk_create(progress, update_conflicts=True, unique_fields=["workload"],
                                          update_fields=["metered_until", "closed"])
    return len(new)


# --- rating -------------------------------------------------------------------------------------


def rate_usage(*, account_ids=None, now: datetime | None = None, batch: int = 1_000_000) -> int:
    """Rate the usage recorded so far; returns the records rated. Accounts are rated together in
    one pass over the usage per cursor, from the furthest on (normally one pass for all), at most
    `batch` record ids at a time. Safe to run twice at once: an account being rated or metered
    elsewhere is skipped (its row is locked) and rated by the next run."""
    now = now or timezone.now()
    through = UsageRecord.objects.aggregate(last=Max("pk"))["last"] or 0
    groups = selectors.accounts_to_rate(through=through, account_ids=account_ids)
    rated = 0
    for cursor in sorted(groups, reverse=True):
        # Accounts further behind join when they have nothing unrated up to this cursor (one that
        # was idle since its last rating): so an account starting again needs no pass of its own.
        accounts = [a for behind, group in groups.items() if behind <= cursor for a in group]
        # The first pass's records are all of its own accounts (every account with records after
        # its cursor is in it), so it reads its ranges whole; later passes pick their accounts'.
        whole_range = account_ids is None and cursor == max(groups)
        for after in range(cursor, through, batch):
            rated += rate_range(account_ids=accounts, after=after, through=min(after + batch, through), now=now,
                                whole_range=whole_range)
    return rated + rate_token_usage(account_ids=account_ids, now=now)


@transaction.atomic
def rate_range(*, account_ids, after: int, through: int, now: datetime, whole_range: bool = False) -> int:
    """Rate the accounts' usage records with ids in (after, through], in one transaction: package
    deductions, pay-per-use at the price in force when the usage started, the balance debits with
    their ledger entries, the rating runs' lines and the cursors. Accounts whose row is locked
    elsewhere are left out, and so are those behind `after` with records not rated up to it. With
    `whole_range`, the range is read whole and other accounts' records dropped, rather than each
    record's account tested: for ranges that hold (almost) only these accounts' records."""
    locked = BillingAccount.objects.select_for_update(skip_locked=True).filter(
        account_id__in=aiplatform_sql.uuids_in(account_ids), rated_through_id__lte=after)
    accounts, behind = {}, []
    for account_id, cursor, balance, arrears_since in locked.order_by("account_id").values_list(
            aiplatform_sql.uuid_text("account_id"), "rated_through_id", "balance", "arrears_since"):
        accounts[str(account_id)] = _Balance(balance, arrears_since)
        if cursor < after:
            behind.append(str(account_id))
    if behind:
        # Checked under the lock, by a statement that sees every meter that committed before it.
        for account_id in BillingAccount.objects.filter(account_id__in=aiplatform_sql.uuids_in(behind)).filter(Exists(
                UsageRecord.objects.filter(account_id=OuterRef("account_id"), pk__gt=OuterRef("rated_through_id"),
                                           pk__lte=after))).values_list("account_id", flat=True):
            del accounts[str(account_id)]
    if not accounts:
        return 0
    # One aggregate over a million records wants more than the default 4 MB to stay in memory.
    # It reads the usage_runs index from end to end, whose pages the default random_page_cost
    # (4, made for spinning disks) prices as seeks; at the usual value for SSDs the planner reads
    # that index rather than the table three times its size.
    aiplatform_sql.set_local(work_mem="64MB", random_page_cost="1.1")
    prices = selectors.prices_in_force()
    unpriced = list(Flavor.objects.exclude(pk__in=list(prices.changes)).values_list("pk", flat=True))
    waiting = selectors.first_unpriced_usage(flavor_ids=unpriced, account_ids=list(accounts), after=after,
                                             through=through) if unpriced else {}
    rated = 0
    for account_id, first in waiting.items():
        # Usage of a flavor without a price waits for one; the account is rated up to it.
        logger.warning("usage of a flavor without a price waits; account %s is rated up to record %s",
                       account_id, first - 1)
        if first - 1 > after:
            rated += _rate_accounts(balances={account_id: accounts[account_id]}, after=after, through=first - 1,
                                    prices=prices, now=now)
    return rated + _rate_accounts(balances={a: b for a, b in accounts.items() if a not in waiting}, after=after,
                                  through=through, prices=prices, now=now, whole_range=whole_range)


class _Balance(NamedTuple):
    """A locked account's balance as rating found it."""

    balance: Decimal
    arrears_since: datetime | None


# Accounts rated at a time: the next ones are rated (Python) while these are written (the
# database). The first part is small, so that writing starts soon.
RATED_FIRST, RATED_TOGETHER = 40, 200


def _rate_accounts(*, balances: dict[str, _Balance], after: int, through: int, prices: rating.PricesInForce,
                   now: datetime, whole_range: bool = False) -> int:
    if not balances:
        return 0
    summaries = rating_store.read_summaries(account_ids=balances, after=after, through=through,
                                            whole_range=whole_range)
    with thread_alongside("rating") as rater:
        # The summaries become usages there while the packages are read here.
        gathering = rater.submit(rating.gather, summaries)
        packages = _locked_packages(account_ids=balances, since=rating.moment(min(s.first for s in summaries))
                                    ) if summaries else {}
        usages, pod_sets, scattered, records = gathering.result()
        if scattered:
            for record in rating_store.read_records(pod_set_ids=scattered, account_ids=list(balances), after=after,
                                                    through=through):
                summary = scattered[record.pod_set_id]
                usages[summary.account_id].append(rating.Usage.of_record(record, summary.family))
        rate_some = functools.partial(
            _rate_some, balances=balances, usages=usages, packages=packages, pod_sets=pod_sets, prices=prices,
            # Usage rated after its month's bill closed goes on the first open month's bill (at
            # the price of when it ran), so a closed bill never changes.
            first_open=rules.month_start(now - timedelta(hours=settings.BILLING_BILL_SETTLE_HOURS)),
            after=after, through=through, now=now, prepare=connection.vendor == "postgresql")
        accounts = list(balances)
        parts = [accounts[:RATED_FIRST]] + [accounts[start:start + RATED_TOGETHER]
                                            for start in range(RATED_FIRST, len(accounts), RATED_TOGETHER)]
        upcoming = rater.submit(rate_some, parts[0])
        for following in [*parts[1:], None]:
            rated = upcoming.result()
            if following is not None:
                upcoming = rater.submit(rate_some, following)
            created = rating_store.write_rated(rated=rated, through=through, now=now, notified_at=timezone.now())
            _mail_new(notices=rated.warnings, created=created)
    return records


def _locked_packages(*, account_ids, since: datetime) -> dict[str, list[rules.PackageBalance]]:
    """The accounts' packages with something left, valid after `since`, locked (in id order, as
    every rater locks them), each account's in the deduction order of `rules.deduction_order`."""
    packages = defaultdict(list)
    for pk, account_id, family, valid_from, valid_until, purchased_at, total, used in (
            Package.objects.select_for_update().filter(
                account_id__in=aiplatform_sql.uuids_in(account_ids), valid_until__gt=since,
                node_seconds_used__lt=F("node_seconds_total")).order_by("pk")
            .values_list("pk", aiplatform_sql.uuid_text("account_id"), "family", "valid_from", "valid_until",
                         "purchased_at", "node_seconds_total", "node_seconds_used")):
        packages[str(account_id)].append(rules.PackageBalance(pk, family, valid_from, valid_until, purchased_at,
                                                              total, used))
    return {account_id: rules.deduction_order(balances) for account_id, balances in packages.items()}


def _rate_some(accounts: list[str], *, balances, usages, packages, pod_sets, prices, first_open, after: int,
               through: int, now: datetime, prepare: bool) -> rating_store.Rated:
    """Rate some of the accounts (pure Python: it runs beside the writing of the others). With
    `prepare` (PostgreSQL), the rows also come as that writing binds them (rating_store.prepare)."""
    runs, deductions, warnings, moves, entries = [], [], [], [], []
    created_at = timezone.now()
    for account_id in accounts:
        mine = packages.get(account_id, ())
        used_before = [p.used for p in mine]
        debit = None
        if account_id in usages:
            charges = rating.rate(usages=usages[account_id], packages=mine, prices=prices, first_open=first_open)
            if charges:
                run = _run(account_id=account_id, charges=charges, pod_sets=pod_sets, after=after, through=through,
                           created_at=created_at)
                runs.append(run)
                debit = run.pay_per_use
        for p, before in zip(mine, used_before, strict=True):
            if p.used != before:
                deductions.append(rating_store.Deduction(id=p.id, used=p.used))
                if warning := _package_warning(account_id=account_id, package=p, before=before):
                    warnings.append(warning)
        balance, arrears_since = balances[account_id]
        if debit:
            balance -= debit
            arrears_since = (arrears_since or now) if balance < 0 else None
            entries.append(rating_store.EntryRow(
                account_id=account_id, kind=LedgerKind.PAY_PER_USE, amount=-debit, balance_after=balance,
                key=f"usage:{account_id}:{after + 1}-{through}",
                description=f"Pay-per-use of usage records {after + 1}–{through}", created_at=created_at))
        moves.append(rating_store.AccountMove(account_id=account_id, balance=balance, arrears_since=arrears_since))
    rated = rating_store.Rated(runs=runs, entries=entries, deductions=deductions, moves=moves, warnings=warnings)
    return rating_store.prepare(rated) if prepare else rated


def _package_warning(*, account_id: str, package: rules.PackageBalance, before: int) -> Notice | None:
    """The warning of the highest used share a deduction took a package past, if any: of several
    crossed at once, only the highest is worth telling."""
    threshold = rules.crossed_threshold(total=package.total, before=before, after=package.used)
    if not threshold:
        return None
    return Notice(account_id=account_id, kind="package_usage",
                  subject=f"Package of {package.family} is {threshold}% used",
                  message=f"{threshold}% of the package's {package.total // 3600} node-hours are used; "
                          f"{rules.node_hours(package.remaining)} are left until {_minute(package.valid_until)} UTC. "
                          "Usage beyond it is charged per use.",
                  key=f"package:{package.id}:used:{threshold}")


@functools.lru_cache(maxsize=1024)
def _minute(moment: datetime) -> str:
    """A moment as warnings write it (many packages end at the same one)."""
    return f"{moment:%Y-%m-%d %H:%M}"


def _run(*, account_id: str, charges: rating.Charges, pod_sets: dict[int, rating.UsageSummary], after: int,
         through: int, created_at: datetime) -> rating_store.RunRow:
    """An account's charged pod sets as one run's lines per workload (RatedUsage.lines), with its
    pay-per-use amount exact to 10 decimal places."""
    workloads = {}  # {workload id: [workspace id, workload id, name, lines]}
    by_price, periods = defaultdict(int), set()
    for pod_set_id, mine in charges.items():
        owner = pod_sets[pod_set_id]
        lines = [[_month_text(key.period), key.mode, owner.flavor_id, key.package_id, str(key.unit_price), seconds]
                 for key, seconds in mine.items()]
        for key, seconds in mine.items():
            periods.add(key.period)
            if key.mode == rating.PAY_PER_USE:
                by_price[key.unit_price] += seconds
        row = workloads.get(owner.workload_id)
        if row is None:
            workloads[owner.workload_id] = [owner.workspace_id, owner.workload_id, owner.workload_name, lines]
        else:  # another role of the same workload
            row[3] = _merged(row[3], lines)
    debit = sum((rules.usage_amount(hourly=price, node_seconds=seconds) for price, seconds in by_price.items()),
                Decimal(0))
    return rating_store.RunRow(
        account_id=account_id, after=after, through=through, first_period=min(periods), last_period=max(periods),
        lines=list(workloads.values()), pay_per_use=rules.exact(debit), created_at=created_at)


def _merged(lines: list, more: list) -> list:
    """A workload's lines and another role's, those of the same month, mode, flavor, package and
    price summed."""
    summed = {tuple(line[:5]): line[5] for line in lines}
    for line in more:
        summed[tuple(line[:5])] = summed.get(tuple(line[:5]), 0) + line[5]
    return [[*key, seconds] for key, seconds in summed.items()]


@functools.lru_cache(maxsize=1024)
def _month_text(month: date) -> str:
    """A month as a run's lines write it (the same few for every line)."""
    return month.isoformat()


# --- tokens ---------------------------------------------------------------------------------------


class TokenUsage(NamedTuple):
    """A service's tokens in one batch of the gateway's metering."""

    account_id: str
    workspace_id: str
    service_id: str
    service_name: str
    flavor_id: int
    started_at: datetime
    ended_at: datetime
    input_tokens: int
    output_tokens: int


@transaction.atomic
def record_token_usage(*, batch_id: str, usages: list[TokenUsage]) -> int:
    """Token usage records of one metering batch, keyed (batch, service): the gateway writes them
    in the transaction that records the batch, and a batch written again adds nothing. Returns
    the records added."""
    usages = [u for u in usages if u.input_tokens or u.output_tokens]
    if not usages:
        return 0
    # As metering does: the rater reads records past its cursor under the same lock.
    for account_id in sorted({str(u.account_id) for u in usages}):
        locked_billing_account(account_id=account_id)
    records = [TokenUsageRecord(
        key=f"{batch_id}:{u.service_id}", account_id=u.account_id, workspace_id=u.workspace_id, service_id=u.service_id,
        service_name=u.service_name[:100], flavor_id=u.flavor_id, started_at=u.started_at, ended_at=u.ended_at,
        input_tokens=u.input_tokens, output_tokens=u.output_tokens) for u in usages]
    known = set(TokenUsageRecord.objects.filter(key__in=[r.key for r in records]).values_list("key", flat=True))
    new = [r for r in records if r.key not in known]
    TokenUsageRecord.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _token_price(prices: dict, flavor_id: int, at: datetime) -> tuple | None:
    """(input, output) per million tokens in force at `at` (each None when not charged)."""
    changes = prices.get(flavor_id)
    if not changes:
        return None
    index = bisect_right([since for since, _, _ in changes], at) - 1
    if index < 0:
        return None  # tokens served before the flavor had a price row are not charged
    return changes[index][1], changes[index][2]


def rate_token_usage(*, account_ids=None, now: datetime | None = None) -> int:
    """Rate the token usage recorded so far, in one transaction: each account's tokens at its
    service flavor's prices per million in force when they were served, the debit with its
    ledger entry (arrears as for any charge), the run's lines (RatedTokenUsage, which bills
    read) and the account's token cursor. Accounts locked elsewhere are rated next time.
    Returns the records rated."""
    now = now or timezone.now()
    through = TokenUsageRecord.objects.aggregate(last=Max("pk"))["last"] or 0
    if not through:
        return 0
    with transaction.atomic():
        locked = BillingAccount.objects.select_for_update(skip_locked=True).filter(tokens_rated_through_id__lt=through)
        if account_ids is not None:
            locked = locked.filter(account_id__in=aiplatform_sql.uuids_in(account_ids))
        billings = {str(b.account_id): b for b in locked.order_by("account_id")}
        if not billings:
            return 0
        records = TokenUsageRecord.objects.filter(
            account_id__in=aiplatform_sql.uuids_in(list(billings)),
            pk__gt=min(b.tokens_rated_through_id for b in billings.values()), pk__lte=through,
        ).order_by("pk").values_list("pk", "account_id", "workspace_id", "service_id", "service_name", "flavor_id",
                                     "started_at", "input_tokens", "output_tokens")
        prices = selectors.token_prices()
        # Usage rated after its month's bill closed goes on the first open month's bill.
        first_open = rules.month_start(now - timedelta(hours=settings.BILLING_BILL_SETTLE_HOURS))
        lines, rated = defaultdict(lambda: defaultdict(int)), 0
        for pk, account_id, workspace_id, service_id, name, flavor_id, started_at, tokens_in, tokens_out in records:
            billing = billings[str(account_id)]
            if pk <= billing.tokens_rated_through_id:
                continue
            rated += 1
            price = _token_price(prices, flavor_id, started_at)
            if price is None:
                continue
            period = max(rules.month_start(started_at), first_open)
            for direction, unit_price, tokens in ((TokenDirection.INPUT, price[0], tokens_in),
                                                  (TokenDirection.OUTPUT, price[1], tokens_out)):
                if tokens and unit_price is not None:
                    lines[str(account_id)][(str(workspace_id), str(service_id), name, period, str(direction),
                                            flavor_id, unit_price)] += tokens
        runs = []
        for account_id, billing in billings.items():
            mine = lines.get(account_id)
            if mine:
                debit = rules.exact(sum((rules.token_amount(per_million=key[6], tokens=tokens)
                                         for key, tokens in mine.items()), Decimal(0)))
                periods = [key[3] for key in mine]
                runs.append(RatedTokenUsage(
                    account_id=account_id, after=billing.tokens_rated_through_id, through=through,
                    first_period=min(periods), last_period=max(periods), pay_per_use=debit,
                    lines=[[workspace_id, service_id, name, period.isoformat(), ChargeMode.PAY_PER_USE.value,
                            direction, flavor_id, str(unit_price), tokens]
                           for (workspace_id, service_id, name, period, direction, flavor_id, unit_price), tokens
                           in mine.items()]))
                if debit:
                    _post(billing=billing, kind=LedgerKind.PAY_PER_USE, amount=-debit,
                          key=f"tokens:{account_id}:{billing.tokens_rated_through_id + 1}-{through}",
                          description=f"Tokens of token usage records {billing.tokens_rated_through_id + 1}–{through}",
                          now=now)
            billing.tokens_rated_through_id = through
        RatedTokenUsage.objects.bulk_create(runs)
        BillingAccount.objects.bulk_update(list(billings.values()), ["tokens_rated_through_id"])
    return rated


# --- arrears ------------------------------------------------------------------------------------


def arrears_admission_check(*, pools, workspace_ids) -> dict:
    """Registered with resourcepools admission: accounts in arrears start no pay-per-use work
    (work on their dedicated pools, paid by subscription, still starts)."""
    public = [p for p in pools if p.kind == PoolKind.PUBLIC]
    if not public or not workspace_ids:
        return {}
    in_arrears = Workspace.objects.filter(pk__in=list(workspace_ids), account__billing__balance__lt=0).values_list(
        "pk", "account__billing__balance")
    return {
        (pool.pk, workspace_id): f"Account balance is {rules.money(balance)}, below zero; pay-per-use work cannot "
                                 "start until the arrears are paid (top up the balance)."
        for workspace_id, balance in in_arrears for pool in public
    }


def enforce_arrears(*, now: datetime | None = None) -> int:
    """Stop the running pay-per-use work of accounts in arrears longer than the grace period."""
    now = now or timezone.now()
    overdue = BillingAccount.objects.filter(
        arrears_since__lte=now - timedelta(hours=settings.BILLING_ARREARS_GRACE_HOURS)).values("account_id")
    live = Workload.objects.filter(workspace__account_id__in=overdue, pool__kind=PoolKind.PUBLIC,
                                   phase__in=(Phase.ADMITTED, Phase.RUNNING))
    return len(pool_services.transition_workloads(
        workload_ids=list(live.values_list("pk", flat=True)), to=Phase.STOPPING, reason="Arrears",
        message="The account balance has been below zero longer than the grace period; top up to run work again.",
        skip_illegal=True))


# --- cost tags ----------------------------------------------------------------------------------


@transaction.atomic
def set_cost_tag(*, workspace, workload_id, key: str, value: str) -> CostTag:
    workload = Workload.objects.filter(pk=workload_id, workspace=workspace).first()
    if workload is None:
        raise ValidationError({"workload": "No such workload in this workspace; give one of its workload ids."})
    tag = CostTag.objects.filter(workload=workload, key=key).first() or CostTag(workload=workload, key=key)
    tag.value = value
    tag.full_clean()
    tag.save()
    return tag


@transaction.atomic
def delete_cost_tag(*, tag: CostTag) -> None:
    tag.delete()


# --- bills --------------------------------------------------------------------------------------


def bill_lines_for(*, account_id, period) -> list[BillLine]:
    """A month's lines. A usage line sums what the rating runs charged one workload for one
    flavor, mode, unit price and package, and costs unit price × exact node-hours, rounded
    half-up once; a purchase line carries its (already rounded) amount."""
    usage, lines = defaultdict(int), []
    for workspace_id, workload_id, name, _, mode, flavor_id, package_id, unit_price, seconds in (
            selectors.rated_usage_lines(account_id=account_id, period=period)):
        usage[(workspace_id, workload_id, name, mode, flavor_id, package_id, Decimal(unit_price))] += seconds
    for c in selectors.charges_of_month(account_id=account_id, period=period):
        if c["unit"] == "node-hour":  # usage charged before RatedUsage
            usage[(str(c["workspace_id"]), c["resource_id"], c["resource_name"], c["mode"], c["flavor_id"],
                   c["package_id"], c["unit_price"])] += c["node_seconds"]
        else:
            lines.append(c)
    tokens = defaultdict(int)
    for workspace_id, service_id, name, _, mode, direction, flavor_id, unit_price, count in (
            selectors.rated_token_lines(account_id=account_id, period=period)):
        tokens[(workspace_id, service_id, name, mode, direction, flavor_id, Decimal(unit_price))] += count
    for (workspace_id, service_id, name, mode, direction, flavor_id, unit_price), count in tokens.items():
        lines.append({"workspace_id": workspace_id, "resource_type": ResourceType.SERVICE, "resource_id": service_id,
                      "resource_name": name, "mode": mode, "flavor_id": flavor_id,
                      "unit": f"1M {direction} tokens", "unit_price": unit_price, "package_id": None,
                      "quantity": (Decimal(count) / 1_000_000).quantize(Decimal("0.000001")),
                      "amount": rules.money(rules.token_amount(per_million=unit_price, tokens=count)),
                      "key": "", "description": f"{count} {direction} tokens"})
    for (workspace_id, workload_id, name, mode, flavor_id, package_id, unit_price), seconds in usage.items():
        lines.append({"workspace_id": workspace_id, "resource_type": ResourceType.WORKLOAD, "resource_id": workload_id,
                      "resource_name": name, "mode": mode, "flavor_id": flavor_id, "unit": "node-hour",
                      "unit_price": unit_price, "package_id": package_id, "node_seconds": seconds, "key": "",
                      "description": ""})
    workspaces = dict(Workspace.objects.filter(pk__in={c["workspace_id"] for c in lines if c["workspace_id"]})
                      .values_list("pk", "name"))
    flavors = dict(Flavor.objects.filter(pk__in={c["flavor_id"] for c in lines if c["flavor_id"]})
                   .values_list("pk", "name"))
    tags = defaultdict(dict)
    for workload_id, key, value in CostTag.objects.filter(workload__workspace__account_id=account_id).values_list(
            "workload_id", "key", "value"):
        tags[str(workload_id)][key] = value
    lines.sort(key=lambda c: (c["resource_type"], c["resource_name"], c["resource_id"], c["mode"],
                              flavors.get(c["flavor_id"], ""), c["unit_price"], c["package_id"] is not None,
                              c["package_id"] or 0, c["key"]))
    bill_lines = []
    for c in lines:
        workspace_id = uuid.UUID(str(c["workspace_id"])) if c["workspace_id"] else None
        if c["unit"] == "node-hour":
            quantity = (Decimal(c["node_seconds"]) / 3600).quantize(Decimal("0.000001"))
            amount = rules.money(rules.usage_amount(hourly=c["unit_price"], node_seconds=c["node_seconds"]))
        else:
            quantity, amount = c["quantity"], c["amount"]
        bill_lines.append(BillLine(
            workspace_id=workspace_id, workspace_name=workspaces.get(workspace_id, ""),
            resource_type=c["resource_type"], resource_id=c["resource_id"], resource_name=c["resource_name"],
            mode=c["mode"], flavor_name=flavors.get(c["flavor_id"], ""), unit=c["unit"], quantity=quantity,
            unit_price=c["unit_price"], amount=amount,
            description=c["description"] or (f"package {c['package_id']}" if c["package_id"] else ""),
            tags=tags.get(c["resource_id"], {}) if c["resource_type"] == ResourceType.WORKLOAD else {}))
    return bill_lines


def generate_bill(*, account: Account, period, now: datetime | None = None) -> Bill:
    """(Re)generate an account's bill for the month starting `period`, after rating its pending
    usage. A month is closed once it is over by the settle time; its charges no longer change,
    so its bill comes out the same every time."""
    now = now or timezone.now()
    period = period.replace(day=1)
    rate_usage(account_ids=[account.pk], now=now)
    with transaction.atomic():
        locked_billing_account(account_id=account.pk)
        lines = bill_lines_for(account_id=account.pk, period=period)
        next_month = rules.term_end(datetime(period.year, period.month, 1, tzinfo=UTC), 1)
        bill, _ = Bill.objects.select_for_update().get_or_create(
            account=account, period=period, defaults={"generated_at": now})
        bill.lines.all().delete()
        for line in lines:
            line.bill = bill
        BillLine.objects.bulk_create(lines)
        bill.total = sum((line.amount for line in lines), Decimal("0.00"))
        # Usage of the month's last hour is metered and rated just after it; the settle time covers that.
        bill.closed = now >= next_month + timedelta(hours=settings.BILLING_BILL_SETTLE_HOURS)
        bill.generated_at = now
        bill.full_clean()
        bill.save()
    return bill


def generate_bills(*, now: datetime | None = None) -> int:
    """This month's (open) bills and last month's for every account with charges, after metering
    what has run up to now."""
    now = now or timezone.now()
    meter_usage(now=now)
    this_month = rules.month_start(now)
    last_month = rules.month_start(now.replace(day=1) - timedelta(days=1))
    generated = 0
    for period in (last_month, this_month):
        for account in selectors.accounts_billed_in(period=period):
            generate_bill(account=account, period=period, now=now)
            generated += 1
    return generated

"""Prices, usage, charges, balances, subscriptions, packages, notifications and bills.

Money is Decimal: prices and bill amounts to the cent (node-hour prices to 0.0001), the balance
and ledger to 10 decimal places so pay-per-use is debited at full precision and rounded only once
per bill line. Usage is counted in node-seconds (integers), which are exact."""

import uuid
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from aiplatform import jsoncodec
from aiplatform.models import Account, Workspace
from resourcepools.models import Flavor, PodSet, ResourcePool, Workload

MONEY = {"max_digits": 16, "decimal_places": 2}
EXACT = {"max_digits": 28, "decimal_places": 10}
HOURLY = {"max_digits": 16, "decimal_places": 4}


class JSONText(models.TextField):
    """A JSON value kept as its text. For what is written in bulk and read whole, never queried
    into: PostgreSQL's jsonb parsed every rating run's lines, three quarters of writing them."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else jsoncodec.loads(value)

    def to_python(self, value):
        return jsoncodec.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value):
        return None if value is None else jsoncodec.dumps(value).decode()

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))


class Price(models.Model):
    """The catalog: one row per flavor per price change. The row in force at a moment is the
    latest whose effective_from is not after it, so a new price never rewrites past charges."""

    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="prices")
    pay_per_use_hourly = models.DecimalField(**HOURLY, validators=[MinValueValidator(0)],
                                             help_text="Per node-hour on public pools.")
    monthly = models.DecimalField(**MONEY, validators=[MinValueValidator(0)], help_text="Per node per month.")
    yearly = models.DecimalField(**MONEY, validators=[MinValueValidator(0)], help_text="Per node per year.")
    # Services on this flavor may also be priced by what they serve through the gateway.
    input_tokens_per_million = models.DecimalField(
        **HOURLY, null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="Per million prompt tokens of services on this flavor; empty: tokens are not charged.")
    output_tokens_per_million = models.DecimalField(
        **HOURLY, null=True, blank=True, validators=[MinValueValidator(0)],
        help_text="Per million completion tokens of services on this flavor; empty: tokens are not charged.")
    currency = models.CharField(max_length=3, default="CNY")
    effective_from = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["flavor__name", "-effective_from"]
        constraints = [models.UniqueConstraint(fields=["flavor", "effective_from"], name="price_unique_change")]

    def __str__(self):
        return f"{self.flavor_id} from {self.effective_from:%Y-%m-%d %H:%M}"


class BillingAccount(models.Model):
    """An account's prepaid balance and how far its usage has been rated. Rating and metering
    lock this row, which orders them per account."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, primary_key=True, related_name="billing")
    balance = models.DecimalField(**EXACT, default=0)
    arrears_since = models.DateTimeField(null=True, blank=True,
                                         help_text="When the balance went below zero; empty when it is not.")
    rated_through_id = models.BigIntegerField(
        default=0, help_text="Every usage record of the account up to this id is rated.")
    tokens_rated_through_id = models.BigIntegerField(
        default=0, help_text="Every token usage record of the account up to this id is rated.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.account_id}: {self.balance}"


class LedgerKind(models.TextChoices):
    TOP_UP = "top_up"
    PAY_PER_USE = "pay_per_use"
    SUBSCRIPTION = "subscription"
    PACKAGE = "package"
    REFUND = "refund"


class LedgerEntry(models.Model):
    """Every change of a balance. `key` makes each charge happen at most once."""

    # Money keeps its database constraint: an entry never outlives, or points past, its account.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(**EXACT, help_text="Positive credits, negative debits.")
    balance_after = models.DecimalField(**EXACT)
    key = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"
        # A constraint rather than unique=True, which would add an index for LIKE that no one uses.
        constraints = [models.UniqueConstraint(fields=["key"], name="ledger_entry_once")]

    def __str__(self):
        return f"{self.kind} {self.amount}"


class UsageRecord(models.Model):
    """One pod set running for (part of) one clock hour. The key (pod set, hour) makes
    re-metering add nothing."""

    key = models.CharField(max_length=100, unique=True)
    # The account's and the pod set's look-ups go through the indexes below, which start with them.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    workload = models.ForeignKey(Workload, on_delete=models.PROTECT, related_name="+")
    pod_set = models.ForeignKey(PodSet, on_delete=models.PROTECT, related_name="+", db_index=False)
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="+")
    dedicated = models.BooleanField(help_text="Dedicated pools are paid by subscription, not per use.")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    family = models.CharField(max_length=64)
    replicas = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    node_seconds = models.BigIntegerField(help_text="replicas × seconds")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["account", "id"], name="usage_account_rating"),
            # What rating sums up, in the order it sums it up: read instead of the table (a third
            # of its width), each pod set's runs come one after the other, so no hashing.
            models.Index(fields=["pod_set", "replicas", "node_seconds", "started_at"], include=["id"],
                         name="usage_runs"),
        ]

    def __str__(self):
        return self.key


class WorkloadMeter(models.Model):
    """How far a workload has been metered; closed once its running interval is all recorded."""

    workload = models.OneToOneField(Workload, on_delete=models.CASCADE, primary_key=True, related_name="+")
    metered_until = models.DateTimeField()
    closed = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.workload_id} until {self.metered_until:%Y-%m-%d %H:%M}"


class ChargeMode(models.TextChoices):
    PAY_PER_USE = "pay_per_use", "Pay per use"
    PACKAGE = "package", "Package deduction"
    SUBSCRIPTION = "subscription", "Subscription"


class ResourceType(models.TextChoices):
    WORKLOAD = "workload"
    POOL = "pool"
    PACKAGE = "package"
    SERVICE = "service"


class Charge(models.Model):
    """A purchase (subscription, renewal, added nodes, package) or, written before rating kept
    its results per run (`RatedUsage`), a resource's rated use in a month: what bill lines are
    made of, with rated usage.

    Its references are database constraints as well as PROTECT. Only what reads need is
    indexed: flavors and packages, which the ORM looks up before deleting one, are deleted by
    operators, rarely."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    period = models.DateField(help_text="The first day of the month billed.")
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resource_type = models.CharField(max_length=20, choices=ResourceType.choices)
    resource_id = models.CharField(max_length=64)
    resource_name = models.CharField(max_length=200)
    mode = models.CharField(max_length=20, choices=ChargeMode.choices)
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                               db_index=False)
    package = models.ForeignKey("Package", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                db_index=False)
    unit = models.CharField(max_length=20, help_text="node-hour, node-month, node-year or package")
    unit_price = models.DecimalField(**HOURLY)
    node_seconds = models.BigIntegerField(default=0, help_text="Usage lines: the exact quantity.")
    quantity = models.DecimalField(max_digits=20, decimal_places=6, default=0, help_text="Purchase lines.")
    amount = models.DecimalField(**MONEY, default=0, help_text="Purchase lines, to the cent.")
    key = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period", "resource_type", "resource_name", "mode", "id"]
        # The account index is the first half of charge_account_period; the key needs no LIKE index.
        indexes = [models.Index(fields=["account", "period"], name="charge_account_period")]
        constraints = [models.UniqueConstraint(fields=["key"], name="charge_unique_key")]

    def __str__(self):
        return self.key


class RatedUsage(models.Model):
    """What one rating run made of an account's usage records with ids in (after, through]: its
    lines, one per month, workload, flavor, mode, unit price and package, grouped by workload:
    [[workspace id, workload id, workload name, [[period, mode, flavor id, package id or null,
    unit price, node-seconds], …]], …]. A bill line sums the lines of its month over the runs.

    One row per account and run, whatever the number of workloads: rating writes a thousand
    accounts' results in the time one row per line would take for a few dozen. Each workload is
    named once per run rather than on each of its lines, which halves what is written."""

    # A line as `flat_lines` gives it.
    LINE_FIELDS = ("workspace_id", "workload_id", "workload_name", "period", "mode", "flavor_id", "package_id",
                   "unit_price", "node_seconds")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    after = models.BigIntegerField(help_text="The run rated the usage records with ids above this…")
    through = models.BigIntegerField(help_text="…up to and including this.")
    first_period = models.DateField(help_text="The first month its lines are billed in.")
    last_period = models.DateField(help_text="The last month its lines are billed in.")
    lines = JSONText(default=list)
    pay_per_use = models.DecimalField(max_digits=24, decimal_places=10, default=0,
                                      help_text="The exact pay-per-use amount debited for the run.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "through"]
        constraints = [models.UniqueConstraint(fields=["account", "through"], name="rated_usage_once_per_run")]
        # A bill reads the runs whose months reach its month, of one account or of all: runs
        # billed in older months are passed over.
        indexes = [models.Index(fields=["account", "last_period"], name="rated_usage_account_month"),
                   models.Index(fields=["last_period"], name="rated_usage_month")]

    def __str__(self):
        return f"usage of {self.account_id} rated through record {self.through}"

    @staticmethod
    def flat_lines(lines: list) -> Iterator[tuple]:
        """A run's lines one by one (LINE_FIELDS)."""
        for workspace_id, workload_id, name, charges in lines:
            for charge in charges:
                yield workspace_id, workload_id, name, *charge


class TokenDirection(models.TextChoices):
    INPUT = "input", "Prompt tokens"
    OUTPUT = "output", "Completion tokens"


class TokenUsageRecord(models.Model):
    """Tokens a service served through the gateway, from one batch of the gateway's metering
    (gateway.models.MeterBatch): the key (batch, service) makes a batch written twice add nothing."""

    key = models.CharField(max_length=100, unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    # The service's id and name, not a reference: billing sits below inference, and a bill keeps
    # naming a service that was deleted.
    service_id = models.UUIDField()
    service_name = models.CharField(max_length=100)
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(help_text="The first minute of the batch's traffic.")
    ended_at = models.DateTimeField()
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["account", "id"], name="token_usage_account_rating")]

    def __str__(self):
        return self.key


class RatedTokenUsage(models.Model):
    """What one rating run charged an account for tokens (records with ids in (after, through]):
    its lines [[workspace id, service id, service name, period, mode, direction, flavor id, unit
    price per million, tokens], …], one per month, service, direction, flavor and price."""

    LINE_FIELDS = ("workspace_id", "service_id", "service_name", "period", "mode", "direction", "flavor_id",
                   "unit_price", "tokens")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    after = models.BigIntegerField()
    through = models.BigIntegerField()
    first_period = models.DateField()
    last_period = models.DateField()
    lines = JSONText(default=list)
    pay_per_use = models.DecimalField(max_digits=24, decimal_places=10, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "through"]
        constraints = [models.UniqueConstraint(fields=["account", "through"], name="rated_tokens_once_per_run")]
        indexes = [models.Index(fields=["account", "last_period"], name="rated_tokens_account_month")]

    def __str__(self):
        return f"tokens of {self.account_id} rated through record {self.through}"


class SubscriptionPeriod(models.TextChoices):
    MONTHLY = "monthly"
    YEARLY = "yearly"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired", "Expired (pool frozen)"
    RELEASED = "released"
    UNSUBSCRIBED = "unsubscribed"


SUBSCRIPTION_TRANSITIONS = {
    SubscriptionStatus.ACTIVE: {SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED, SubscriptionStatus.UNSUBSCRIBED},
    SubscriptionStatus.EXPIRED: {SubscriptionStatus.ACTIVE, SubscriptionStatus.EXPIRED, SubscriptionStatus.RELEASED,
                                 SubscriptionStatus.UNSUBSCRIBED},
    SubscriptionStatus.RELEASED: set(),
    SubscriptionStatus.UNSUBSCRIBED: set(),
}


class Subscription(models.Model):
    """A dedicated pool bought for N months or years. The term runs from purchase to the same
    clock time N calendar months later (clamped to the end of a shorter month)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="subscriptions")
    pool = models.OneToOneField(ResourcePool, on_delete=models.PROTECT, related_name="subscription")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    nodes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    period = models.CharField(max_length=10, choices=SubscriptionPeriod.choices)
    periods = models.PositiveIntegerField(validators=[MinValueValidator(1)],
                                          help_text="Months or years bought so far, renewals included.")
    unit_price = models.DecimalField(**MONEY, help_text="Per node per period, at purchase.")
    currency = models.CharField(max_length=3, default="CNY")
    paid = models.DecimalField(**MONEY, default=0, help_text="Everything paid, less refunds.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    auto_renew = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE)
    work_stopped = models.BooleanField(default=False, help_text="Running work stopped after the grace period.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["status", "ends_at"], name="subscription_due")]

    def __str__(self):
        return f"{self.pool_id} until {self.ends_at:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.ends_at and self.starts_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The term must end after it starts."})


class SubscriptionEvent(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, blank=True, default="")
    to_status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    reason = models.CharField(max_length=100)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.reason}: {self.from_status or '-'} → {self.to_status}"


class PackageOffer(models.Model):
    """What operators sell: node-hours of a flavor family on public pools, valid for N months."""

    name = models.CharField(max_length=100, unique=True)
    family = models.CharField(max_length=64)
    node_hours = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    validity_months = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3, default="CNY")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["family", "node_hours"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.family and not Flavor.objects.filter(family=self.family).exists():
            families = sorted(set(Flavor.objects.values_list("family", flat=True)))
            raise ValidationError({"family": f"No flavor family '{self.family}'; choose one of: "
                                             f"{', '.join(families) or 'none yet'}."})


class Package(models.Model):
    """A bought package. Usage it matches is deducted from it before pay-per-use."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="packages")
    offer = models.ForeignKey(PackageOffer, on_delete=models.PROTECT, related_name="+")
    family = models.CharField(max_length=64)
    node_seconds_total = models.BigIntegerField()
    node_seconds_used = models.BigIntegerField(default=0)
    price = models.DecimalField(**MONEY)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    expiry_warned = models.BooleanField(default=False)
    purchased_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["valid_until", "purchased_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(node_seconds_used__gte=0, node_seconds_used__lte=models.F("node_seconds_total")),
                name="package_never_overdrawn",
            )
        ]

    def __str__(self):
        return f"{self.offer_id} for {self.account_id}"

    @property
    def node_hours_total(self):
        return Decimal(self.node_seconds_total) / 3600

    @property
    def node_hours_used(self):
        return Decimal(self.node_seconds_used) / 3600

    @property
    def remaining_node_seconds(self):
        return self.node_seconds_total - self.node_seconds_used


class Notification(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    message = models.TextField()
    key = models.CharField(max_length=200, help_text="One notification per event, however often seen.")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key"], name="notification_once")]

    def __str__(self):
        return self.subject


class CostTag(models.Model):
    """A cost-allocation tag on a workload (e.g. team=nlp), copied onto its bill lines."""

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, validators=[
        RegexValidator(r"^[A-Za-z0-9_.-]+$", "Use letters, digits, dots, hyphens and underscores.")])
    value = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["workload", "key"], name="cost_tag_unique_key")]

    def __str__(self):
        return f"{self.key}={self.value}"


class Bill(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="bills")
    period = models.DateField(help_text="The first day of the month billed.")
    currency = models.CharField(max_length=3, default="CNY")
    total = models.DecimalField(**MONEY, default=0)
    closed = models.BooleanField(default=False, help_text="The month is over.")
    generated_at = models.DateTimeField()

    class Meta:
        ordering = ["-period", "account_id"]
        constraints = [models.UniqueConstraint(fields=["account", "period"], name="bill_unique_month")]

    def __str__(self):
        return f"{self.account_id} {self.period:%Y-%m}"


class BillLine(models.Model):
    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="lines")
    workspace = models.ForeignKey(Workspace, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    workspace_name = models.CharField(max_length=100, blank=True, default="")
    resource_type = models.CharField(max_length=20, choices=ResourceType.choices)
    resource_id = models.CharField(max_length=64)
    resource_name = models.CharField(max_length=200)
    mode = models.CharField(max_length=20, choices=ChargeMode.choices)
    flavor_name = models.CharField(max_length=64, blank=True, default="")
    unit = models.CharField(max_length=20)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    unit_price = models.DecimalField(**HOURLY)
    amount = models.DecimalField(**MONEY)
    description = models.CharField(max_length=500, blank=True, default="")
    tags = models.JSONField(default=dict, blank=True, help_text="The workload's cost tags when the bill was made.")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.resource_name} {self.mode} {self.amount}"

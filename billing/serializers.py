"""Billing serializers. Responses of creating POSTs are stored as JSON for idempotent replays,
so they render related ids (UUIDs) as strings."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from rest_framework import serializers

from aiplatform.models import Account
from resourcepools.models import Flavor

from .models import (
    Bill,
    BillingAccount,
    BillLine,
    CostTag,
    LedgerEntry,
    Notification,
    Package,
    PackageOffer,
    Price,
    Subscription,
    SubscriptionEvent,
    SubscriptionPeriod,
    UsageRecord,
)

FLAVOR = {"slug_field": "name", "queryset": Flavor.objects.all()}


class PriceSerializer(serializers.ModelSerializer):
    flavor = serializers.SlugRelatedField(**FLAVOR)
    family = serializers.CharField(source="flavor.family", read_only=True)
    effective_from = serializers.DateTimeField(required=False, help_text="Default: now. Never in the past.")

    class Meta:
        model = Price
        fields = ["id", "flavor", "family", "pay_per_use_hourly", "monthly", "yearly", "input_tokens_per_million",
                  "output_tokens_per_million", "currency", "effective_from", "created_at"]
        read_only_fields = ["id", "family", "created_at"]
        validators = []


# Bounds that keep a typo (nodes=1000000) from becoming a purchase.
MAX_NODES = 1000
MAX_PERIODS = 120


class EstimateQuerySerializer(serializers.Serializer):
    flavor = serializers.SlugRelatedField(**FLAVOR)
    nodes = serializers.IntegerField(min_value=1, max_value=MAX_NODES, default=1)
    mode = serializers.ChoiceField(choices=["pay_per_use", *SubscriptionPeriod.values], default="pay_per_use")
    periods = serializers.IntegerField(min_value=1, max_value=MAX_PERIODS, default=1,
                                       help_text="Months or years of a subscription.")


class EstimateSerializer(serializers.Serializer):
    flavor = serializers.CharField()
    nodes = serializers.IntegerField()
    mode = serializers.CharField()
    periods = serializers.IntegerField(allow_null=True)
    currency = serializers.CharField()
    unit = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=16, decimal_places=4)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    per = serializers.ChoiceField(choices=["hour", "term"], help_text="amount is per hour, or for the whole term")
    ends_at = serializers.DateTimeField(allow_null=True)


class PackageOfferSerializer(serializers.ModelSerializer):
    class Meta:
        model = PackageOffer
        fields = ["id", "name", "family", "node_hours", "validity_months", "price", "currency", "is_active",
                  "created_at"]
        read_only_fields = ["id", "created_at"]


class BillingAccountSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    balance = serializers.DecimalField(max_digits=28, decimal_places=2, read_only=True, rounding=ROUND_HALF_UP,
                                       help_text="Rounded half-up to the cent; kept to 10 decimals.")
    exact_balance = serializers.DecimalField(source="balance", max_digits=28, decimal_places=10, read_only=True)
    in_arrears = serializers.SerializerMethodField()

    class Meta:
        model = BillingAccount
        fields = ["account", "account_name", "balance", "exact_balance", "in_arrears", "arrears_since", "updated_at"]
        read_only_fields = fields

    def get_in_arrears(self, billing) -> bool:
        return billing.balance < 0


class LedgerEntrySerializer(serializers.ModelSerializer):
    account = serializers.UUIDField(source="account_id", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "account", "kind", "amount", "balance_after", "key", "description", "created_at"]
        read_only_fields = fields


class TopUpSerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(queryset=Account.objects.all())
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=Decimal("0.01"))
    note = serializers.CharField(max_length=400, required=False, allow_blank=True, default="")


class SubscriptionSerializer(serializers.ModelSerializer):
    flavor = serializers.SlugRelatedField(**FLAVOR)
    account = serializers.UUIDField(source="account_id", read_only=True)
    pool = serializers.UUIDField(source="pool_id", read_only=True)
    pool_name = serializers.CharField(source="pool.name", read_only=True)
    pool_status = serializers.CharField(source="pool.status", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "account", "pool", "pool_name", "pool_status", "flavor", "nodes", "period", "periods",
                  "unit_price", "currency", "paid", "starts_at", "ends_at", "auto_renew", "status", "work_stopped",
                  "created_at"]
        read_only_fields = fields


class SubscriptionCreateSerializer(serializers.Serializer):
    pool_name = serializers.SlugField(max_length=63, help_text="Name of the dedicated pool to create.")
    flavor = serializers.SlugRelatedField(**FLAVOR)
    nodes = serializers.IntegerField(min_value=1, max_value=MAX_NODES)
    period = serializers.ChoiceField(choices=SubscriptionPeriod.choices)
    periods = serializers.IntegerField(min_value=1, max_value=MAX_PERIODS, help_text="How many months or years.")
    auto_renew = serializers.BooleanField(default=False)


class SubscriptionUpdateSerializer(serializers.Serializer):
    auto_renew = serializers.BooleanField()


class PeriodsSerializer(serializers.Serializer):
    periods = serializers.IntegerField(min_value=1, max_value=MAX_PERIODS)


class NodesSerializer(serializers.Serializer):
    nodes = serializers.IntegerField(min_value=1, max_value=MAX_NODES)


class SubscriptionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SubscriptionEvent
        fields = ["id", "from_status", "to_status", "reason", "message", "created_at"]
        read_only_fields = fields


class PackageSerializer(serializers.ModelSerializer):
    account = serializers.UUIDField(source="account_id", read_only=True)
    offer_name = serializers.CharField(source="offer.name", read_only=True)
    node_hours_total = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True)
    node_hours_used = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Package
        fields = ["id", "account", "offer", "offer_name", "family", "node_hours_total", "node_hours_used",
                  "status", "price", "valid_from", "valid_until", "purchased_at"]
        read_only_fields = fields

    def get_status(self, package) -> str:
        if package.remaining_node_seconds <= 0:
            return "used_up"
        return "expired" if package.valid_until <= timezone.now() else "active"


class PackageBuySerializer(serializers.Serializer):
    offer = serializers.PrimaryKeyRelatedField(queryset=PackageOffer.objects.all())


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "message", "created_at", "read_at"]
        read_only_fields = fields


class UsageRecordSerializer(serializers.ModelSerializer):
    workload_name = serializers.CharField(source="workload.name", read_only=True)
    flavor = serializers.CharField(source="flavor.name", read_only=True)
    pool_name = serializers.CharField(source="pool.name", read_only=True)

    class Meta:
        model = UsageRecord
        fields = ["id", "key", "workspace", "workload", "workload_name", "pod_set", "pool", "pool_name", "dedicated",
                  "flavor", "family", "replicas", "started_at", "ended_at", "node_seconds"]
        read_only_fields = fields


class BillSerializer(serializers.ModelSerializer):
    account = serializers.UUIDField(source="account_id", read_only=True)
    scope = serializers.ChoiceField(
        choices=["account", "workspaces"], read_only=True,
        help_text="account: the whole bill (account admins, operators); workspaces: only the lines of the "
                  "workspaces you are a member of, and `total` is theirs.")
    total = serializers.DecimalField(source="scoped_total", max_digits=16, decimal_places=2, read_only=True)

    class Meta:
        model = Bill
        fields = ["id", "account", "period", "currency", "scope", "total", "closed", "generated_at"]
        read_only_fields = fields


class BillGenerateSerializer(serializers.Serializer):
    period = serializers.DateField(help_text="Any day of the month to bill; e.g. 2023-04-01.")


class BillLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillLine
        fields = ["id", "workspace", "workspace_name", "resource_type", "resource_id", "resource_name", "mode",
                  "flavor_name", "unit", "quantity", "unit_price", "amount", "description", "tags"]
        read_only_fields = fields


class CostTagSerializer(serializers.ModelSerializer):
    workload = serializers.UUIDField()
    workload_name = serializers.CharField(source="workload.name", read_only=True)

    class Meta:
        model = CostTag
        fields = ["id", "workload", "workload_name", "key", "value", "created_at"]
        read_only_fields = ["id", "workload_name", "created_at"]
        validators = []

    def to_representation(self, tag):
        data = super().to_representation(tag)
        data["workload"] = str(tag.workload_id)
        return data

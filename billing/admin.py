"""The operators' console. Money moves only through the services (API), so balances, ledger,
usage, charges and bills are read-only here; prices and package offers are edited."""

from django.contrib import admin

from .models import (
    Bill,
    BillingAccount,
    BillLine,
    LedgerEntry,
    Notification,
    Package,
    PackageOffer,
    Price,
    RatedTokenUsage,
    RatedUsage,
    Subscription,
    SubscriptionEvent,
    TokenUsageRecord,
    UsageRecord,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Price)
class PriceAdmin(ReadOnlyAdmin):
    """Prices are published through the API (never in the past), so past charges keep theirs."""

    list_display = ["flavor", "pay_per_use_hourly", "monthly", "yearly", "currency", "effective_from"]
    list_filter = ["currency", "flavor__family"]
    list_select_related = ["flavor"]


@admin.register(PackageOffer)
class PackageOfferAdmin(admin.ModelAdmin):
    list_display = ["name", "family", "node_hours", "validity_months", "price", "currency", "is_active"]
    list_filter = ["family", "is_active"]


@admin.register(BillingAccount)
class BillingAccountAdmin(ReadOnlyAdmin):
    list_display = ["account", "balance", "arrears_since", "rated_through_id", "updated_at"]
    list_select_related = ["account"]
    search_fields = ["account__name"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "amount", "balance_after", "description"]
    list_filter = ["kind"]
    list_select_related = ["account"]
    search_fields = ["account__name", "key"]


class SubscriptionEventInline(admin.TabularInline):
    model = SubscriptionEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "from_status", "to_status", "reason", "message"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["pool", "account", "flavor", "nodes", "period", "periods", "paid", "starts_at", "ends_at",
                    "status", "auto_renew"]
    list_filter = ["status", "period"]
    list_select_related = ["pool", "account", "flavor"]
    inlines = [SubscriptionEventInline]


@admin.register(Package)
class PackageAdmin(ReadOnlyAdmin):
    list_display = ["account", "offer", "family", "node_seconds_total", "node_seconds_used", "valid_from",
                    "valid_until"]
    list_select_related = ["account", "offer"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["key", "account", "workload", "flavor", "dedicated", "started_at", "ended_at", "node_seconds"]
    list_filter = ["dedicated", "family"]
    list_select_related = ["account", "workload", "flavor"]


@admin.register(RatedUsage)
class RatedUsageAdmin(ReadOnlyAdmin):
    """What each rating run charged an account, line by line."""

    list_display = ["account", "after", "through", "first_period", "last_period", "pay_per_use", "created_at"]
    list_filter = ["first_period"]
    search_fields = ["account__name"]
    list_select_related = ["account"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "kind", "subject", "read_at"]
    list_filter = ["kind"]
    list_select_related = ["account"]


class BillLineInline(admin.TabularInline):
    model = BillLine
    extra = 0
    can_delete = False
    fields = ["workspace_name", "resource_type", "resource_name", "mode", "flavor_name", "unit", "quantity",
              "unit_price", "amount"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bill)
class BillAdmin(ReadOnlyAdmin):
    list_display = ["account", "period", "total", "currency", "closed", "generated_at"]
    list_filter = ["closed", "period"]
    list_select_related = ["account"]
    inlines = [BillLineInline]


@admin.register(TokenUsageRecord)
class TokenUsageRecordAdmin(ReadOnlyAdmin):
    """Tokens the gateway metered, per service and metering batch (a batch written twice adds nothing)."""

    list_display = ["key", "account", "service_name", "started_at", "ended_at", "input_tokens", "output_tokens"]
    list_select_related = ["account"]
    search_fields = ["key", "service_name"]


@admin.register(RatedTokenUsage)
class RatedTokenUsageAdmin(ReadOnlyAdmin):
    """What each rating run charged an account for metered tokens."""

    list_display = ["account", "first_period", "last_period", "after", "through", "pay_per_use", "created_at"]
    list_select_related = ["account"]

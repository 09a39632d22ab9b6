"""The operators' console. Money moves only through the services, so balances, ledger, usage,
charges, subscriptions, packages and bills are read-only here, and the operators' money
operations (a top-up, an unsubscription with its refund) are admin actions that call them;
package offers are edited."""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from aiplatform.admin import ServiceBackedAdmin, act

from . import services
from .models import (
    Bill,
    BillingAccount,
    BillLine,
    Charge,
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


class TopUpForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), max_digits=18, decimal_places=2,
                                help_text="Money received, added to each selected account's balance.")
    note = forms.CharField(max_length=200, required=False, help_text="Shown on the ledger entry.")


@admin.register(Price)
class PriceAdmin(ServiceBackedAdmin):
    """Prices are published through the API (never in the past), so past charges keep theirs."""

    list_display = ["flavor", "pay_per_use_hourly", "monthly", "yearly", "currency", "effective_from"]
    list_filter = ["currency", "flavor__family"]
    list_select_related = ["flavor"]


@admin.register(PackageOffer)
class PackageOfferAdmin(admin.ModelAdmin):
    list_display = ["name", "family", "node_hours", "validity_months", "price", "currency", "is_active"]
    list_filter = ["family", "is_active"]


@admin.register(BillingAccount)
class BillingAccountAdmin(ServiceBackedAdmin):
    list_display = ["account", "balance", "arrears_since", "rated_through_id", "updated_at"]
    list_filter = [("arrears_since", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    search_fields = ["account__name"]
    actions = ["top_up"]

    @admin.action(description="Top up the selected accounts…")
    def top_up(self, request, queryset):
        form = TopUpForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            amount, note = form.cleaned_data["amount"], form.cleaned_data["note"]
            act(self, request, queryset.select_related("account"), done=f"Topped up by {amount}",
                operation=lambda billing: services.top_up(account=billing.account, amount=amount,
                                                          created_by=request.user, note=note))
            return None
        return TemplateResponse(request, "admin/billing/billingaccount/top_up.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "accounts": queryset.select_related("account"), "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "title": "Top up accounts",
        })


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ServiceBackedAdmin):
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
class SubscriptionAdmin(ServiceBackedAdmin):
    list_display = ["pool", "account", "flavor", "nodes", "period", "periods", "paid", "starts_at", "ends_at",
                    "status", "auto_renew"]
    list_filter = ["status", "period", "auto_renew"]
    list_select_related = ["pool", "account", "flavor"]
    search_fields = ["pool__name", "account__name"]
    inlines = [SubscriptionEventInline]
    actions = ["unsubscribe"]

    @admin.action(description="Unsubscribe, refunding the unused share of the term")
    def unsubscribe(self, request, queryset):
        act(self, request, queryset, done="Unsubscribed and refunded",
            operation=lambda subscription: services.unsubscribe(subscription=subscription, created_by=request.user))


@admin.register(Charge)
class ChargeAdmin(ServiceBackedAdmin):
    """Purchases (subscriptions, renewals, added nodes, packages) and refunds, and usage charged
    before rating kept its runs."""

    list_display = ["created_at", "account", "period", "resource_type", "resource_name", "mode", "amount"]
    list_filter = ["resource_type", "mode", "period"]
    list_select_related = ["account"]
    search_fields = ["account__name", "resource_name", "key"]


@admin.register(Package)
class PackageAdmin(ServiceBackedAdmin):
    list_display = ["account", "offer", "family", "node_seconds_total", "node_seconds_used", "valid_from",
                    "valid_until"]
    list_filter = ["family"]
    list_select_related = ["account", "offer"]
    search_fields = ["account__name"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ServiceBackedAdmin):
    list_display = ["key", "account", "workload", "flavor", "dedicated", "started_at", "ended_at", "node_seconds"]
    list_filter = ["dedicated", "family"]
    list_select_related = ["account", "workload", "flavor"]


@admin.register(RatedUsage)
class RatedUsageAdmin(ServiceBackedAdmin):
    """What each rating run charged an account, line by line."""

    list_display = ["account", "after", "through", "first_period", "last_period", "pay_per_use", "created_at"]
    list_filter = ["first_period"]
    search_fields = ["account__name"]
    list_select_related = ["account"]


@admin.register(Notification)
class NotificationAdmin(ServiceBackedAdmin):
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
class BillAdmin(ServiceBackedAdmin):
    list_display = ["account", "period", "total", "currency", "closed", "generated_at"]
    list_filter = ["closed", "period"]
    list_select_related = ["account"]
    inlines = [BillLineInline]


@admin.register(TokenUsageRecord)
class TokenUsageRecordAdmin(ServiceBackedAdmin):
    """Tokens the gateway metered, per service and metering batch (a batch written twice adds nothing)."""

    list_display = ["key", "account", "service_name", "started_at", "ended_at", "input_tokens", "output_tokens"]
    list_select_related = ["account"]
    search_fields = ["key", "service_name"]


@admin.register(RatedTokenUsage)
class RatedTokenUsageAdmin(ServiceBackedAdmin):
    """What each rating run charged an account for metered tokens."""

    list_display = ["account", "first_period", "last_period", "after", "through", "pay_per_use", "created_at"]
    list_select_related = ["account"]

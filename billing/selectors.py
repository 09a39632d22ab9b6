"""Read queries of billing. Everything is scoped to the caller's account; operators see all."""

from django.db.models import QuerySet

from aiplatform.selectors import account_member

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
    UsageRecord,
)


def for_caller(queryset: QuerySet, *, user, field: str = "account_id") -> QuerySet:
    if user.is_staff:
        return queryset
    member = account_member(user=user)
    return queryset.filter(**{field: member.account_id}) if member else queryset.none()


def prices() -> QuerySet[Price]:
    return Price.objects.select_related("flavor")


def package_offers() -> QuerySet[PackageOffer]:
    return PackageOffer.objects.all()


def billing_accounts(*, user) -> QuerySet[BillingAccount]:
    return for_caller(BillingAccount.objects.select_related("account"), user=user)


def ledger(*, user) -> QuerySet[LedgerEntry]:
    return for_caller(LedgerEntry.objects.all(), user=user)


def subscriptions(*, user) -> QuerySet[Subscription]:
    return for_caller(Subscription.objects.select_related("pool", "flavor"), user=user)


def packages(*, user) -> QuerySet[Package]:
    return for_caller(Package.objects.select_related("offer"), user=user)


def notifications(*, user) -> QuerySet[Notification]:
    return for_caller(Notification.objects.all(), user=user)


def usage_records(*, user) -> QuerySet[UsageRecord]:
    return for_caller(UsageRecord.objects.select_related("workload", "flavor", "pool"), user=user)


def bills(*, user) -> QuerySet[Bill]:
    return for_caller(Bill.objects.all(), user=user)


def bill_lines(*, bill: Bill) -> QuerySet[BillLine]:
    return BillLine.objects.filter(bill=bill)


def cost_tags(*, workspace) -> QuerySet[CostTag]:
    return CostTag.objects.filter(workload__workspace=workspace).select_related("workload")

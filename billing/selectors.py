"""Read queries of billing. Everything is scoped to the caller (a `BillingReader`): operators
read every account's billing, an account's admins all of their account's, and its other members
only what their workspaces used (usage records and bill lines of the workspaces they belong to,
and bills as the sum of those lines). Balances, the ledger, subscriptions, packages and billing
notifications concern the account's money as a whole: admins only."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from django.db.models import (
    CharField,
    DecimalField,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from aiplatform import sql as aiplatform_sql
from aiplatform.models import Account, AccountMember, Membership

from .models import (
    MONEY,
    Bill,
    BillingAccount,
    BillLine,
    Charge,
    CostTag,
    LedgerEntry,
    Notification,
    Package,
    PackageOffer,
    Price,
    RatedTokenUsage,
    RatedUsage,
    Subscription,
    UsageRecord,
)
from .rating import PricesInForce


@dataclass(frozen=True)
class BillingReader:
    """Who reads billing, and so how much of it."""

    user_id: int
    operator: bool
    account_id: UUID | None
    account_admin: bool

    @property
    def whole_account(self) -> bool:
        return self.operator or self.account_admin

    @property
    def scope(self) -> str:
        return "account" if self.whole_account else "workspaces"


def billing_reader(*, user) -> BillingReader:
    account_id, admin = AccountMember.objects.filter(user=user).values_list("account_id", "is_admin").first() or (
        None, False)
    return BillingReader(user_id=user.pk, operator=user.is_staff, account_id=account_id, account_admin=admin)


def _account_money(queryset: QuerySet, reader: BillingReader) -> QuerySet:
    """What concerns the account as a whole: operators see all, an account's admins theirs."""
    if reader.operator:
        return queryset
    return queryset.filter(account_id=reader.account_id) if reader.account_admin else queryset.none()


def _member_workspaces(reader: BillingReader) -> QuerySet:
    return Membership.objects.filter(user_id=reader.user_id, workspace__account_id=reader.account_id).values(
        "workspace_id")


def _of_workspaces(queryset: QuerySet, reader: BillingReader, *, workspace: str = "workspace_id") -> QuerySet:
    """What belongs to workspaces: the whole account's to its admins, the reader's workspaces' to
    other members (none to a member of no workspace)."""
    if reader.operator:
        return queryset
    if reader.account_id is None:
        return queryset.none()
    if reader.account_admin:
        return queryset
    return queryset.filter(**{f"{workspace}__in": _member_workspaces(reader)})


def prices() -> QuerySet[Price]:
    return Price.objects.select_related("flavor")


def package_offers() -> QuerySet[PackageOffer]:
    return PackageOffer.objects.all()


def billing_accounts(*, reader: BillingReader) -> QuerySet[BillingAccount]:
    return _account_money(BillingAccount.objects.select_related("account"), reader)


def ledger(*, reader: BillingReader) -> QuerySet[LedgerEntry]:
    return _account_money(LedgerEntry.objects.all(), reader)


def subscriptions(*, reader: BillingReader) -> QuerySet[Subscription]:
    return _account_money(Subscription.objects.select_related("pool", "flavor"), reader)


def packages(*, reader: BillingReader) -> QuerySet[Package]:
    return _account_money(Package.objects.select_related("offer"), reader)


def notifications(*, reader: BillingReader) -> QuerySet[Notification]:
    return _account_money(Notification.objects.all(), reader)


def usage_records(*, reader: BillingReader) -> QuerySet[UsageRecord]:
    records = UsageRecord.objects.select_related("workload", "flavor", "pool")
    if not reader.operator:
        records = records.filter(account_id=reader.account_id)
    return _of_workspaces(records, reader)


def bills(*, reader: BillingReader) -> QuerySet[Bill]:
    """The reader's bills with `scoped_total` (and `scope`): the whole bill's total for those who
    read the whole account, else the sum of the lines of the reader's workspaces, and then only
    bills that have such lines."""
    scope = Value(reader.scope, output_field=CharField())
    if reader.whole_account:
        return _account_money(Bill.objects.all(), reader).annotate(scoped_total=F("total"), scope=scope)
    if reader.account_id is None:
        return Bill.objects.none()
    lines = BillLine.objects.filter(bill=OuterRef("pk"), workspace_id__in=_member_workspaces(reader))
    total = lines.order_by().values("bill").annotate(sum=Sum("amount")).values("sum")
    return Bill.objects.filter(Exists(lines), account_id=reader.account_id).annotate(
        scoped_total=Coalesce(Subquery(total), Value(0), output_field=DecimalField(**MONEY)), scope=scope)


def charges_of_month(*, account_id, period) -> QuerySet:
    """An account's charges of a month, as values."""
    return Charge.objects.filter(account_id=account_id, period=period).values(
        "workspace_id", "resource_type", "resource_id", "resource_name", "mode", "flavor_id", "unit", "unit_price",
        "package_id", "node_seconds", "quantity", "amount", "key", "description").order_by("id")


def rated_usage_lines(*, account_id, period) -> Iterator[tuple]:
    """The lines of the account's rating runs billed in a month (RatedUsage.LINE_FIELDS)."""
    month = period.isoformat()
    for lines in RatedUsage.objects.filter(account_id=account_id, first_period__lte=period,
                                           last_period__gte=period).values_list("lines", flat=True).iterator():
        yield from (line for line in RatedUsage.flat_lines(lines) if line[3] == month)


def rated_token_lines(*, account_id, period) -> Iterator[tuple]:
    """The token lines of the account's rating runs billed in a month (RatedTokenUsage.LINE_FIELDS)."""
    month = period.isoformat()
    for lines in RatedTokenUsage.objects.filter(account_id=account_id, first_period__lte=period,
                                                last_period__gte=period).values_list("lines", flat=True).iterator():
        yield from (tuple(line) for line in lines if line[3] == month)


def accounts_billed_in(*, period) -> QuerySet:
    """Accounts with charges or rated usage (of nodes or tokens) in a month."""
    return Account.objects.filter(
        Q(pk__in=Charge.objects.filter(period=period).values("account_id"))
        | Q(pk__in=RatedUsage.objects.filter(first_period__lte=period, last_period__gte=period).values("account_id"))
        | Q(pk__in=RatedTokenUsage.objects.filter(first_period__lte=period, last_period__gte=period)
            .values("account_id")))


def bill_lines(*, bill: Bill, reader: BillingReader) -> QuerySet[BillLine]:
    return _of_workspaces(BillLine.objects.filter(bill=bill), reader)


def cost_tags(*, workspace) -> QuerySet[CostTag]:
    return CostTag.objects.filter(workload__workspace=workspace).select_related("workload")


# --- rating reads -------------------------------------------------------------------------------


def _usage_in_range(*, account_ids, after: int, through: int):
    """The records with ids in (after, through], of these accounts or (None) of any."""
    records = UsageRecord.objects.filter(pk__gt=after, pk__lte=through).order_by()
    return records if account_ids is None else records.filter(account_id__in=list(account_ids))


def first_unpriced_usage(*, flavor_ids, account_ids, after: int, through: int) -> dict[str, int]:
    """Per account, the first pay-per-use record in the range of a flavor that has no price."""
    return {str(account_id): first for account_id, first in _usage_in_range(
        account_ids=account_ids, after=after, through=through).filter(
        flavor_id__in=list(flavor_ids), dedicated=False).values_list("account_id").annotate(Min("id"))}


def accounts_to_rate(*, through: int, account_ids=None) -> dict[int, list[str]]:
    """Accounts with usage records up to `through` not rated yet, grouped by their cursor."""
    accounts = BillingAccount.objects.filter(Exists(UsageRecord.objects.filter(
        account_id=OuterRef("account_id"), pk__gt=OuterRef("rated_through_id"), pk__lte=through)))
    if account_ids is not None:
        accounts = accounts.filter(account_id__in=aiplatform_sql.uuids_in(account_ids))
    groups = defaultdict(list)
    for account_id, cursor in accounts.values_list(aiplatform_sql.uuid_text("account_id"), "rated_through_id"):
        groups[cursor].append(str(account_id))
    return dict(groups)


def token_prices() -> dict[int, list[tuple]]:
    """Per flavor, its prices per million tokens over time: [(effective_from, input, output)] in
    time order (None where a price row does not charge tokens)."""
    changes = defaultdict(list)
    for flavor_id, since, per_input, per_output in Price.objects.order_by("flavor_id", "effective_from").values_list(
            "flavor_id", "effective_from", "input_tokens_per_million", "output_tokens_per_million"):
        changes[flavor_id].append((since, per_input, per_output))
    return dict(changes)


def prices_in_force() -> PricesInForce:
    """The whole pay-per-use catalog over time (a row per flavor per price change)."""
    changes = defaultdict(list)
    for flavor_id, since, hourly in Price.objects.order_by("flavor_id", "effective_from").values_list(
            "flavor_id", "effective_from", "pay_per_use_hourly"):
        changes[flavor_id].append((since, hourly))
    return PricesInForce(dict(changes))

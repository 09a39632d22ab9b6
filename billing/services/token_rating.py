"""Token usage of inference services: recording the gateway's batches and rating them."""

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from aiplatform import sql as aiplatform_sql

from .. import rules, selectors
from ..models import BillingAccount, ChargeMode, LedgerKind, RatedTokenUsage, TokenDirection, TokenUsageRecord
from .balance import _post, locked_billing_account


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

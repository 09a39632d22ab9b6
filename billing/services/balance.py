"""Accounts' prepaid balances: the locked billing row, posting to the ledger, top-ups."""

import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform.models import Account

from .. import rules
from ..models import BillingAccount, LedgerEntry, LedgerKind


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

"""Arrears: the admission check that holds work of accounts in arrears, and stopping their work."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from aiplatform.models import Workspace
from resourcepools import services as pool_services
from resourcepools.models import Phase, PoolKind, Workload

from .. import rules
from ..models import BillingAccount


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

"""Resource pools and the queue: the pools the workspace may use with their capacity and use, its
quotas with what it uses of them, and its waiting work with the reason in plain words."""

from django.shortcuts import render

from aiplatform.models import Capability
from resourcepools import selectors
from resourcepools.models import Phase

from .base import PAGE_SIZES, page_of, workspace_page
from .capacity import pool_offers


@workspace_page(Capability.READ)
def queue(request):
    scope = request.scope
    offers = pool_offers(user=request.user)
    quotas = list(selectors.quotas(workspace=scope.workspace))
    usage = selectors.quota_usage(workspace=scope.workspace, pool_ids=[q.pool_id for q in quotas])
    for quota in quotas:
        quota.usage = usage[quota.pool_id]
    waiting = (selectors.workloads(workspace=scope.workspace).filter(phase__in=[Phase.PENDING, Phase.QUEUED])
               .order_by("pool__name", "queue_position", "created_at"))
    return render(request, "console/pools/queue.html", {
        "scope": scope, "section": "queue", "offers": offers, "quotas": quotas,
        "page": page_of(request, waiting), "page_sizes": PAGE_SIZES})

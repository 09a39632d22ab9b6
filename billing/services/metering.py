"""Metering: workloads' RUNNING intervals recorded per pod set in clock-hour pieces."""

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from resourcepools.models import TERMINAL_PHASES, Phase, PodSet, PoolKind, Workload, WorkloadEvent, WorkloadRun

from .. import rules
from ..models import UsageRecord, WorkloadMeter
from .balance import locked_billing_account


def meter_usage(*, now: datetime | None = None, workload_ids=None, batch: int = 500) -> int:
    """Record the RUNNING intervals of workloads per pod set in clock-hour pieces. A running
    workload's hours are recorded as each ends; the last piece when it leaves RUNNING. A
    workload that preemption stopped and queued again runs more than once: each earlier run
    (WorkloadRun) is recorded too, under keys of its own. Keys make a second pass (or two at
    once) add nothing. Returns the records added."""
    now = now or timezone.now()
    candidates = Workload.objects.filter(Q(started_at__isnull=False) | Q(runs__isnull=False)).distinct().exclude(
        pk__in=WorkloadMeter.objects.filter(closed=True).values("workload_id"))
    if workload_ids is not None:
        candidates = candidates.filter(pk__in=list(workload_ids))
    ids = list(candidates.order_by("pk").values_list("pk", flat=True))
    added = 0
    for start in range(0, len(ids), batch):
        added += _meter_batch(workload_ids=ids[start:start + batch], now=now)
    return added


def _meter_batch(*, workload_ids, now: datetime) -> int:
    workloads = {w["id"]: w for w in Workload.objects.filter(pk__in=workload_ids).values(
        "id", "workspace_id", "workspace__account_id", "pool_id", "pool__kind", "phase", "started_at", "finished_at")}
    left_running = defaultdict(list)
    for wid, at in WorkloadEvent.objects.filter(workload_id__in=workload_ids, from_phase=Phase.RUNNING).values_list(
            "workload_id", "created_at"):
        left_running[wid].append(at)
    earlier_runs = defaultdict(list)
    for run in WorkloadRun.objects.filter(workload_id__in=workload_ids).order_by("started_at", "id"):
        earlier_runs[run.workload_id].append((run.started_at, run.ended_at))
    meters = dict(WorkloadMeter.objects.filter(workload_id__in=workload_ids).values_list("workload_id",
                                                                                         "metered_until"))
    pod_sets = defaultdict(list)
    for ps in PodSet.objects.filter(workload_id__in=workload_ids).values("id", "workload_id", "replicas", "flavor_id",
                                                                         "flavor__family"):
        pod_sets[ps["workload_id"]].append(ps)
    records, progress = [], []
    for wid, w in workloads.items():
        runs = list(earlier_runs[wid])
        end = None
        if w["started_at"] is not None:
            # It stops costing when it leaves RUNNING (a stop request frees its capacity at once), or
            # earlier when the backend saw it end before the reconciler noticed.
            left = [t for t in left_running[wid] if t >= w["started_at"]]
            ends = [t for t in (min(left, default=None), w["finished_at"]) if t is not None]
            end = None if w["phase"] == Phase.RUNNING else min(ends, default=now)
            runs.append((w["started_at"], end))
        # Work between runs (queued again after preemption) may run again: its meter stays open.
        closed = end is not None if w["started_at"] is not None else w["phase"] in TERMINAL_PHASES
        until = meters.get(wid)
        metered = until
        for number, (start, run_end) in enumerate(runs, start=1):
            # The first run keeps the keys metering always had; later runs' keys carry their number.
            suffix = "" if number == 1 else f":r{number}"
            for piece_start, piece_end in rules.hour_slots(start=start, end=run_end, now=now, since=until):
                seconds = int((piece_end - piece_start).total_seconds())
                metered = max(metered or piece_end, piece_end)
                for ps in pod_sets[wid]:
                    records.append(UsageRecord(
                        key=f"{ps['id']}:{piece_start:%Y%m%d%H}{suffix}", account_id=w["workspace__account_id"],
                        workspace_id=w["workspace_id"], workload_id=wid, pod_set_id=ps["id"], pool_id=w["pool_id"],
                        dedicated=w["pool__kind"] == PoolKind.DEDICATED, flavor_id=ps["flavor_id"],
                        family=ps["flavor__family"], replicas=ps["replicas"], started_at=piece_start,
                        ended_at=piece_end, node_seconds=ps["replicas"] * seconds,
                    ))
        progress.append(WorkloadMeter(workload_id=wid, metered_until=metered or runs[0][0], closed=closed))
    with transaction.atomic():
        # The rater reads records past its cursor under the same lock, so none commits behind it.
        for account_id in sorted({w["workspace__account_id"] for w in workloads.values()}):
            locked_billing_account(account_id=account_id)
        recorded = set(UsageRecord.objects.filter(key__in=[r.key for r in records]).values_list("key", flat=True))
        new = [r for r in records if r.key not in recorded]
        UsageRecord.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
        WorkloadMeter.objects.bulk_create(progress, update_conflicts=True, unique_fields=["workload"],
                                          update_fields=["metered_until", "closed"])
    return len(new)

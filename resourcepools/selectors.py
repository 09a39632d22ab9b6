"""Read queries for flavors, pools, quotas and workloads."""

from collections import defaultdict

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from aiplatform.selectors import account_member

from .admission import QueuedWorkload, node_states, queue_budgets
from .estimates import Estimate, History, estimate_starts, expected_run, running_holder
from .models import (
    ADMITTING_POOL_STATUSES,
    SHARED_RESOURCES,
    Allocation,
    Flavor,
    Node,
    Phase,
    PodSet,
    PodSetFlavor,
    PoolKind,
    Quota,
    QuotaFlavor,
    ResourcePool,
    Workload,
    WorkloadEvent,
)
from .packing import PodSetDemand


def flavors() -> QuerySet[Flavor]:
    return Flavor.objects.all()


def pools_visible_to(*, user) -> QuerySet[ResourcePool]:
    """Public pools and the caller's account's dedicated pools (operators see all)."""
    pools = ResourcePool.objects.all()
    if user.is_staff:
        return pools
    member = account_member(user=user)
    mine = Q(kind=PoolKind.DEDICATED, account_id=member.account_id) if member else Q(pk__in=[])
    return pools.filter(Q(kind=PoolKind.PUBLIC) | mine)


def pool_utilisation(*, pool_ids) -> dict:
    """Capacity (schedulable, healthy nodes) and use (allocations) per pool, in two queries."""
    result = {
        pid: {"nodes": 0, "capacity": {"vcpus": 0, "memory_gib": 0, "accelerators": 0},
              "used": {"vcpus": 0, "memory_gib": 0, "accelerators": 0}}
        for pid in pool_ids
    }
    capacity = (
        Node.objects.filter(pool_id__in=pool_ids, schedulable=True, health="healthy")
        .values("pool_id")
        .annotate(n=Count("id"), vcpus=Sum("flavor__vcpus"), memory_gib=Sum("flavor__memory_gib"),
                  accelerators=Sum("flavor__accelerators"))
    )
    for row in capacity:
        entry = result[row["pool_id"]]
        entry["nodes"] = row["n"]
        entry["capacity"] = {k: row[k] or 0 for k in ("vcpus", "memory_gib", "accelerators")}
    used = (
        Allocation.objects.filter(pool_id__in=pool_ids)
        .values("pool_id")
        .annotate(vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"), accelerators=Sum("accelerators"))
    )
    for row in used:
        result[row["pool_id"]]["used"] = {k: row[k] or 0 for k in ("vcpus", "memory_gib", "accelerators")}
    for entry in result.values():
        entry["utilisation"] = {
            k: round(entry["used"][k] / entry["capacity"][k], 4) if entry["capacity"][k] else 0.0
            for k in ("vcpus", "memory_gib", "accelerators")
        }
    return result


def nodes(*, pool) -> QuerySet[Node]:
    return Node.objects.filter(pool=pool).select_related("flavor")


def quotas(*, workspace) -> QuerySet[Quota]:
    return Quota.objects.filter(workspace=workspace).select_related("pool").prefetch_related(
        Prefetch("flavor_shares", queryset=QuotaFlavor.objects.select_related("flavor")))


def quota_usage(*, workspace, pool_ids) -> dict:
    usage = {pid: {"accelerators": 0, "vcpus": 0, "memory_gib": 0, "workloads": 0} for pid in pool_ids}
    for row in (
        Allocation.objects.filter(workspace=workspace, pool_id__in=pool_ids).values("pool_id")
        .annotate(accelerators=Sum("accelerators"), vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"),
                  workloads=Count("workload_id", distinct=True))
    ):
        usage[row["pool_id"]] = {k: row[k] or 0 for k in ("accelerators", "vcpus", "memory_gib", "workloads")}
    return usage


def lent_by_queues(*, capacity: int, total_used: int, queues: dict) -> dict:
    """How much of each queue's unused nominal share others use now, for one resource of one
    pool. `queues` maps a key to (nominal or None, used, lending limit or None). Work beyond the
    queues' nominal shares first fills the capacity no queue is guaranteed; the rest is lent by
    the queues with unused nominal share, in proportion to what each may lend."""
    guaranteed = sum(nominal for nominal, _, _ in queues.values() if nominal is not None)
    within = sum(min(used, nominal) for nominal, used, _ in queues.values() if nominal is not None)
    taken = max(0, (total_used - within) - max(0, capacity - guaranteed))
    lendable = {
        key: min(max(0, nominal - used), max(0, nominal - used) if lending is None else lending)
        for key, (nominal, used, lending) in queues.items() if nominal is not None
    }
    offered = sum(lendable.values())
    lent = dict.fromkeys(queues, 0)
    if not taken or not offered:
        return lent
    taken = min(taken, offered)
    # Whole units in proportion, the remainder to the largest fractions, so the amounts add up.
    for key, amount in lendable.items():
        lent[key] = taken * amount // offered
    by_fraction = sorted(lendable, key=lambda key: (-(taken * lendable[key] % offered), str(key)))
    for key in by_fraction[:taken - sum(lent.values())]:
        lent[key] += 1
    return lent


def queue_shares(*, workspace, pool_ids) -> dict:
    """Per pool, what the workspace's queue borrows (uses above its nominal share) and lends (of
    its unused nominal share, used by others) now, per resource, over the pool and (under
    "flavors", by flavor id) for each of its flavor shares, in four queries."""
    capacity, used, totals = defaultdict(int), defaultdict(int), defaultdict(int)
    for row in Node.objects.filter(pool_id__in=pool_ids).values("pool_id", "flavor_id").annotate(
            **{r: Sum(f"flavor__{r}") for r in SHARED_RESOURCES}):
        for r in SHARED_RESOURCES:
            for scope in (None, row["flavor_id"]):
                capacity[row["pool_id"], scope, r] += row[r] or 0
    for row in Allocation.objects.filter(pool_id__in=pool_ids).values("pool_id", "workspace_id", "node__flavor_id") \
            .annotate(**{r: Sum(r) for r in SHARED_RESOURCES}):
        for r in SHARED_RESOURCES:
            for scope in (None, row["node__flavor_id"]):
                used[row["pool_id"], scope, row["workspace_id"], r] += row[r] or 0
                totals[row["pool_id"], scope, r] += row[r] or 0
    queues = defaultdict(dict)  # (pool, None or flavor id) -> workspace id -> its limits
    for q in Quota.objects.filter(pool_id__in=pool_ids).values():
        queues[q["pool_id"], None][q["workspace_id"]] = q
    for share in QuotaFlavor.objects.filter(quota__pool_id__in=pool_ids).values(
            "flavor_id", "quota__pool_id", "quota__workspace_id", *(f"max_{r}" for r in SHARED_RESOURCES),
            *(f"lending_limit_{r}" for r in SHARED_RESOURCES)):
        queues[share["quota__pool_id"], share["flavor_id"]][share["quota__workspace_id"]] = share

    def amounts(pool_id, scope):
        mine, borrowed, lent = queues[pool_id, scope].get(workspace.pk), {}, {}
        for r in SHARED_RESOURCES:
            borrowed[r] = lent[r] = 0
            if mine is None or mine[f"max_{r}"] is None:
                continue
            borrowed[r] = max(0, used[pool_id, scope, workspace.pk, r] - mine[f"max_{r}"])
            lent[r] = lent_by_queues(
                capacity=capacity[pool_id, scope, r], total_used=totals[pool_id, scope, r],
                queues={ws: (q[f"max_{r}"], used[pool_id, scope, ws, r], q[f"lending_limit_{r}"])
                        for ws, q in queues[pool_id, scope].items()},
            )[workspace.pk]
        return {"borrowed": borrowed, "lent": lent}

    result = {}
    for pool_id in pool_ids:
        flavors = [scope for (pid, scope), by in queues.items() if pid == pool_id and scope and workspace.pk in by]
        result[pool_id] = {**amounts(pool_id, None), "flavors": {f: amounts(pool_id, f) for f in flavors}}
    return result


def workloads(*, workspace) -> QuerySet[Workload]:
    return (
        Workload.objects.filter(workspace=workspace)
        .select_related("pool", "created_by")
        .prefetch_related(Prefetch("pod_sets", queryset=PodSet.objects.select_related("flavor")),
                          Prefetch("pod_sets__flavor_options", queryset=PodSetFlavor.objects.select_related("flavor")))
    )


def workload_events(*, workload) -> QuerySet[WorkloadEvent]:
    return WorkloadEvent.objects.filter(workload=workload)


# Pending reasons the estimator cannot see past: the message says what must change first.
NO_ESTIMATE_REASONS = ("PoolNotAdmitting", "AdmissionRefused")


def _histories(pool_ids, names) -> tuple[dict, dict]:
    """Finished (succeeded) runs per workload name in a workspace and per kind in a pool: how
    many, and their average run time."""
    run = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    done = Workload.objects.filter(pool_id__in=pool_ids, phase=Phase.SUCCEEDED, started_at__isnull=False,
                                   finished_at__isnull=False)
    by_name = {
        (row["workspace_id"], row["name"]): History(row["runs"], row["average"].total_seconds(),
                                                    "runs of the same name in its workspace")
        for row in done.filter(name__in=names).values("workspace_id", "name").annotate(
            runs=Count("id"), average=Avg(run))
    }
    by_kind = {
        (row["pool_id"], row["kind"]): History(row["runs"], row["average"].total_seconds(),
                                               f"{row['kind']} workloads in the pool")
        for row in done.values("pool_id", "kind").annotate(runs=Count("id"), average=Avg(run))
    }
    return by_name, by_kind


def start_estimates(*, workloads, now=None) -> dict[object, Estimate]:
    """When each queued workload of `workloads` is expected to start, and why then
    (resourcepools.estimates), for their pools in a fixed number of queries."""
    now = now or timezone.now()
    wanted = {w.pk: w for w in workloads if w.phase == Phase.QUEUED}
    if not wanted:
        return {}
    pools = {w.pool_id: w.pool for w in wanted.values()}
    lookahead = settings.ADMISSION_LOOKAHEAD
    rows = list(
        Workload.objects.filter(phase=Phase.QUEUED, pool_id__in=pools)
        .annotate(rank=Window(RowNumber(), partition_by=[F("pool_id")],
                              order_by=[F("priority").desc(), F("queued_at").asc(), F("id").asc()]))
        .filter(rank__lte=lookahead).order_by("pool_id", "rank")
        .values("id", "name", "kind", "workspace_id", "pool_id", "priority", "queued_at", "reason", "message",
                "max_runtime_seconds")
    )
    demands = defaultdict(list)
    for ps in PodSet.objects.filter(workload_id__in=[r["id"] for r in rows]).values(
        "id", "workload_id", "name", "replicas", "flavor_id", "flavor__name", "flavor__accelerator_kind",
        "vcpus", "memory_gib", "accelerators",
    ).order_by("id"):
        demands[ps["workload_id"]].append(PodSetDemand(
            ps["id"], ps["name"], ps["replicas"], ps["flavor_id"], ps["flavor__name"],
            ps["flavor__accelerator_kind"], ps["vcpus"], ps["memory_gib"], ps["accelerators"]))
    nodes, _ = node_states(pools)
    budgets = queue_budgets(pools)
    held = defaultdict(dict)
    for a in Allocation.objects.filter(pool_id__in=pools).values(
        "workload_id", "pool_id", "node_id", "vcpus", "memory_gib", "accelerators", "workload__name",
        "workload__kind", "workload__workspace_id", "workload__admitted_at", "workload__started_at",
        "workload__max_runtime_seconds",
    ).order_by("workload_id", "id"):
        entry = held[a["pool_id"]].setdefault(a["workload_id"], {**a, "placements": []})
        entry["placements"].append((a["node_id"], a["vcpus"], a["memory_gib"], a["accelerators"]))
    names = {r["name"] for r in rows} | {a["workload__name"] for by in held.values() for a in by.values()}
    by_name, by_kind = _histories(pools, names)

    def expected(pool_id, workspace_id, name, kind, max_runtime):
        history = by_name.get((workspace_id, name)) or by_kind.get((pool_id, kind))
        return expected_run(max_runtime_seconds=max_runtime, history=history)

    rows_by_pool = defaultdict(list)
    for row in rows:
        rows_by_pool[row["pool_id"]].append(row)
    estimates = {}
    for pool_id, pool in pools.items():
        pool_rows = rows_by_pool[pool_id]
        holders = [
            running_holder(name=a["workload__name"], workspace_id=a["workload__workspace_id"],
                           placements=a["placements"], since=a["workload__started_at"] or a["workload__admitted_at"],
                           expected=expected(pool_id, a["workload__workspace_id"], a["workload__name"],
                                             a["workload__kind"], a["workload__max_runtime_seconds"]), now=now)
            for a in held[pool_id].values()
        ]
        if pool.status in ADMITTING_POOL_STATUSES:
            not_estimated = {r["id"]: r["message"] for r in pool_rows if r["reason"] in NO_ESTIMATE_REASONS}
        else:
            not_estimated = {r["id"]: f"pool {pool.name} is {pool.status} and admits no work now."
                             for r in pool_rows}
        estimates.update(estimate_starts(
            now=now, nodes=nodes[pool_id], holders=holders,
            queue=[QueuedWorkload(r["id"], r["name"], r["workspace_id"], r["priority"], r["queued_at"],
                                  tuple(demands[r["id"]])) for r in pool_rows],
            budgets={ws: b for (p, ws), b in budgets.items() if p == pool_id},
            expected={r["id"]: expected(pool_id, r["workspace_id"], r["name"], r["kind"], r["max_runtime_seconds"])
                      for r in pool_rows},
            not_estimated=not_estimated,
        ))
    for workload_id in wanted.keys() - estimates.keys():
        estimates[workload_id] = Estimate(None, f"No estimate: more than {lookahead} workloads are ahead of it.")
    return {workload_id: estimates[workload_id] for workload_id in wanted}

"""Read queries for flavors, pools, quotas and workloads."""

from collections import defaultdict

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from aiplatform.selectors import account_member

from .models import (
    SHARED_RESOURCES,
    Allocation,
    Flavor,
    Node,
    PodSet,
    PoolKind,
    Quota,
    ResourcePool,
    Workload,
    WorkloadEvent,
)


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
    return Quota.objects.filter(workspace=workspace).select_related("pool")


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
    its unused nominal share, used by others) now, per resource, in four queries."""
    zero = dict.fromkeys(SHARED_RESOURCES, 0)
    capacity = {row["pool_id"]: row for row in Node.objects.filter(pool_id__in=pool_ids).values("pool_id").annotate(
        **{r: Sum(f"flavor__{r}") for r in SHARED_RESOURCES})}
    totals = {row["pool_id"]: row for row in Allocation.objects.filter(pool_id__in=pool_ids).values("pool_id")
              .annotate(**{r: Sum(r) for r in SHARED_RESOURCES})}
    used = {(row["pool_id"], row["workspace_id"]): row for row in Allocation.objects.filter(pool_id__in=pool_ids)
            .values("pool_id", "workspace_id").annotate(**{r: Sum(r) for r in SHARED_RESOURCES})}
    queues = defaultdict(dict)
    for q in Quota.objects.filter(pool_id__in=pool_ids).values():
        queues[q["pool_id"]][q["workspace_id"]] = q
    result = {}
    for pool_id in pool_ids:
        mine = queues[pool_id].get(workspace.pk)
        borrowed, lent = dict(zero), dict(zero)
        for r in SHARED_RESOURCES:
            if mine is None or mine[f"max_{r}"] is None:
                continue
            use = {ws: (used.get((pool_id, ws)) or {}).get(r) or 0 for ws in queues[pool_id]}
            borrowed[r] = max(0, use[workspace.pk] - mine[f"max_{r}"])
            lent[r] = lent_by_queues(
                capacity=(capacity.get(pool_id) or {}).get(r) or 0,
                total_used=(totals.get(pool_id) or {}).get(r) or 0,
                queues={ws: (q[f"max_{r}"], use[ws], q[f"lending_limit_{r}"]) for ws, q in queues[pool_id].items()},
            )[workspace.pk]
        result[pool_id] = {"borrowed": borrowed, "lent": lent}
    return result


def workloads(*, workspace) -> QuerySet[Workload]:
    return (
        Workload.objects.filter(workspace=workspace)
        .select_related("pool", "created_by")
        .prefetch_related(Prefetch("pod_sets", queryset=PodSet.objects.select_related("flavor")))
    )


def workload_events(*, workload) -> QuerySet[WorkloadEvent]:
    return WorkloadEvent.objects.filter(workload=workload)

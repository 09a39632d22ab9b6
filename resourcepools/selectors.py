"""Read queries for flavors, pools, quotas and workloads."""

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from aiplatform.selectors import account_member

from .models import Allocation, Flavor, Node, PodSet, PoolKind, Quota, ResourcePool, Workload, WorkloadEvent


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


def workloads(*, workspace) -> QuerySet[Workload]:
    return (
        Workload.objects.filter(workspace=workspace)
        .select_related("pool", "created_by")
        .prefetch_related(Prefetch("pod_sets", queryset=PodSet.objects.select_related("flavor")))
    )


def workload_events(*, workload) -> QuerySet[WorkloadEvent]:
    return WorkloadEvent.objects.filter(workload=workload)

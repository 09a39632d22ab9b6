"""Admission: which queued workloads may start, and where.

`plan_admission` is a pure function over one pool's nodes, queue and quotas. `admit_workloads`
loads every pool with a queue in a fixed number of queries, plans, and applies the decisions in
one transaction that holds the pools' row locks, so schedulers running at the same time never
over-commit a pool or a quota (a pool locked by one scheduler is skipped by the others).

Order and fairness: the queue is ordered by priority (higher first), then FIFO. A gang is
admitted only when every replica of every pod set fits on a node of its flavor. Smaller work
behind a blocked gang may backfill free capacity, with two limits that keep the gang's place:
  * a workload blocked for capacity holds its flavors against every workload of lower priority
    (lower priority never overtakes higher priority on the capacity both need);
  * once a blocked workload has waited longer than `starvation_seconds`, it holds its flavors
    against later workloads of its own priority too, so capacity drains towards it as running
    work ends and a stream of small jobs cannot starve a large gang forever.
Quota refusals hold nothing: a workspace over its quota does not block other workspaces."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from aiplatform import sql

from .models import (
    ADMITTING_POOL_STATUSES,
    AcceleratorKind,
    Allocation,
    Node,
    NodeHealth,
    Phase,
    PodSet,
    Quota,
    ResourcePool,
    Workload,
)
from .services import transition_workloads

UNITS = {AcceleratorKind.NVIDIA_GPU: "NVIDIA GPUs", AcceleratorKind.ASCEND_NPU: "Ascend NPUs"}

# Checks other apps register (billing refuses pay-per-use work of accounts in arrears). Each is
# called once per pass as check(pools=..., workspace_ids=...) and returns
# {(pool_id, workspace_id): reason} for the queued work it refuses.
_admission_checks = []


def register_admission_check(check):
    if check not in _admission_checks:
        _admission_checks.append(check)


@dataclass
class NodeState:
    id: int
    flavor_id: int
    vcpus: int
    memory_gib: int
    accelerators: int

    def fits(self, demand: "PodSetDemand") -> bool:
        return (
            self.flavor_id == demand.flavor_id
            and self.vcpus >= demand.vcpus
            and self.memory_gib >= demand.memory_gib
            and self.accelerators >= demand.accelerators
        )

    def take(self, demand: "PodSetDemand", sign: int = 1) -> None:
        self.vcpus -= sign * demand.vcpus
        self.memory_gib -= sign * demand.memory_gib
        self.accelerators -= sign * demand.accelerators


@dataclass(frozen=True)
class PodSetDemand:
    id: int
    name: str
    replicas: int
    flavor_id: int
    flavor_name: str
    accelerator_kind: str
    vcpus: int
    memory_gib: int
    accelerators: int


@dataclass(frozen=True)
class QueuedWorkload:
    id: object
    name: str
    workspace_id: object
    priority: int
    queued_at: datetime
    pod_sets: tuple[PodSetDemand, ...]

    def totals(self) -> dict:
        return {
            "accelerators": sum(p.replicas * p.accelerators for p in self.pod_sets),
            "vcpus": sum(p.replicas * p.vcpus for p in self.pod_sets),
            "memory_gib": sum(p.replicas * p.memory_gib for p in self.pod_sets),
        }


@dataclass
class Budget:
    """A workspace's quota in the pool and what it uses; limits of None are unlimited."""

    limits: dict
    used: dict = field(default_factory=lambda: {"accelerators": 0, "vcpus": 0, "memory_gib": 0, "workloads": 0})


@dataclass(frozen=True)
class Placement:
    pod_set_id: int
    replica: int
    node_id: int
    vcpus: int
    memory_gib: int
    accelerators: int


@dataclass
class Decision:
    workload_id: object
    admitted: bool
    reason: str
    message: str
    queue_position: int | None = None
    placements: list[Placement] = field(default_factory=list)


def _place_gang(workload: QueuedWorkload, nodes: list[NodeState]) -> list[Placement] | None:
    """Best fit, replica by replica; all or nothing (undone on failure)."""
    taken: list[tuple[NodeState, PodSetDemand, Placement]] = []
    for demand in workload.pod_sets:
        for replica in range(demand.replicas):
            candidates = [n for n in nodes if n.fits(demand)]
            if not candidates:
                for node, d, _ in taken:
                    node.take(d, sign=-1)
                return None
            node = min(candidates, key=lambda n: (n.accelerators, n.vcpus, n.memory_gib, n.id))
            node.take(demand)
            taken.append((node, demand, Placement(
                demand.id, replica, node.id, demand.vcpus, demand.memory_gib, demand.accelerators)))
    return [p for _, _, p in taken]


def _capacity_message(workload, pool_name, nodes, ahead) -> str:
    parts = []
    for demand in workload.pod_sets:
        flavor_nodes = [n for n in nodes if n.flavor_id == demand.flavor_id]
        fitting = sum(1 for n in flavor_nodes if n.fits(demand))
        if demand.accelerators:
            unit = UNITS.get(demand.accelerator_kind, "accelerators")
            need, per, free = demand.replicas * demand.accelerators, demand.accelerators, sum(
                n.accelerators for n in flavor_nodes)
        else:
            unit, need, per, free = "vCPUs", demand.replicas * demand.vcpus, demand.vcpus, sum(
                n.vcpus for n in flavor_nodes)
        if fitting >= demand.replicas:
            continue
        parts.append(
            f"needs {need} {unit} in pool {pool_name} ({demand.replicas} × {per} on {demand.flavor_name} nodes); "
            f"{free} free, {fitting} node(s) can take a {demand.name} replica"
        )
    detail = "; ".join(parts) or f"needs more free capacity in pool {pool_name}"
    return f"Waiting for capacity: {detail}; {ahead} workload(s) ahead."


def _quota_refusal(workload: QueuedWorkload, budget: Budget | None) -> str | None:
    if budget is None:
        return None
    asked = {**workload.totals(), "workloads": 1}
    for resource, amount in asked.items():
        limit = budget.limits.get(f"max_{resource}")
        if limit is not None and budget.used[resource] + amount > limit:
            return (
                f"Workspace quota exceeded: needs {amount} {resource.replace('_', ' ')}, "
                f"{budget.used[resource]} of {limit} in use in this pool. Wait for running work to end "
                "or ask your account admin for a larger quota."
            )
    return None


def plan_admission(*, pool_name: str, pool_status: str, nodes: list[NodeState], queue: list[QueuedWorkload],
                   budgets: dict, now: datetime, starvation_seconds: float,
                   refusals: dict | None = None) -> list[Decision]:
    """Decide for one pool's queue, in order. `refusals` maps workspace ids to a reason their
    work may not start (from registered admission checks)."""
    refusals = refusals or {}
    decisions = []
    holds: dict[int, tuple[int, bool, str]] = {}  # flavor id -> (priority, starving, holder name)
    ahead = 0
    admitting = pool_status in ADMITTING_POOL_STATUSES
    for workload in queue:
        flavors = {p.flavor_id for p in workload.pod_sets}
        if not admitting:
            decisions.append(Decision(workload.id, False, "PoolNotAdmitting",
                                      f"Pool {pool_name} is {pool_status} and admits no work now; "
                                      f"{ahead} workload(s) ahead.", ahead + 1))
            ahead += 1
            continue
        holder = next(
            (h for f in flavors if (h := holds.get(f)) and (workload.priority < h[0] or h[1])), None
        )
        if holder is not None:
            decisions.append(Decision(workload.id, False, "WaitingForEarlierWorkload",
                                      f"Waiting behind {holder[2]}, which is earlier in line for the same "
                                      f"nodes; {ahead} workload(s) ahead.", ahead + 1))
            ahead += 1
            continue
        if workload.workspace_id in refusals:
            decisions.append(Decision(workload.id, False, "AdmissionRefused",
                                      f"{refusals[workload.workspace_id]} ({ahead} ahead)", ahead + 1))
            ahead += 1
            continue
        budget = budgets.get(workload.workspace_id)
        refusal = _quota_refusal(workload, budget)
        if refusal:
            decisions.append(Decision(workload.id, False, "QuotaExceeded", f"{refusal} ({ahead} ahead)", ahead + 1))
            ahead += 1
            continue
        placements = _place_gang(workload, nodes)
        if placements is None:
            decisions.append(Decision(workload.id, False, "InsufficientCapacity",
                                      _capacity_message(workload, pool_name, nodes, ahead), ahead + 1))
            starving = (now - workload.queued_at).total_seconds() >= starvation_seconds
            for f in flavors:
                if f not in holds or (starving and not holds[f][1]):
                    holds[f] = (workload.priority, starving, workload.name)
            ahead += 1
            continue
        if budget is not None:
            for resource, amount in {**workload.totals(), "workloads": 1}.items():
                budget.used[resource] += amount
        decisions.append(Decision(workload.id, True, "Admitted", f"Admitted to pool {pool_name}.",
                                  placements=placements))
    return decisions


@dataclass
class AdmissionReport:
    pools: int = 0
    skipped_pools: int = 0
    considered: int = 0
    admitted: int = 0


def admit_workloads(*, pool_ids=None, now: datetime | None = None) -> AdmissionReport:
    """One admission pass over every pool with queued work (or the given pools)."""
    now = now or timezone.now()
    lookahead = settings.ADMISSION_LOOKAHEAD
    report = AdmissionReport()
    with transaction.atomic():
        queued = Workload.objects.filter(phase=Phase.QUEUED)
        if pool_ids is not None:
            queued = queued.filter(pool_id__in=list(pool_ids))
        wanted = queued.values("pool_id").distinct()
        pools = {
            p.pk: p for p in ResourcePool.objects.select_for_update(skip_locked=True).filter(pk__in=wanted)
        }
        report.pools = len(pools)
        report.skipped_pools = len(set(queued.values_list("pool_id", flat=True).distinct())) - len(pools)
        if not pools:
            return report

        nodes_by_pool = _node_states(pools)
        queue_rows = list(
            Workload.objects.filter(phase=Phase.QUEUED, pool_id__in=pools)
            .annotate(rank=Window(RowNumber(), partition_by=[F("pool_id")],
                                  order_by=[F("priority").desc(), F("queued_at").asc(), F("id").asc()]))
            .filter(rank__lte=lookahead)
            .order_by("pool_id", "rank")
            .values("id", "name", "workspace_id", "pool_id", "priority", "queued_at", "reason", "message",
                    "queue_position")
        )
        report.considered = len(queue_rows)
        demands = defaultdict(list)
        for ps in PodSet.objects.filter(workload_id__in=[r["id"] for r in queue_rows]).values(
            "id", "workload_id", "name", "replicas", "flavor_id", "flavor__name", "flavor__accelerator_kind",
            "vcpus", "memory_gib", "accelerators",
        ).order_by("id"):
            demands[ps["workload_id"]].append(PodSetDemand(
                ps["id"], ps["name"], ps["replicas"], ps["flavor_id"], ps["flavor__name"],
                ps["flavor__accelerator_kind"], ps["vcpus"], ps["memory_gib"], ps["accelerators"]))
        pairs = {(r["pool_id"], r["workspace_id"]) for r in queue_rows}
        budgets = _budgets(pools, pairs)
        refused = {}
        for check in _admission_checks:
            refused.update(check(pools=list(pools.values()), workspace_ids={ws for _, ws in pairs}))

        rows_by_pool = defaultdict(list)
        for row in queue_rows:
            rows_by_pool[row["pool_id"]].append(row)
        decisions, rows_by_id = [], {}
        for pool_id, rows in rows_by_pool.items():
            pool = pools[pool_id]
            queue = [QueuedWorkload(r["id"], r["name"], r["workspace_id"], r["priority"], r["queued_at"],
                                    tuple(demands[r["id"]])) for r in rows]
            decisions += plan_admission(
                pool_name=pool.name, pool_status=pool.status, nodes=nodes_by_pool[pool_id], queue=queue,
                budgets={ws: b for (p, ws), b in budgets.items() if p == pool_id}, now=now,
                starvation_seconds=settings.ADMISSION_STARVATION_SECONDS,
                refusals={ws: reason for (p, ws), reason in refused.items() if p == pool_id},
            )
            rows_by_id.update({r["id"]: r for r in rows})

        admitted = [d for d in decisions if d.admitted]
        moved = set(transition_workloads(workload_ids=[d.workload_id for d in admitted], to=Phase.ADMITTED,
                                         reason="Admitted", message="Admitted; capacity reserved.",
                                         skip_illegal=True)) if admitted else set()
        Allocation.objects.bulk_create(
            Allocation(workload_id=d.workload_id, pod_set_id=p.pod_set_id, replica=p.replica, node_id=p.node_id,
                       pool_id=rows_by_id[d.workload_id]["pool_id"],
                       workspace_id=rows_by_id[d.workload_id]["workspace_id"],
                       vcpus=p.vcpus, memory_gib=p.memory_gib, accelerators=p.accelerators)
            for d in admitted if d.workload_id in moved for p in d.placements
        )
        report.admitted = len(moved)
        _record_pending([
            d for d in decisions
            if not d.admitted and (rows_by_id[d.workload_id]["reason"], rows_by_id[d.workload_id]["message"],
                                   rows_by_id[d.workload_id]["queue_position"]) != (d.reason, d.message,
                                                                                   d.queue_position)
        ])
    return report


def _record_pending(decisions: list[Decision]) -> None:
    """Write pending reasons and queue positions in one UPDATE … FROM (VALUES …) (in slices
    where the database binds fewer parameters than ten thousand rows need)."""
    table = connection.ops.quote_name(Workload._meta.db_table)
    pk = Workload._meta.pk
    rows = [(pk.get_db_prep_value(d.workload_id, connection), d.reason, d.message, d.queue_position)
            for d in decisions]
    for chunk in sql.chunks(rows):
        values, params = sql.values(chunk, ("uuid", None, None, "integer"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH pending(id, reason, message, pos) AS ({values}) "
                f"UPDATE {table} SET reason = pending.reason, message = pending.message, queue_position = pending.pos "
                f"FROM pending WHERE {table}.id = pending.id",
                params,
            )


def _node_states(pools) -> dict[object, list[NodeState]]:
    used = {
        row["node_id"]: row
        for row in Allocation.objects.filter(pool_id__in=pools).values("node_id").annotate(
            vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"), accelerators=Sum("accelerators"))
    }
    states = defaultdict(list)
    for n in Node.objects.filter(pool_id__in=pools, schedulable=True, health=NodeHealth.HEALTHY).values(
        "id", "pool_id", "flavor_id", "flavor__vcpus", "flavor__memory_gib", "flavor__accelerators"
    ).order_by("id"):
        u = used.get(n["id"], {})
        states[n["pool_id"]].append(NodeState(
            n["id"], n["flavor_id"],
            n["flavor__vcpus"] - (u.get("vcpus") or 0),
            n["flavor__memory_gib"] - (u.get("memory_gib") or 0),
            n["flavor__accelerators"] - (u.get("accelerators") or 0),
        ))
    return states


def _budgets(pools, pairs) -> dict:
    workspaces = {ws for _, ws in pairs}
    budgets = {}
    for q in Quota.objects.filter(pool_id__in=pools, workspace_id__in=workspaces).values():
        budgets[(q["pool_id"], q["workspace_id"])] = Budget(
            limits={k: q[k] for k in ("max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads")})
    for row in Allocation.objects.filter(pool_id__in=pools, workspace_id__in=workspaces).values(
        "pool_id", "workspace_id"
    ).annotate(accelerators=Sum("accelerators"), vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"),
               workloads=Count("workload_id", distinct=True)):
        budget = budgets.get((row["pool_id"], row["workspace_id"]))
        if budget is not None:
            budget.used = {k: row[k] or 0 for k in ("accelerators", "vcpus", "memory_gib", "workloads")}
    return budgets


"""Which admitted work to preempt so that a queued workload can start. Pure functions over plain
data; admission (resourcepools.admission) calls `plan_preemption` for a workload within its
queue's nominal share that does not fit, or that its own queue's quota refuses.

Two kinds of victims:
  * within the queue, by its preemption policy: work of lower priority (`lower_priority`), or
    also work of the same priority queued later (`lower_or_newer_equal_priority`);
  * across the cohort (reclaim): work of other queues while they use more than their nominal
    share, whatever its priority — a queue below its nominal share gets back what others borrowed.
Reclaimed work goes first, then lower priority, then the newest (admitted last, then queued last).
Candidates are added in that order until the workload fits (its queue within its nominal share, its gang placed on the
nodes), then every victim that turns out unnecessary is dropped, last added first. Work marked not
preemptible is never a victim."""

import copy
from dataclasses import dataclass
from datetime import datetime

from .models import PreemptionPolicy
from .packing import NodeState, Placement, place_gang


@dataclass(frozen=True)
class AdmittedWorkload:
    """Admitted or running work, as a preemption candidate: what it holds on which node."""

    id: object
    name: str
    kind: str
    workspace_id: object
    priority: int
    queued_at: datetime
    admitted_at: datetime
    preemptible: bool
    totals: dict  # as QueuedWorkload.totals(): pool-wide and per flavor (flavor_key)
    allocations: tuple  # (node id, vcpus, memory_gib, accelerators) per replica


@dataclass
class Preemption:
    victims: list  # AdmittedWorkload, in the order chosen
    reclaimed: set  # ids of the victims taken from other queues
    placements: list[Placement]


def may_preempt_own(policy: str, workload, victim: AdmittedWorkload) -> bool:
    if policy == PreemptionPolicy.NEVER:
        return False
    if victim.priority < workload.priority:
        return True
    return (policy == PreemptionPolicy.LOWER_OR_NEWER_EQUAL_PRIORITY and victim.priority == workload.priority
            and victim.queued_at > workload.queued_at)


def _borrowing(budget, used: dict) -> bool:
    for resource in budget.resources:
        nominal = budget.nominal(resource)
        if nominal is not None and used.get(resource, 0) > nominal:
            return True
    return False


def _release(used: dict, victim: AdmittedWorkload) -> dict:
    after = dict(used)
    for resource, amount in victim.totals.items():
        if resource in after or "@" in resource:
            after[resource] = after.get(resource, 0) - amount
    after["workloads"] = after.get("workloads", 0) - 1
    return after


def _fits_queue(workload, budget, used: dict) -> bool:
    """Within every nominal share (and the workload count) once admitted: no borrowing."""
    totals = workload.totals()
    for resource, limit_name in budget.limit_names.items():
        limit = budget.limits.get(limit_name)
        amount = 1 if resource == "workloads" else totals.get(resource, 0)
        if limit is not None and amount and used.get(resource, 0) + amount > limit:
            return False
    return True


def _place(workload, nodes: list[NodeState], victims: list[AdmittedWorkload]) -> list[Placement] | None:
    """Where the gang goes once the victims' replicas are gone (on copies of the nodes)."""
    trial = {n.id: copy.copy(n) for n in nodes}
    for victim in victims:
        for node_id, vcpus, memory_gib, accelerators in victim.allocations:
            node = trial.get(node_id)
            if node is not None:  # a cordoned or unhealthy node's capacity stays out of reach
                node.vcpus += vcpus
                node.memory_gib += memory_gib
                node.accelerators += accelerators
    return place_gang(workload.pod_sets, list(trial.values()))


def plan_preemption(*, workload, budget, budgets: dict, policy: str, nodes: list[NodeState],
                    candidates: list[AdmittedWorkload], reclaim: bool) -> Preemption | None:
    """The fewest victims, chosen in order, that let `workload` start; None when no set does.
    `budget`: its queue; `budgets`: every queue of the cohort by workspace id, with what each
    uses now; `reclaim`: whether it may take back what other queues borrowed (it is within its
    own nominal share)."""
    flavors = {p.flavor_id for p in workload.pod_sets}
    node_flavor = {n.id: n.flavor_id for n in nodes}
    eligible = []
    for victim in candidates:
        if not victim.preemptible:
            continue
        own = victim.workspace_id == workload.workspace_id
        if own and not may_preempt_own(policy, workload, victim):
            continue
        if not own and not (reclaim and victim.workspace_id in budgets):
            continue
        if not own and not any(node_flavor.get(node_id) in flavors for node_id, *_ in victim.allocations):
            continue  # freeing another queue's work elsewhere gives this workload nothing
        eligible.append(victim)
    if not eligible:
        return None
    # Newest first: admitted last, then (admitted in one pass) queued last.
    eligible.sort(key=lambda v: (v.workspace_id == workload.workspace_id, v.priority, -v.admitted_at.timestamp(),
                                 -v.queued_at.timestamp(), str(v.id)))
    used = {ws: dict(b.used) for ws, b in budgets.items()}

    def feasible(chosen):
        mine = budget.used
        for victim in chosen:
            if victim.workspace_id == workload.workspace_id:
                mine = _release(mine, victim)
        if not _fits_queue(workload, budget, mine):
            return None
        return _place(workload, nodes, chosen)

    chosen, placements = [], None
    for victim in eligible:
        if victim.workspace_id != workload.workspace_id:
            # Only while its queue still uses more than its nominal share.
            if not _borrowing(budgets[victim.workspace_id], used[victim.workspace_id]):
                continue
        chosen.append(victim)
        used[victim.workspace_id] = _release(used[victim.workspace_id], victim)
        placements = feasible(chosen)
        if placements is not None:
            break
    if placements is None:
        return None
    for victim in reversed(list(chosen)):
        fewer = [v for v in chosen if v is not victim]
        if (found := feasible(fewer)) is not None:
            chosen, placements = fewer, found
    return Preemption(chosen, {v.id for v in chosen if v.workspace_id != workload.workspace_id}, placements)

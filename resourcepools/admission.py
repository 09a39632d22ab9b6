"""Admission: which queued workloads may start, and where.

`plan_admission` is a pure function over one pool's nodes, queue and quotas. `admit_workloads`
loads every pool with a queue in a fixed number of queries, plans, and applies the decisions in
one transaction that holds the pools' row locks, so schedulers running at the same time never
over-commit a pool or a quota (a pool locked by one scheduler is skipped by the others; work
being queued into a pool at the same time does not make a pass skip it).

Order and fairness: the queue is ordered by priority (higher first), then FIFO. A gang is
admitted only when every replica of every pod set fits on a node of its flavor (packed as
`packing.place_gang` packs). Smaller work behind a blocked gang may backfill free capacity, with
two limits that keep the gang's place:
  * a workload blocked for capacity holds its flavors against every workload of lower priority
    (lower priority never overtakes higher priority on the capacity both need);
  * once a blocked workload has waited longer than `starvation_seconds`, it holds its flavors
    against later workloads of its own priority too, so capacity drains towards it as running
    work ends and a stream of small jobs cannot starve a large gang forever.
Holding is limited in time: a gang that has held its flavors for `max_hold_seconds` without
fitting (say, behind a service that never ends) stops holding for `hold_cooldown_seconds`, so
the capacity it kept idle is used meanwhile; then it may hold again. It keeps its place in the
queue throughout and is admitted whenever it fits.
Quota refusals hold nothing: a workspace over its quota does not block other workspaces.

Queues and cohorts: a workspace's quota in a pool is its queue, the pool's queues its cohort. A
queue's `max_*` is its nominal (guaranteed) share; work within it is decided in line as above.
Work that would take its queue above its nominal share borrows idle capacity of the cohort, up to
the queue's borrowing limit, and never what another queue keeps for itself (the part of its unused
nominal share above its lending limit). Borrowers are decided after the work within its share, in
order of their queue's weighted dominant-resource share once admitted (the largest fraction of
the pool's capacity of any resource it would borrow, divided by its weight; lowest first, then
priority, then FIFO), so no queue takes all idle capacity; borrowers hold nothing."""

import copy
import dataclasses
import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from aiplatform import sql

from .models import (
    ADMITTING_POOL_STATUSES,
    SHARED_RESOURCES,
    Allocation,
    Node,
    NodeHealth,
    Phase,
    PodSet,
    PodSetFlavor,
    Quota,
    QuotaFlavor,
    ResourcePool,
    Workload,
    WorkloadEvent,
)
from .packing import UNITS, NodeState, Placement, PodSetDemand, place_gang
from .preemption import AdmittedWorkload, Preemption, plan_preemption
from .services import preempt_workloads, transition_workloads

# Checks other apps register (billing refuses pay-per-use work of accounts in arrears). Each is
# called once per pass as check(pools=..., workspace_ids=...) and returns
# {(pool_id, workspace_id): reason} for the queued work it refuses.
_admission_checks = []


def register_admission_check(check):
    if check not in _admission_checks:
        _admission_checks.append(check)


@dataclass(frozen=True)
class QueuedWorkload:
    id: object
    name: str
    workspace_id: object
    priority: int
    queued_at: datetime
    pod_sets: tuple[PodSetDemand, ...]
    # Since when it holds its flavors, blocked for capacity; until when it may not hold again.
    holding_since: datetime | None = None
    hold_paused_until: datetime | None = None
    kind: str = "custom"
    # Per pod set, its flavors in order of preference (PodSetDemand each); empty: one flavor each.
    options: tuple = ()
    # Evicted for not starting in time: not admitted again before this.
    not_before: datetime | None = None

    def totals(self) -> dict:
        return self._totals

    @cached_property
    def _totals(self) -> dict:
        """What it asks for in all, and on each flavor's nodes (keyed as `flavor_key` names them)."""
        totals = {
            "accelerators": sum(p.replicas * p.accelerators for p in self.pod_sets),
            "vcpus": sum(p.replicas * p.vcpus for p in self.pod_sets),
            "memory_gib": sum(p.replicas * p.memory_gib for p in self.pod_sets),
        }
        for p in self.pod_sets:
            for resource in SHARED_RESOURCES:
                key = flavor_key(resource, p.flavor_id)
                totals[key] = totals.get(key, 0) + p.replicas * getattr(p, resource)
        return totals


def flavor_key(resource: str, flavor_id) -> str:
    """A resource counted on one flavor's nodes only (a queue's per-flavor share)."""
    return f"{resource}@{flavor_id}"


@dataclass
class Budget:
    """A workspace's queue in the pool and what it uses. `limits` are its nominal shares
    (max_<resource>, None: unlimited); `borrowing` (resource -> amount above nominal it may use;
    missing: 0, None: unlimited) and `lending` (resource -> most of its unused nominal share others
    may use; missing or None: all of it). A resource is one of SHARED_RESOURCES over the pool, or
    one counted on one flavor's nodes (`flavor_key`), named in `labels` for messages."""

    limits: dict
    used: dict = field(default_factory=lambda: {"accelerators": 0, "vcpus": 0, "memory_gib": 0, "workloads": 0})
    borrowing: dict = field(default_factory=dict)
    lending: dict = field(default_factory=dict)
    weight: float = 1.0
    labels: dict = field(default_factory=dict)
    preemption_policy: str = "never"

    @cached_property
    def resources(self) -> tuple:
        """The resources it shares: the pool's and those of the flavors it has shares of."""
        return (*SHARED_RESOURCES, *(name[4:] for name in self.limits if "@" in name))

    @cached_property
    def limit_names(self) -> dict:
        return {**{resource: f"max_{resource}" for resource in self.resources}, "workloads": "max_workloads"}

    def label(self, resource: str) -> str:
        return self.labels.get(resource) or resource.replace("_", " ")

    def nominal(self, resource: str) -> int | None:
        return self.limits.get(f"max_{resource}")

    def above_nominal(self, resource: str, extra: int = 0) -> int:
        nominal = self.nominal(resource)
        return 0 if nominal is None else max(0, self.used.get(resource, 0) + extra - nominal)

    def reserved(self, resource: str) -> int:
        """What of its unused nominal share the queue keeps for itself (lends to nobody)."""
        nominal, lending = self.nominal(resource), self.lending.get(resource)
        if nominal is None or lending is None:
            return 0
        return max(0, nominal - self.used.get(resource, 0) - lending)

    def use(self, amounts: dict, sign: int = 1) -> None:
        for resource, amount in amounts.items():
            if resource in self.used or "@" in resource:
                self.used[resource] = self.used.get(resource, 0) + sign * amount
        self.used["workloads"] += sign

    def share(self, extra: dict, capacity: dict) -> float:
        """Weighted dominant-resource share of what it borrows once `extra` is added."""
        fractions = [self.above_nominal(r, extra.get(r, 0)) / capacity[r] for r in self.resources
                     if capacity.get(r)]
        return max(fractions, default=0.0) / self.weight


@dataclass
class Decision:
    workload_id: object
    admitted: bool
    reason: str
    message: str
    queue_position: int | None = None
    placements: list[Placement] = field(default_factory=list)
    # The workload's hold after this pass; `hold_expired`: it stopped holding in this pass.
    holding_since: datetime | None = None
    hold_paused_until: datetime | None = None
    hold_expired: bool = False
    # Admitted by preempting these: (victim id, the victim's reason in words).
    preempted: list[tuple[object, str]] = field(default_factory=list)
    preempted_summary: str = ""
    # Admitted on these pod set demands (flavors chosen among its options), where it had options.
    chosen: tuple | None = None


def _capacity_detail(workload, pool_name, nodes) -> str:
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
    return "; ".join(parts) or f"needs more free capacity in pool {pool_name}"


def duration_text(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds} s"


def hold_expired_text(max_hold_seconds: float, until: datetime) -> str:
    return (f"it held its nodes against other work for {duration_text(max_hold_seconds)} without fitting, so "
            f"other work may use them until {until:%Y-%m-%d %H:%M:%S} UTC")


def quota_refusal(workload: QueuedWorkload, budget: Budget | None) -> tuple[str, str] | None:
    """Why the queue may not take this workload at all: its nominal share (with no borrowing) or
    nominal share plus borrowing limit would be exceeded."""
    if budget is None:
        return None
    totals, limits, used = workload.totals(), budget.limits, budget.used
    for resource, limit_name in budget.limit_names.items():
        limit, amount = limits.get(limit_name), totals.get(resource, 0) if resource != "workloads" else 1
        if limit is None or not amount or used.get(resource, 0) + amount <= limit:
            continue
        borrowing = budget.borrowing.get(resource, 0)
        name = budget.label(resource)
        if borrowing == 0:
            return "QuotaExceeded", (
                f"Workspace quota exceeded: needs {amount} {name}, "
                f"{used.get(resource, 0)} of {limit} in use in this pool. Wait for running work to end "
                "or ask your account admin for a larger quota."
            )
        if borrowing is not None and used.get(resource, 0) + amount > limit + borrowing:
            return "BorrowingLimitReached", (
                f"Borrowing limit reached: needs {amount} {name}, {used.get(resource, 0)} in use in this pool "
                f"against a nominal share of {limit} plus a borrowing limit of {borrowing}. Wait for running work "
                "to end or ask your account admin for a larger share."
            )
    return None


class Cohort:
    """The pool's idle capacity and what its queues keep of it for their own nominal shares,
    kept up to date as a pass admits work."""

    def __init__(self, free: dict, budgets: dict):
        self.free, self.budgets = free, budgets
        self.kept = dict.fromkeys(SHARED_RESOURCES, 0)
        for budget in budgets.values():
            for r in budget.resources:
                self.kept[r] = self.kept.get(r, 0) + budget.reserved(r)
        self.labels = {r: b.label(r) for b in budgets.values() for r in b.resources}

    def borrowable(self, own) -> dict:
        """Idle capacity that work beyond a guaranteed share may take: what is free less what
        the other queues keep for their own unused nominal share."""
        mine = self.budgets.get(own)
        return {r: self.free.get(r, 0) - kept + (mine.reserved(r) if mine is not None else 0)
                for r, kept in self.kept.items()}

    def take(self, workload: QueuedWorkload, budget: Budget | None) -> None:
        self._count(workload.totals(), budget, 1)

    def give_back(self, totals: dict, budget: Budget | None) -> None:
        """What preempted work used is free again, and no longer its queue's."""
        self._count(totals, budget, -1)

    def _count(self, totals: dict, budget: Budget | None, sign: int) -> None:
        for resource, amount in totals.items():
            if resource in self.free:
                self.free[resource] -= sign * amount
        if budget is None:
            return
        before = {r: budget.reserved(r) for r in budget.resources}
        budget.use(totals, sign)
        for resource, reserved in before.items():
            self.kept[resource] += budget.reserved(resource) - reserved

    def refusal(self, workload: QueuedWorkload, budget: Budget | None) -> str | None:
        """Why the cohort cannot lend what this workload needs beyond its queue's nominal share
        (the whole workload when its workspace has no queue)."""
        totals = workload.totals()
        borrowable = None
        for resource in (self.kept if budget is None else budget.resources):
            if resource not in totals:
                continue
            need = totals[resource] if budget is None else (
                budget.above_nominal(resource, totals[resource]) - budget.above_nominal(resource))
            if need <= 0:
                continue
            borrowable = borrowable or self.borrowable(workload.workspace_id)
            free = self.free.get(resource, 0)
            if need <= borrowable[resource] or (budget is None and need > free):
                # Work without a queue short of idle capacity itself waits (and holds) as before.
                continue
            name = self.labels.get(resource) or resource.replace("_", " ")
            kept = free - borrowable[resource]
            if budget is None:
                return (f"Waiting for capacity no queue keeps for its guaranteed share: needs {need} {name}; "
                        f"{free} idle, of which other queues keep {kept} for their nominal shares")
            return (f"Borrowing exhausted: needs to borrow {need} {name} above its nominal share of "
                    f"{budget.nominal(resource)}; the cohort has {max(borrowable[resource], 0)} to lend "
                    f"({free} idle, of which other queues keep {kept} for their nominal shares)")
        return None


def _free(nodes: list[NodeState]) -> dict:
    """Free capacity over the pool and on each flavor's nodes."""
    free = dict.fromkeys(SHARED_RESOURCES, 0)
    for node in nodes:
        for resource in SHARED_RESOURCES:
            amount = getattr(node, resource)
            free[resource] += amount
            key = flavor_key(resource, node.flavor_id)
            free[key] = free.get(key, 0) + amount
    return free


def _holder_name(holder: tuple, workload: QueuedWorkload) -> str:
    """The workload a queued one waits behind: by name in its own workspace; another tenant's is
    never named."""
    return holder[2] if holder[3] == workload.workspace_id else "a workload of another workspace"


def _amount_text(totals: dict, pod_sets) -> str:
    kinds = {p.accelerator_kind for p in pod_sets if p.accelerators}
    if totals.get("accelerators"):
        unit = UNITS.get(kinds.pop(), "accelerators") if len(kinds) == 1 else "accelerators"
        return f"{totals['accelerators']} {unit}"
    return f"{totals['vcpus']} vCPUs"


MAX_FLAVOR_COMBINATIONS = 64


def choose_flavors(workload: QueuedWorkload, budget: Budget | None, nodes: list[NodeState]) -> QueuedWorkload:
    """The workload on the flavors it prefers most (per pod set, in its order; the first pod set's
    preference weighs most) that its queue takes and the free nodes fit: first without borrowing,
    then with; else on its first choices, to wait as such."""
    variants = [dataclasses.replace(workload, pod_sets=tuple(choice))
                for choice in itertools.islice(itertools.product(*workload.options), MAX_FLAVOR_COMBINATIONS)]

    def fits(variant, borrowing: bool) -> bool:
        if quota_refusal(variant, budget):
            return False
        totals = variant.totals()
        if not borrowing and budget is not None and any(budget.above_nominal(r, totals.get(r, 0))
                                                        for r in budget.resources):
            return False
        return place_gang(variant.pod_sets, [copy.copy(n) for n in nodes]) is not None

    for borrowing in (False, True):
        for variant in variants:
            if fits(variant, borrowing):
                return variant
    return variants[0]


def _guaranteed(budget: Budget, totals: dict) -> bool:
    """A queue reclaims only for work of resources it has a nominal share of."""
    return any(totals.get(r) and budget.nominal(r) is not None for r in budget.resources)


def _preempt(workload: QueuedWorkload, budget: Budget, preemption: Preemption, *, pool_name, nodes, cohort,
             admitted: dict) -> Decision:
    """Apply a preemption plan: the victims' capacity and usage go back, the workload takes its
    place. Each victim is told why in words; another workspace's work is never named to it."""
    by_id = {n.id: n for n in nodes}
    own, others = [], 0
    preempted = []
    amount = _amount_text(workload.totals(), workload.pod_sets)
    for victim in preemption.victims:
        admitted.pop(victim.id, None)
        for node_id, vcpus, memory_gib, accelerators in victim.allocations:
            if (node := by_id.get(node_id)) is not None:
                node.vcpus += vcpus
                node.memory_gib += memory_gib
                node.accelerators += accelerators
        cohort.give_back(victim.totals, cohort.budgets.get(victim.workspace_id))
        if victim.id in preemption.reclaimed:
            others += 1
            why = (f"Preempted to give back capacity its queue borrowed above its nominal share: a workload of "
                   f"another workspace needs {amount} within its own queue's guaranteed share in pool {pool_name}")
        else:
            own.append(victim.name)
            than = "a higher priority" if victim.priority < workload.priority else "the same priority, queued earlier"
            why = (f"Preempted by {workload.kind} workload '{workload.name}' of this workspace ({than}: "
                   f"{workload.priority} against {victim.priority}), which needs {amount} in pool {pool_name}")
        preempted.append((victim.id, f"{why}; it will be queued again with its original queue time."))
    placements = place_gang(workload.pod_sets, nodes)
    cohort.take(workload, budget)
    parts = ([", ".join(f"'{name}'" for name in own) + " of this workspace"] if own else []) + (
        [f"{others} workload(s) of other workspaces that borrowed above their queues' nominal shares"]
        if others else [])
    summary = f"Admitted to pool {pool_name} by preempting {' and '.join(parts)}."
    return Decision(workload.id, True, "Admitted", summary, placements=placements, preempted=preempted,
                    preempted_summary=summary)


def plan_admission(*, pool_name: str, pool_status: str, nodes: list[NodeState], queue: list[QueuedWorkload],
                   budgets: dict, now: datetime, starvation_seconds: float, max_hold_seconds: float | None = None,
                   hold_cooldown_seconds: float = 0, refusals: dict | None = None,
                   capacity: dict | None = None, admitted: list[AdmittedWorkload] = ()) -> list[Decision]:
    """Decide for one pool's queue, in order. `budgets` holds every queue of the pool's cohort
    (by workspace id). `refusals` maps workspace ids to a reason their work may not start (from
    registered admission checks). `max_hold_seconds` None: holds last until the gang fits.
    `capacity`: the pool's capacity per resource, which fair shares are fractions of (default:
    what the nodes have free). `admitted`: the pool's admitted and running work, which queued
    work within its queue's nominal share may preempt (resourcepools.preemption)."""
    refusals = refusals or {}
    candidates = {a.id: a for a in admitted}
    chosen = {}  # workload id -> its pod sets on the flavors chosen, where it had several
    # Within a pass, work asking what already failed to preempt (same workspace, priority, amounts
    # and kind of preemption) is not tried again: a pass mostly takes capacity and candidates away,
    # and the next pass tries afresh. This keeps a pass over thousands of blocked workloads cheap.
    futile = set()

    def preemption(workload, budget, reclaim):
        key = (workload.workspace_id, workload.priority, tuple(sorted(workload.totals().items())), reclaim)
        if not candidates or key in futile:
            return None
        found = plan_preemption(workload=workload, budget=budget, budgets=budgets, policy=budget.preemption_policy,
                                nodes=nodes, candidates=list(candidates.values()), reclaim=reclaim)
        if found is None:
            futile.add(key)
        return found

    cohort = Cohort(_free(nodes), budgets)
    capacity = capacity or dict(cohort.free)
    decisions: list[Decision | None] = []
    borrowers: dict[object, list[tuple[int, QueuedWorkload, int]]] = defaultdict(list)
    holds: dict[int, tuple] = {}  # flavor id -> (priority, starving, holder name, its workspace id)
    ahead = 0
    admitting = pool_status in ADMITTING_POOL_STATUSES
    for workload in queue:
        flavors = {p.flavor_id for p in workload.pod_sets}
        paused_until = workload.hold_paused_until
        if max_hold_seconds is None or (paused_until is not None and paused_until <= now):
            paused_until = None
        # Work not blocked for capacity holds nothing, so its hold clock (holding_since) stops.
        waiting = {"queue_position": ahead + 1, "hold_paused_until": paused_until}
        if not admitting:
            decisions.append(Decision(workload.id, False, "PoolNotAdmitting",
                                      f"Pool {pool_name} is {pool_status} and admits no work now; "
                                      f"{ahead} workload(s) ahead.", **waiting))
            ahead += 1
            continue
        if workload.not_before is not None and workload.not_before > now:
            decisions.append(Decision(workload.id, False, "EvictionBackoff",
                                      "Evicted as it did not start in time after its last admission; admitted again "
                                      f"no sooner than {workload.not_before:%Y-%m-%d %H:%M:%S} UTC; {ahead} "
                                      "workload(s) ahead.", **waiting))
            ahead += 1
            continue
        holder = next(
            (h for f in flavors if (h := holds.get(f)) and (workload.priority < h[0] or h[1])), None
        )
        if holder is not None:
            decisions.append(Decision(workload.id, False, "WaitingForEarlierWorkload",
                                      f"Waiting behind {_holder_name(holder, workload)}, which is earlier in line "
                                      f"for the same nodes; {ahead} workload(s) ahead.", **waiting))
            ahead += 1
            continue
        if workload.workspace_id in refusals:
            decisions.append(Decision(workload.id, False, "AdmissionRefused",
                                      f"{refusals[workload.workspace_id]} ({ahead} ahead)", **waiting))
            ahead += 1
            continue
        budget = budgets.get(workload.workspace_id)
        if workload.options:
            workload = choose_flavors(workload, budget, nodes)
            chosen[workload.id] = workload.pod_sets
        refusal = quota_refusal(workload, budget)
        if refusal and budget.preemption_policy != "never" and (found := preemption(workload, budget, False)):
            decisions.append(_preempt(workload, budget, found, pool_name=pool_name, nodes=nodes, cohort=cohort,
                                      admitted=candidates))
            continue
        if refusal:
            decisions.append(Decision(workload.id, False, refusal[0], f"{refusal[1]} ({ahead} ahead)", **waiting))
            ahead += 1
            continue
        totals = workload.totals()
        if budget is not None and any(budget.above_nominal(r, totals.get(r, 0)) for r in budget.resources):
            # Decided after the work within its share, by fair share (below).
            borrowers[workload.workspace_id].append((len(decisions), workload, ahead))
            decisions.append(None)
            ahead += 1
            continue
        if budget is None and budgets and (refusal := cohort.refusal(workload, None)):
            decisions.append(Decision(workload.id, False, "BorrowingExhausted", f"{refusal}; {ahead} workload(s) "
                                      "ahead.", **waiting))
            ahead += 1
            continue
        placements = place_gang(workload.pod_sets, nodes)
        if placements is None and budget is not None and (
                found := preemption(workload, budget, _guaranteed(budget, totals))):
            decisions.append(_preempt(workload, budget, found, pool_name=pool_name, nodes=nodes, cohort=cohort,
                                      admitted=candidates))
            continue
        if placements is None:
            detail = f"Waiting for capacity: {_capacity_detail(workload, pool_name, nodes)}"
            since = workload.holding_since or now
            if paused_until is None and max_hold_seconds is not None and (
                    now - since).total_seconds() >= max_hold_seconds:
                paused_until = now + timedelta(seconds=hold_cooldown_seconds)
                decisions.append(Decision(
                    workload.id, False, "HoldExpired", f"{detail}; {hold_expired_text(max_hold_seconds, paused_until)}"
                    f"; {ahead} workload(s) ahead.", ahead + 1, hold_paused_until=paused_until, hold_expired=True))
            elif paused_until is not None:
                decisions.append(Decision(
                    workload.id, False, "HoldExpired", f"{detail}; {hold_expired_text(max_hold_seconds, paused_until)}"
                    f"; {ahead} workload(s) ahead.", **waiting))
            else:
                decisions.append(Decision(workload.id, False, "InsufficientCapacity",
                                          f"{detail}; {ahead} workload(s) ahead.", ahead + 1, holding_since=since))
                starving = (now - workload.queued_at).total_seconds() >= starvation_seconds
                for f in flavors:
                    if f not in holds or (starving and not holds[f][1]):
                        holds[f] = (workload.priority, starving, workload.name, workload.workspace_id)
            ahead += 1
            continue
        cohort.take(workload, budget)
        decisions.append(Decision(workload.id, True, "Admitted", f"Admitted to pool {pool_name}.",
                                  placements=placements))
    _decide_borrowers(borrowers, decisions, pool_name=pool_name, nodes=nodes, cohort=cohort, capacity=capacity,
                      now=now, max_hold_seconds=max_hold_seconds)
    for decision in decisions:
        if decision.admitted and decision.workload_id in chosen:
            decision.chosen = chosen[decision.workload_id]
    return decisions


def _decide_borrowers(borrowers: dict, decisions: list, *, pool_name, nodes, cohort: Cohort, capacity, now,
                      max_hold_seconds) -> None:
    """Idle capacity to the borrowing queues by weighted dominant-resource share: each round the
    queue whose share would be lowest with its next workload admitted goes first. Only that
    queue's share changes in a round, so the queues wait in a heap."""
    budgets = cohort.budgets

    heads = dict.fromkeys(borrowers, 0)

    def turn(workspace_id):
        _, workload, _ = borrowers[workspace_id][heads[workspace_id]]
        return (budgets[workspace_id].share(workload.totals(), capacity), -workload.priority, workload.queued_at,
                str(workload.id), str(workspace_id))

    turns = [(turn(workspace_id), workspace_id) for workspace_id in borrowers]
    heapq.heapify(turns)
    while turns:
        _, workspace_id = heapq.heappop(turns)
        index, workload, ahead = borrowers[workspace_id][heads[workspace_id]]
        heads[workspace_id] += 1
        budget = budgets[workspace_id]
        decisions[index] = _borrower_decision(workload, budget, ahead, pool_name=pool_name, nodes=nodes,
                                              cohort=cohort, now=now, max_hold_seconds=max_hold_seconds)
        if heads[workspace_id] < len(borrowers[workspace_id]):
            heapq.heappush(turns, (turn(workspace_id), workspace_id))


def _borrower_decision(workload, budget, ahead, *, pool_name, nodes, cohort, now, max_hold_seconds) -> Decision:
    paused_until = workload.hold_paused_until
    if max_hold_seconds is None or (paused_until is not None and paused_until <= now):
        paused_until = None
    waiting = {"queue_position": ahead + 1, "hold_paused_until": paused_until}
    refusal = quota_refusal(workload, budget)
    if refusal:
        return Decision(workload.id, False, refusal[0], f"{refusal[1]} ({ahead} ahead)", **waiting)
    if message := cohort.refusal(workload, budget):
        return Decision(workload.id, False, "BorrowingExhausted", f"{message}; {ahead} workload(s) ahead.", **waiting)
    placements = place_gang(workload.pod_sets, nodes)
    if placements is None:
        return Decision(workload.id, False, "BorrowingExhausted", f"Borrowing exhausted: no idle capacity of the "
                        f"cohort fits; it {_capacity_detail(workload, pool_name, nodes)}; {ahead} workload(s) ahead.",
                        **waiting)
    cohort.take(workload, budget)
    return Decision(workload.id, True, "Admitted", f"Admitted to pool {pool_name}, borrowing idle capacity of its "
                    "cohort.", placements=placements)


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
            # NO KEY UPDATE: a pass still excludes other passes and quota, pool and node changes
            # (which lock the pool FOR UPDATE), but not the key-share lock that inserting a
            # workload or an allocation of the pool takes, which would make it skip the pool.
            p.pk: p for p in ResourcePool.objects.select_for_update(skip_locked=True, no_key=True).filter(
                pk__in=wanted)
        }
        report.pools = len(pools)
        report.skipped_pools = len(set(queued.values_list("pool_id", flat=True).distinct())) - len(pools)
        if not pools:
            return report

        nodes_by_pool, capacity_by_pool = node_states(pools)
        queue_rows = list(
            Workload.objects.filter(phase=Phase.QUEUED, pool_id__in=pools)
            .annotate(rank=Window(RowNumber(), partition_by=[F("pool_id")],
                                  order_by=[F("priority").desc(), F("queued_at").asc(), F("id").asc()]))
            .filter(rank__lte=lookahead)
            .order_by("pool_id", "rank")
            .values("id", "name", "kind", "workspace_id", "pool_id", "priority", "queued_at", "reason", "message",
                    "queue_position", "holding_since", "hold_paused_until", "not_before")
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
        options = defaultdict(lambda: defaultdict(list))  # workload id -> pod set id -> demands by rank
        for o in PodSetFlavor.objects.filter(pod_set__workload_id__in=[r["id"] for r in queue_rows]).values(
            "pod_set_id", "pod_set__workload_id", "pod_set__name", "pod_set__replicas", "flavor_id", "flavor__name",
            "flavor__accelerator_kind", "vcpus", "memory_gib", "accelerators",
        ).order_by("pod_set_id", "rank"):
            options[o["pod_set__workload_id"]][o["pod_set_id"]].append(PodSetDemand(
                o["pod_set_id"], o["pod_set__name"], o["pod_set__replicas"], o["flavor_id"], o["flavor__name"],
                o["flavor__accelerator_kind"], o["vcpus"], o["memory_gib"], o["accelerators"]))
        pairs = {(r["pool_id"], r["workspace_id"]) for r in queue_rows}
        budgets = queue_budgets(pools)
        # Only where a queue may preempt its own work or another queue borrows is there anything to preempt.
        admitted_by_pool = preemption_candidates({
            p for (p, _), b in budgets.items()
            if b.preemption_policy != "never" or any(b.above_nominal(r) for r in b.resources)})
        refused = {}
        for check in _admission_checks:
            refused.update(check(pools=list(pools.values()), workspace_ids={ws for _, ws in pairs}))

        rows_by_pool = defaultdict(list)
        for row in queue_rows:
            rows_by_pool[row["pool_id"]].append(row)
        decisions, rows_by_id = [], {}
        for pool_id, rows in rows_by_pool.items():
            pool = pools[pool_id]
            queue = [queued_workload(r, demands[r["id"]], options.get(r["id"])) for r in rows]
            decisions += plan_admission(
                pool_name=pool.name, pool_status=pool.status, nodes=nodes_by_pool[pool_id], queue=queue,
                budgets={ws: b for (p, ws), b in budgets.items() if p == pool_id}, now=now,
                starvation_seconds=settings.ADMISSION_STARVATION_SECONDS,
                max_hold_seconds=settings.ADMISSION_MAX_HOLD_SECONDS,
                hold_cooldown_seconds=settings.ADMISSION_HOLD_COOLDOWN_SECONDS,
                refusals={ws: reason for (p, ws), reason in refused.items() if p == pool_id},
                capacity=capacity_by_pool[pool_id], admitted=admitted_by_pool[pool_id],
            )
            rows_by_id.update({r["id"]: r for r in rows})

        admitted = [d for d in decisions if d.admitted]
        victims = defaultdict(list)
        for d in admitted:
            for victim_id, message in d.preempted:
                victims[message].append(victim_id)
        for message, workload_ids in victims.items():
            preempt_workloads(workload_ids=workload_ids, message=message)
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
        _record_flavors([d for d in admitted if d.chosen and d.workload_id in moved], options)
        WorkloadEvent.objects.bulk_create(
            WorkloadEvent(workload_id=d.workload_id, reason="Preempting", message=d.preempted_summary)
            for d in admitted if d.preempted and d.workload_id in moved)
        _record_pending([d for d in decisions if not d.admitted and _changed(rows_by_id[d.workload_id], d)])
        max_hold = settings.ADMISSION_MAX_HOLD_SECONDS
        WorkloadEvent.objects.bulk_create(
            WorkloadEvent(workload_id=d.workload_id, reason="HoldExpired",
                          message=f"Stopped holding capacity: {hold_expired_text(max_hold, d.hold_paused_until)}.")
            for d in decisions if d.hold_expired
        )
    return report


PENDING_FIELDS = ("reason", "message", "queue_position", "holding_since", "hold_paused_until")


def _changed(row: dict, decision: Decision) -> bool:
    return any(row[name] != getattr(decision, name) for name in PENDING_FIELDS)


def _record_pending(decisions: list[Decision]) -> None:
    """Write pending reasons, queue positions and holds in one UPDATE … FROM (VALUES …) (in
    slices where the database binds fewer parameters than ten thousand rows need)."""
    table = connection.ops.quote_name(Workload._meta.db_table)
    pk, since, paused = (Workload._meta.get_field(name) for name in ("id", "holding_since", "hold_paused_until"))
    rows = [(pk.get_db_prep_value(d.workload_id, connection), d.reason, d.message, d.queue_position,
             since.get_db_prep_value(d.holding_since, connection),
             paused.get_db_prep_value(d.hold_paused_until, connection))
            for d in decisions]
    for chunk in sql.chunks(rows):
        values, params = sql.values(chunk, ("uuid", None, None, "integer", "timestamptz", "timestamptz"))
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH pending(id, reason, message, pos, since, paused) AS ({values}) "
                f"UPDATE {table} SET reason = pending.reason, message = pending.message, queue_position = pending.pos, "
                f"holding_since = pending.since, hold_paused_until = pending.paused "
                f"FROM pending WHERE {table}.id = pending.id",
                params,
            )


def queued_workload(row: dict, demands: list[PodSetDemand], options: dict | None) -> QueuedWorkload:
    """A queued row as admission sees it; a pod set with several flavors starts on its first."""
    choices = tuple(tuple(options.get(d.id) or (d,)) for d in demands) if options else ()
    return QueuedWorkload(row["id"], row["name"], row["workspace_id"], row["priority"], row["queued_at"],
                          tuple(c[0] for c in choices) if choices else tuple(demands), row["holding_since"],
                          row["hold_paused_until"], row["kind"], choices, row["not_before"])


def _record_flavors(decisions: list[Decision], options: dict) -> None:
    """Admitted work that had several flavors runs on those chosen: its pod sets say so, and an
    event tells which choice it got where it was not the first."""
    rows, events = [], []
    for d in decisions:
        for demand in d.chosen or ():
            rows.append(PodSet(id=demand.id, flavor_id=demand.flavor_id, vcpus=demand.vcpus,
                               memory_gib=demand.memory_gib, accelerators=demand.accelerators))
        fallbacks = [f"{demand.name} on {demand.flavor_name}" for demand in d.chosen or ()
                     if demand.flavor_id != (options[d.workload_id].get(demand.id) or (demand,))[0].flavor_id]
        if fallbacks:
            events.append(WorkloadEvent(workload_id=d.workload_id, reason="FlavorFallback", message=(
                f"Admitted on a later choice of flavor: {', '.join(fallbacks)} (its first choice did not fit "
                "now).")))
    PodSet.objects.bulk_update(rows, ["flavor", "vcpus", "memory_gib", "accelerators"], batch_size=1000)
    WorkloadEvent.objects.bulk_create(events)


def node_states(pools) -> tuple[dict[object, list[NodeState]], dict[object, dict]]:
    """The free capacity of each pool's schedulable, healthy nodes, and their whole capacity."""
    used = {
        row["node_id"]: row
        for row in Allocation.objects.filter(pool_id__in=pools).values("node_id").annotate(
            vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"), accelerators=Sum("accelerators"))
    }
    states = defaultdict(list)
    capacity = defaultdict(lambda: dict.fromkeys(SHARED_RESOURCES, 0))
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
        for resource in SHARED_RESOURCES:
            amount = n[f"flavor__{resource}"]
            capacity[n["pool_id"]][resource] += amount
            key = flavor_key(resource, n["flavor_id"])
            capacity[n["pool_id"]][key] = capacity[n["pool_id"]].get(key, 0) + amount
    return states, capacity


def preemption_candidates(pool_ids) -> dict[object, list[AdmittedWorkload]]:
    """The admitted and running work of pools with queues, with what it holds on which node
    (two queries)."""
    if not pool_ids:
        return defaultdict(list)
    allocations = defaultdict(list)
    for row in Allocation.objects.filter(pool_id__in=pool_ids).values_list(
            "workload_id", "node_id", "vcpus", "memory_gib", "accelerators", "node__flavor_id").order_by("id"):
        allocations[row[0]].append(row[1:])
    found = defaultdict(list)
    for w in Workload.objects.filter(pool_id__in=pool_ids, phase__in=(Phase.ADMITTED, Phase.RUNNING)).values(
            "id", "name", "kind", "workspace_id", "pool_id", "priority", "queued_at", "admitted_at", "preemptible"):
        held = allocations.get(w["id"], [])
        totals = defaultdict(int)
        for _, vcpus, memory_gib, accelerators, flavor_id in held:
            for resource, amount in (("vcpus", vcpus), ("memory_gib", memory_gib), ("accelerators", accelerators)):
                totals[resource] += amount
                totals[flavor_key(resource, flavor_id)] += amount
        found[w["pool_id"]].append(AdmittedWorkload(
            w["id"], w["name"], w["kind"], w["workspace_id"], w["priority"], w["queued_at"], w["admitted_at"],
            w["preemptible"], dict(totals), tuple(h[:4] for h in held)))
    return found


def budget_of(quota: dict, flavor_shares: list[dict] = ()) -> Budget:
    """A queue's budget from its quota row and its per-flavor shares (as `values()` gives them,
    a share with its flavor's name as `flavor__name`), with nothing used yet."""
    budget = Budget(
        limits={k: quota[k] for k in ("max_accelerators", "max_vcpus", "max_memory_gib", "max_workloads")},
        borrowing={r: quota[f"borrowing_limit_{r}"] for r in SHARED_RESOURCES},
        lending={r: quota[f"lending_limit_{r}"] for r in SHARED_RESOURCES},
        weight=float(quota["weight"]),
        preemption_policy=quota.get("preemption_policy", "never"),
    )
    for share in flavor_shares:
        for r in SHARED_RESOURCES:
            key = flavor_key(r, share["flavor_id"])
            budget.limits[f"max_{key}"] = share[f"max_{r}"]
            budget.borrowing[key] = share[f"borrowing_limit_{r}"]
            budget.lending[key] = share[f"lending_limit_{r}"]
            budget.labels[key] = f"{r.replace('_', ' ')} on {share['flavor__name']} nodes"
    return budget


def queue_budgets(pools) -> dict:
    """Every queue of the pools' cohorts with what it uses, over the pool and per flavor:
    lending limits of queues with nothing queued still bound what others may borrow."""
    shares = defaultdict(list)
    for share in QuotaFlavor.objects.filter(quota__pool_id__in=pools).values().annotate(
            flavor__name=F("flavor__name")):
        shares[share["quota_id"]].append(share)
    budgets = {(q["pool_id"], q["workspace_id"]): budget_of(q, shares[q["id"]])
               for q in Quota.objects.filter(pool_id__in=pools).values()}
    workspaces = {ws for _, ws in budgets}
    for row in Allocation.objects.filter(pool_id__in=pools, workspace_id__in=workspaces).values(
        "pool_id", "workspace_id"
    ).annotate(accelerators=Sum("accelerators"), vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"),
               workloads=Count("workload_id", distinct=True)):
        budget = budgets.get((row["pool_id"], row["workspace_id"]))
        if budget is not None:
            budget.used.update({k: row[k] or 0 for k in ("accelerators", "vcpus", "memory_gib", "workloads")})
    for row in Allocation.objects.filter(pool_id__in=pools, workspace_id__in=workspaces).values(
        "pool_id", "workspace_id", "node__flavor_id"
    ).annotate(accelerators=Sum("accelerators"), vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib")):
        budget = budgets.get((row["pool_id"], row["workspace_id"]))
        if budget is not None:
            budget.used.update({flavor_key(r, row["node__flavor_id"]): row[r] or 0 for r in SHARED_RESOURCES})
    return budgets

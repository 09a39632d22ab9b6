"""When will a queued workload start? A pure estimator over one pool: the free capacity now, the
expected ends of the work holding capacity, and the queue in admission order.

The estimate replays the queue in order: each workload starts at the first moment (now, or when
some work is expected to end) at which its gang fits the nodes and its queue's limits, no sooner
than the workload ahead of it; once started it holds its placements until its own expected end.
A workload's expected run time is the average of similar finished runs (the same workload name in
the workspace, else the same kind in the pool), never more than its max runtime; with neither, its
max runtime; with none of them, it has no expected end and holds its capacity in the replay for
good. The estimate ignores backfill and borrowing between queues, so it leans late for small work
behind a blocked gang."""

import bisect
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import count

from .admission import QueuedWorkload, duration_text, flavor_key, quota_refusal
from .packing import NodeState, place_gang


@dataclass(frozen=True)
class History:
    """Finished runs like this one: how many, and their average run time in seconds."""

    runs: int
    average_seconds: float
    like: str  # e.g. "runs of 'train-bert' in this workspace"


def expected_run(*, max_runtime_seconds: int | None, history: History | None) -> tuple[float, str] | None:
    """The expected run time in seconds and where it comes from, or None when nothing tells."""
    if history is not None and history.runs:
        seconds = history.average_seconds
        basis = f"the average of {history.runs} finished {history.like}, {duration_text(seconds)}"
        if max_runtime_seconds is not None and max_runtime_seconds < seconds:
            return max_runtime_seconds, f"its max runtime of {duration_text(max_runtime_seconds)}"
        return seconds, basis
    if max_runtime_seconds is not None:
        return max_runtime_seconds, f"its max runtime of {duration_text(max_runtime_seconds)}"
    return None


@dataclass(frozen=True)
class Holder:
    """Work that holds capacity: admitted or running, or queued work started in the replay."""

    name: str
    workspace_id: object
    placements: tuple  # (node id, vcpus, memory_gib, accelerators) per replica
    ends_at: datetime | None
    end_basis: str  # why it is expected to end then (or why it has no expected end)

    def totals(self) -> dict:
        return {"vcpus": sum(p[1] for p in self.placements), "memory_gib": sum(p[2] for p in self.placements),
                "accelerators": sum(p[3] for p in self.placements)}


def running_holder(*, name: str, workspace_id, placements, since: datetime, expected: tuple[float, str] | None,
                   now: datetime) -> Holder:
    """Admitted or running work and its expected end; work past its expected end may end any moment."""
    if expected is None:
        return Holder(name, workspace_id, tuple(placements), None,
                      "it has no max runtime and no finished runs like it")
    seconds, basis = expected
    ends_at = since + timedelta(seconds=seconds)
    if ends_at <= now:
        return Holder(name, workspace_id, tuple(placements), now,
                      f"it has run longer than expected from {basis}, so it may end any moment")
    return Holder(name, workspace_id, tuple(placements), ends_at, f"expected from {basis}")


@dataclass(frozen=True)
class Estimate:
    starts_at: datetime | None
    basis: str


@dataclass
class _Replay:
    nodes: list[NodeState]
    budgets: dict
    ends: list = field(default_factory=list)  # sorted (ends_at, seq, Holder)
    next_end: int = 0

    def copy(self) -> "_Replay":
        return _Replay([replace(n) for n in self.nodes],
                       {ws: replace(b, used=dict(b.used)) for ws, b in self.budgets.items()},
                       self.ends, self.next_end)

    def release(self, holder: Holder) -> None:
        by_id = {n.id: n for n in self.nodes}
        amounts = holder.totals()
        for node_id, vcpus, memory_gib, accelerators in holder.placements:
            node = by_id.get(node_id)
            if node is not None:
                node.vcpus += vcpus
                node.memory_gib += memory_gib
                node.accelerators += accelerators
                for resource, amount in zip(("vcpus", "memory_gib", "accelerators"), (vcpus, memory_gib, accelerators),
                                            strict=True):
                    key = flavor_key(resource, node.flavor_id)
                    amounts[key] = amounts.get(key, 0) + amount
        budget = self.budgets.get(holder.workspace_id)
        if budget is not None:
            budget.use(amounts, sign=-1)


def _at(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def estimate_starts(*, now: datetime, nodes: list[NodeState], holders: list[Holder], queue: list[QueuedWorkload],
                    budgets: dict, expected: dict, not_estimated: dict | None = None) -> dict:
    """Estimates for the queue (in admission order) by workload id. `holders`: the work holding
    capacity now; `budgets`: the pool's queues with what they use now (admission's Budget);
    `expected`: workload id -> (run seconds, basis) or None for the queued work;
    `not_estimated`: workload id -> why no estimate can be given (pool frozen, admission refused)."""
    not_estimated = not_estimated or {}
    sequence = count()
    state = _Replay([replace(n) for n in nodes],
                    {ws: replace(b, used=dict(b.used)) for ws, b in budgets.items()},
                    sorted(((h.ends_at, next(sequence), h) for h in holders if h.ends_at is not None),
                           key=lambda e: (e[0], e[1])))
    endless = [h for h in holders if h.ends_at is None]
    clock, estimates = now, {}
    for ahead, workload in enumerate(queue):
        if workload.id in not_estimated:
            estimates[workload.id] = Estimate(None, f"No estimate: {not_estimated[workload.id]}")
            continue
        trial, at, waited_for = state.copy(), clock, None
        while True:
            budget = trial.budgets.get(workload.workspace_id)
            if quota_refusal(workload, budget) is None and (placements := place_gang(workload.pod_sets,
                                                                                      trial.nodes)) is not None:
                break
            if trial.next_end == len(trial.ends):
                placements = None
                break
            at, _, waited_for = trial.ends[trial.next_end]
            at = max(at, clock)
            trial.release(waited_for)
            trial.next_end += 1
        if placements is None:
            waiting_on = ", ".join(_name(h, workload) for h in endless[:3]) or "work queued ahead of it"
            estimates[workload.id] = Estimate(None, f"No estimate: it waits for capacity held by work with no "
                                                    f"expected end ({waiting_on}: no max runtime and no finished "
                                                    "runs like it).")
            continue
        if budget is not None:
            budget.use(workload.totals())
        state, clock = trial, at
        estimates[workload.id] = Estimate(at, _basis(at, now, waited_for, ahead, workload))
        run = expected.get(workload.id)
        holder = Holder(workload.name, workload.workspace_id,
                        tuple((p.node_id, p.vcpus, p.memory_gib, p.accelerators) for p in placements),
                        at + timedelta(seconds=run[0]) if run else None,
                        f"expected from {run[1]}" if run else "it has no max runtime and no finished runs like it")
        if holder.ends_at is None:
            endless.append(holder)
        else:
            # Its end comes after every end the replay has used, so it goes in order behind them.
            state.ends = list(state.ends)
            bisect.insort(state.ends, (holder.ends_at, next(sequence), holder), lo=state.next_end,
                          key=lambda e: (e[0], e[1]))
    return estimates


def _name(holder: Holder, viewer: QueuedWorkload) -> str:
    """Work of the viewer's own workspace by name; another tenant's is never named."""
    return f"'{holder.name}'" if holder.workspace_id == viewer.workspace_id else "a workload of another workspace"


def _basis(at: datetime, now: datetime, waited_for: Holder | None, ahead: int, viewer: QueuedWorkload) -> str:
    before = f"; {ahead} workload(s) ahead of it start first" if ahead else ""
    if at <= now:
        return f"It fits now and starts at the next admission pass{before}."
    if waited_for is None:
        return f"Right after the workload ahead of it starts, about {_at(at)}{before}."
    return (f"When {_name(waited_for, viewer)} ends, about {_at(at)} ({waited_for.end_basis}), enough capacity is "
            f"free{before}.")


"""The glue between workloads and the compute backend: submit admitted work, cancel stopping
work, and turn what the backend sees into workload phases and events. Phases change only
through resourcepools' transition service; the database is the record, the backend is
reconciled to it."""

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from aiplatform.celery import enqueue_on_commit
from aiplatform.storage import StorageError, workload_bindings
from resourcepools.models import TERMINAL_PHASES, PoolKind, Workload, WorkloadEvent
from resourcepools.models import Phase as P
from resourcepools.services import (
    REQUEUED_REASONS,
    finish_stops,
    note_workload_condition,
    record_workload_event,
    transition_workloads,
)

from .backend import (
    FAILED,
    GONE,
    LIVE_STATES,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    Observation,
    PodSetSpec,
    SubmitError,
    WorkloadSpec,
    get_compute_backend,
    is_uuid,
)
from .runtime_secrets import runtime_secrets
from .volumes import workload_volume

logger = logging.getLogger(__name__)

ACTIVE_PHASES = (P.ADMITTED, P.RUNNING, P.STOPPING)
# An admitted workload with nothing in the backend this long after admission is submitted
# again (its submit task was lost); the submit is idempotent, so a slow first one is harmless.
RESUBMIT_AFTER = timedelta(seconds=60)
DEADLINE_GRACE = timedelta(seconds=60)
# Serialises reconcile passes on PostgreSQL: a second pass at the same time skips.
RECONCILE_LOCK_ID = 0x6B3873
# A running service some of whose instances are not ready (the platform calls it "concerning").
UNHEALTHY = "InstancesUnhealthy"


def workload_spec(workload: Workload) -> WorkloadSpec:
    """The backend's view of a workload (pod sets with their flavors and the pool prefetched
    or fetched here)."""
    return WorkloadSpec(
        id=str(workload.pk),
        workspace_id=str(workload.workspace_id),
        name=workload.name,
        kind=workload.kind,
        pool_name=workload.pool.placement_label,
        dedicated_pool=workload.pool.kind == PoolKind.DEDICATED,
        image=workload.image,
        command=tuple(workload.command or ()),
        env=tuple(sorted((str(k), str(v)) for k, v in (workload.env or {}).items())),
        max_runtime_seconds=workload.max_runtime_seconds,
        pod_sets=tuple(
            PodSetSpec(name=p.name, replicas=p.replicas, vcpus=p.vcpus, memory_gib=p.memory_gib,
                       accelerators=p.accelerators, accelerator_kind=p.flavor.accelerator_kind,
                       command=tuple(p.command or ()),
                       env=tuple(sorted((str(k), str(v)) for k, v in (p.env or {}).items())),
                       min_replicas=p.min_replicas, max_replicas=p.max_replicas,
                       target_concurrency=p.target_concurrency)
            for p in workload.pod_sets.all()
        ),
        storage=workload_bindings(workspace_id=workload.workspace_id),
        volume=workload_volume(workload),
    )


def _workloads():
    return Workload.objects.select_related("pool").prefetch_related("pod_sets__flavor")


def submit_workload(*, workload_id) -> bool:
    """Run an admitted workload; idempotent (a retry adopts what the first attempt created).
    A refusal by the backend, or secrets that cannot be made (a storage service refusing
    credentials, a stored key that no longer decrypts), fails the workload with the reason;
    outages (BackendUnavailable, from the backend or a secret provider) raise, to be retried."""
    workload = _workloads().filter(pk=workload_id).first()
    if workload is None or workload.phase != P.ADMITTED:
        return False
    backend = get_compute_backend()
    # Secrets go to the backend only here, signed afresh on each submit, and are never stored.
    try:
        secrets = runtime_secrets(workload)
    except StorageError as exc:
        transition_workloads(workload_ids=[workload.pk], to=P.FAILED, reason="SecretsUnavailable",
                             message=f"Its secrets could not be made: {exc}", skip_illegal=True)
        return False
    spec = dataclasses.replace(workload_spec(workload), secrets=tuple(sorted(secrets.items())))
    try:
        created = backend.submit(spec)
    except SubmitError as exc:
        transition_workloads(workload_ids=[workload.pk], to=P.FAILED, reason="SubmitFailed",
                             message=f"The {backend.name} backend refused it: {exc}", skip_illegal=True)
        return False
    if created:
        record_workload_event(workload_id=workload.pk, reason="Submitted",
                              message=f"Submitted to the {backend.name} backend.")
    return created


def cancel_workload(*, workload_id) -> None:
    """Finish a stop: delete what the workload runs, then mark it STOPPED (or, when it was
    preempted or evicted, remove its objects whole, so that it can be submitted again, and queue
    it again)."""
    workload = _workloads().filter(pk=workload_id).first()
    if workload is None:
        return
    backend = get_compute_backend()
    backend.cancel(workload_spec(workload))
    if workload.phase == P.STOPPING and workload.reason in REQUEUED_REASONS:
        backend.remove(Observation(workload_id=str(workload.pk)))
    finish_stops(workload_ids=[workload.pk], stopped_by=backend.name)


def delete_volume(*, workspace_id, name: str) -> None:
    get_compute_backend().delete_volume(workspace_id=str(workspace_id), name=name)


def workload_logs(*, workload: Workload, replica: str | None = None, tail: int | None = None,
                  follow: bool = False):
    return get_compute_backend().logs(workload_spec(workload), replica=replica, tail=tail, follow=follow)


def workload_replicas(*, workload: Workload) -> list[str]:
    return get_compute_backend().replicas(workload_spec(workload))


# --- reconciliation -------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    skipped: bool = False
    observed: int = 0
    started: list = field(default_factory=list)
    succeeded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    vanished: list = field(default_factory=list)
    stopped: list = field(default_factory=list)
    requeued: list = field(default_factory=list)  # preempted work, stopped and queued again
    cancelled: list = field(default_factory=list)
    resubmitted: list = field(default_factory=list)
    overran: list = field(default_factory=list)
    orphans_removed: int = 0
    events: int = 0


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True  # the embedded SQLite database serialises writers already
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK_ID])
        return cursor.fetchone()[0]


def reconcile(*, now=None) -> ReconcileReport:
    """One pass: list what the backend runs (a fixed number of calls), compare with the active
    workloads (a fixed number of queries) and repair both ways. The backend is called outside
    the pass's transaction: listed before it, and what is to be removed removed after it commits."""
    report = ReconcileReport()
    backend = get_compute_backend()
    # Listed before reading the database: an object created after this list cannot be mistaken
    # for an orphan, since its workload is already active when we read it.
    observed = backend.list_owned()
    with transaction.atomic():
        if not _try_lock():
            report.skipped = True
            return report
        now = now or timezone.now()
        report.observed = len(observed)
        active = {
            str(w["id"]): w for w in Workload.objects.filter(phase__in=ACTIVE_PHASES).values(
                "id", "phase", "reason", "admitted_at", "started_at", "max_runtime_seconds")
        }
        by_outcome = {RUNNING: [], SUCCEEDED: [], FAILED: []}
        conditions = []  # (workload id, reason, message) of running work whose health changed
        for workload_id, row in active.items():
            observation = observed.get(workload_id)
            if row["phase"] == P.STOPPING:
                if observation is None or observation.state == STOPPED:
                    report.stopped.append(workload_id)  # nothing left to cancel: finish the stop here
                else:
                    report.cancelled.append(workload_id)
            elif observation is None or observation.state == GONE:
                if row["phase"] == P.RUNNING:
                    report.vanished.append(workload_id)
                elif row["admitted_at"] and row["admitted_at"] < now - RESUBMIT_AFTER:
                    report.resubmitted.append(workload_id)
            elif _overran(row, observation, now):
                observation.state, observation.reason = FAILED, "DeadlineExceeded"
                observation.message = (f"It ran longer than its max runtime of {row['max_runtime_seconds']} s "
                                       "and was stopped.")
                by_outcome[FAILED].append(observation)
                report.overran.append(observation)
            elif row["phase"] == P.RUNNING and observation.unready:
                conditions.append((workload_id, UNHEALTHY, "Some instances are not ready: "
                                   + "; ".join(observation.unready) + "."))
            elif observation.state in by_outcome:
                if observation.state == RUNNING and row["phase"] != P.ADMITTED:
                    if row["reason"] == UNHEALTHY:
                        conditions.append((workload_id, "InstancesRecovered", "Every instance is ready again."))
                    continue
                by_outcome[observation.state].append(observation)

        for workload_id, reason, message in conditions:
            note_workload_condition(workload_id=workload_id, reason=reason, message=message)
        report.events = _record_new_events([o for o in observed.values() if o.workload_id in active])
        starts, ends = _observed_times(active, observed)
        report.started = transition_workloads(
            workload_ids=[o.workload_id for o in by_outcome[RUNNING]], to=P.RUNNING, reason="Running",
            message="Every replica has started.", skip_illegal=True, observed_at=starts)
        # Work that ended between two passes was never seen running, yet it ran: it is RUNNING from
        # its observed start (or its admission) first, so that billing meters it.
        unseen = [o.workload_id for o in by_outcome[SUCCEEDED] + by_outcome[FAILED]
                  if active[o.workload_id]["phase"] == P.ADMITTED]
        transition_workloads(
            workload_ids=unseen, to=P.RUNNING, reason="Running",
            message="It started and ended between two looks at the backend.", skip_illegal=True,
            observed_at={w: starts.get(w) or active[w]["admitted_at"] for w in unseen})
        report.succeeded = transition_workloads(
            workload_ids=[o.workload_id for o in by_outcome[SUCCEEDED]], to=P.SUCCEEDED, reason="Completed",
            message="Every replica finished successfully.", skip_illegal=True, observed_at=ends)
        failures = defaultdict(list)  # one transition per distinct reason, not per workload
        for observation in by_outcome[FAILED]:
            failures[observation.reason or "Failed", observation.message].append(observation.workload_id)
        for (reason, message), workload_ids in failures.items():
            report.failed += transition_workloads(workload_ids=workload_ids, to=P.FAILED, reason=reason,
                                                  message=message, skip_illegal=True, observed_at=ends)
        report.stopped, report.requeued = finish_stops(workload_ids=report.stopped, stopped_by=backend.name)
        report.vanished = transition_workloads(
            workload_ids=report.vanished, to=P.FAILED, reason="ObjectsVanished",
            message=f"Its objects disappeared from the {backend.name} backend while it was running "
                    "(deleted by someone else, or the backend lost them).", skip_illegal=True)

        orphans = _orphans(observed, active, now)
    # What ran past its deadline is failed and committed first, then its objects go with the orphans'.
    # Preempted or evicted work queued again is submitted afresh: nothing of its last run may be adopted.
    requeued = [observed.get(str(w)) or Observation(workload_id=str(w)) for w in report.requeued]
    for observation in report.overran + orphans + requeued:
        backend.remove(observation)
    report.orphans_removed = len(orphans)
    # Outside the pass's transaction, through the outbox: a broker that is down keeps them for the relay.
    if report.cancelled or report.resubmitted:
        from . import tasks  # imported here: tasks imports this module

        with transaction.atomic():
            for workload_id in report.cancelled:
                enqueue_on_commit(tasks.cancel_workload, workload_id)
            for workload_id in report.resubmitted:
                enqueue_on_commit(tasks.submit_workload, workload_id)
    return report


def _observed_times(active: dict, observed: dict) -> tuple[dict, dict]:
    """Each active workload's start and end as the backend saw them (by id), kept within what the
    database knows: nothing starts before its admission, nor ends before it started."""
    starts, ends = {}, {}
    for workload_id, row in active.items():
        observation = observed.get(workload_id)
        if observation is None or row["admitted_at"] is None:
            continue
        start = row["started_at"] or observation.started_at
        if start is not None:
            starts[workload_id] = max(start, row["admitted_at"])
        if observation.finished_at is not None:
            ends[workload_id] = max(observation.finished_at, starts.get(workload_id) or row["admitted_at"])
    return starts, ends


def _overran(row: dict, observation: Observation, now) -> bool:
    """Still running past its max runtime (and a grace for the backend's own enforcement, which
    Jobs and local processes have and Deployments lack)."""
    limit = row["max_runtime_seconds"]
    return bool(limit and observation.state in LIVE_STATES and row["admitted_at"]
                and row["admitted_at"] + timedelta(seconds=limit) + DEADLINE_GRACE < now)


def _record_new_events(observations: list[Observation]) -> int:
    """Backend events become workload events once each (a crash loop is told once, not per pass)."""
    wanted = {(o.workload_id, e.reason, e.message) for o in observations for e in o.events}
    if not wanted:
        return 0
    seen = {
        (str(w), r, m) for w, r, m in WorkloadEvent.objects.filter(
            workload_id__in={w for w, _, _ in wanted}, reason__in={r for _, r, _ in wanted},
        ).values_list("workload_id", "reason", "message")
    }
    new = sorted(wanted - seen)
    WorkloadEvent.objects.bulk_create(WorkloadEvent(workload_id=w, reason=r, message=m) for w, r, m in new)
    return len(new)


def _orphans(observed: dict, active: dict, now) -> list[Observation]:
    """Objects whose workload is gone, that still run for a workload that has ended, or that
    ended longer ago than the retention (finished replicas stay a while so that their logs can
    still be read)."""
    candidates = {wid: o for wid, o in observed.items() if wid not in active and is_uuid(wid)}
    if not candidates:
        return []
    keep_until = now - timedelta(seconds=settings.FINISHED_OBJECTS_RETENTION_SECONDS)
    ended = {
        str(w["id"]): w for w in Workload.objects.filter(pk__in=list(candidates)).values("id", "phase", "finished_at")
    }
    orphans = []
    for workload_id, observation in candidates.items():
        row = ended.get(workload_id)
        if row is None or observation.state in LIVE_STATES or (
            row["phase"] in TERMINAL_PHASES and (row["finished_at"] is None or row["finished_at"] < keep_until)
        ):
            orphans.append(observation)
    # Labels that name no workload at all are orphans too.
    return orphans + [o for wid, o in observed.items() if not is_uuid(wid)]


# --- nodes ----------------------------------------------------------------------------------------


def place_node(*, node_name: str, pool_name: str, dedicated: bool) -> None:
    get_compute_backend().place_node(node_name=node_name, pool_name=pool_name, dedicated=dedicated)


def release_node(*, node_name: str) -> None:
    get_compute_backend().release_node(node_name=node_name)

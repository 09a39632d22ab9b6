"""Leases on long tasks. A worker claims the task's lease before it works on it and renews the
lease's heartbeat while it does; a worker that is killed stops renewing it. The reaper of the app
that owns the task finds leases silent for TASK_STALLED_AFTER_SECONDS, takes them back and
requeues their tasks. A delivery that finds the lease held by a live worker leaves the task alone,
so a message delivered twice (acks_late, the broker's visibility timeout, a requeue) runs the
task once at a time. Each change leaves an event on the lease: what happened, when, and by whom."""

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import TaskLease

MAX_EVENTS = 50
UNKNOWN_HOLDER = "a worker of an earlier release"
# Leases of finished tasks stay this long (their events say what happened), then go.
RETENTION = timedelta(days=30)


class LeaseLost(Exception):
    """The lease was taken back (its worker was silent too long) or over: another attempt runs the task."""


def _event(event: str, message: str, now: datetime) -> dict:
    return {"at": now.isoformat(), "event": event, "message": message}


def _append(lease: TaskLease, event: dict) -> None:
    lease.events = [*lease.events, event][-MAX_EVENTS:]


@dataclass
class Lease:
    """This worker's hold on a task's lease."""

    key: str
    holder: str
    attempt: int
    _beaten_at: float = field(default_factory=time.monotonic)

    def beat(self, *, force: bool = False) -> None:
        """Renews the heartbeat (at most every TASK_HEARTBEAT_SECONDS unless forced); raises
        LeaseLost when the lease is no longer this worker's. Forced inside a transaction, it also
        holds the lease until that commits, so no one takes the task over meanwhile."""
        if not force and time.monotonic() - self._beaten_at < settings.TASK_HEARTBEAT_SECONDS:
            return
        if not TaskLease.objects.filter(key=self.key, holder=self.holder).update(heartbeat_at=timezone.now()):
            raise LeaseLost(self.key)
        self._beaten_at = time.monotonic()

    def record(self, event: str, message: str) -> None:
        with transaction.atomic():
            lease = TaskLease.objects.select_for_update().filter(key=self.key, holder=self.holder).first()
            if lease is None:
                raise LeaseLost(self.key)
            _append(lease, _event(event, message, timezone.now()))
            lease.save(update_fields=["events"])

    def release(self, *, outcome: str) -> None:
        """Lets go of the lease at the end of the task; nothing happens if it is no longer ours."""
        with transaction.atomic():
            lease = TaskLease.objects.select_for_update().filter(key=self.key, holder=self.holder).first()
            if lease is None:
                return
            now = timezone.now()
            lease.holder, lease.heartbeat_at = "", now
            _append(lease, _event("finished", f"Attempt {lease.attempt} ended: {outcome}.", now))
            lease.save(update_fields=["holder", "heartbeat_at", "events"])


def _holder() -> str:
    """Who holds a lease: the Celery worker (its node name) or host, its process, and this claim."""
    worker = getattr(current_task.request, "hostname", None) if current_task else None
    return f"{worker or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.TASK_STALLED_AFTER_SECONDS)


def claim(*, key: str) -> Lease | None:
    """The lease for this worker, or None while another live worker holds it (its heartbeat is
    recent). A lease whose holder went silent is taken over."""
    now = timezone.now()
    with transaction.atomic():
        TaskLease.objects.bulk_create([TaskLease(key=key)], ignore_conflicts=True)
        lease = TaskLease.objects.select_for_update().get(key=key)
        if lease.holder and lease.heartbeat_at and lease.heartbeat_at >= _stale_before(now):
            return None
        holder = _holder()
        if lease.holder:
            event = _event("taken over", f"Attempt {lease.attempt + 1} by {holder}; {lease.holder} was last heard "
                                         f"of at {lease.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC.", now)
        else:
            event = _event("started" if lease.attempt == 0 else "restarted",
                           f"Attempt {lease.attempt + 1} by {holder}.", now)
        lease.holder, lease.attempt, lease.heartbeat_at = holder, lease.attempt + 1, now
        _append(lease, event)
        lease.save()
    return Lease(key=key, holder=holder, attempt=lease.attempt)


def stalled(*, started: dict[str, datetime | None], now: datetime) -> list[str]:
    """Which of these running tasks (key: when it started) have a silent worker: a lease held with
    an old heartbeat, or no lease at all for a task started before the stall time (a worker of a
    release without leases ran it)."""
    cutoff = _stale_before(now)
    leases = TaskLease.objects.in_bulk(list(started))
    found = []
    for key, since in started.items():
        lease = leases.get(key)
        if lease is None:
            if since is not None and since < cutoff:
                found.append(key)
        elif lease.holder and lease.heartbeat_at is not None and lease.heartbeat_at < cutoff:
            found.append(key)
    return found


def silent(*, key: str, now: datetime, started: datetime | None = None) -> TaskLease | None:
    """The lease, locked for the caller's transaction, if its worker is still silent; None when it
    spoke up or another reaper got there first. A task without a lease (`started`: when it
    started) gets one held by an unknown worker."""
    if started is not None:
        TaskLease.objects.bulk_create([TaskLease(key=key, holder=UNKNOWN_HOLDER, attempt=1, heartbeat_at=started)],
                                      ignore_conflicts=True)
    lease = TaskLease.objects.select_for_update().filter(key=key).first()
    if lease is None or not lease.holder or lease.heartbeat_at is None or lease.heartbeat_at >= _stale_before(now):
        return None
    return lease


def let_go(*, lease: TaskLease, event: str, message: str) -> None:
    """Takes a silent worker's lease (from `silent`) back and says why: its heartbeats, and any
    batch it would still write, are refused from now on."""
    lease.holder = ""
    _append(lease, _event(event, message, timezone.now()))
    lease.save(update_fields=["holder", "events"])


def purge_finished(*, prefix: str, now: datetime) -> int:
    deleted, _ = TaskLease.objects.filter(key__startswith=prefix, holder="", heartbeat_at__lt=now - RETENTION).delete()
    return deleted

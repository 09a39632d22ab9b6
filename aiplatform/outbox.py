"""The transactional outbox. A task to run after a change is written as a row in the change's own
transaction, so both commit or neither does. Right after the commit the message is sent and its
row deleted; a message that could not be sent (the broker was down, the process died in between)
stays, and the relay (a beat task) sends it later. A message may go out twice (a sender that died
between sending and deleting its row), which the tasks allow: each is idempotent, as acks_late
redelivery already requires.

A request that would enqueue work while the broker is unreachable is refused instead
(BrokerUnavailable, answered 503): it is raised inside the request's transaction, which rolls
back, so nothing is created for work that could not start. Workers and beat are never refused."""

import logging
import time
from datetime import timedelta
from functools import partial

from celery.canvas import Signature
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from .celery import app, serving_request
from .models import OutboxMessage

logger = logging.getLogger(__name__)

# A sender holds a message this long; past it (the sender died), the relay may send it again.
CLAIM = timedelta(seconds=60)
# One quick retry of a send (a connection the broker dropped); the relay does the rest.
RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
RELAY_BATCH = 500


class BrokerUnavailable(Exception):
    """The broker cannot be reached, so a request that would enqueue work is refused."""


class _BrokerState:
    """The last word on whether the broker is reachable (from a send, or a quick connection
    check), trusted for BROKER_CHECK_INTERVAL_SECONDS."""

    def __init__(self):
        self._reachable, self._at = True, float("-inf")

    def reachable(self) -> bool:
        if time.monotonic() - self._at >= settings.BROKER_CHECK_INTERVAL_SECONDS:
            self.mark(_connects())
        return self._reachable

    def mark(self, reachable: bool) -> None:
        self._reachable, self._at = reachable, time.monotonic()

    def reachable_now(self) -> bool:
        """The last word, whatever its age (a send just failed or went)."""
        return self._reachable


broker = _BrokerState()


def _connects() -> bool:
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0, timeout=settings.BROKER_HEALTH_TIMEOUT)
    except Exception as exc:  # whatever the transport raises, it did not connect
        logger.warning("the broker is unreachable: %s", exc)
        return False
    return True


def enqueue(task, *args, **kwargs) -> OutboxMessage:
    """Writes the message for `task` (a task, or a signature with its own arguments and options)
    in the current transaction and sends it once that commits."""
    if isinstance(task, Signature):
        name, args, kwargs, options = task.task, (*task.args, *args), {**task.kwargs, **kwargs}, dict(task.options)
    else:
        name, options = task.name, {}
    # Refused only inside the request's transaction, where raising undoes the change; what a
    # request enqueues after its commit (phase-change receivers) waits in the outbox instead.
    refusable = serving_request.get() and transaction.get_connection().in_atomic_block
    if refusable and not app.conf.task_always_eager and not broker.reachable():
        raise BrokerUnavailable()
    message = OutboxMessage.objects.create(task=name, args=list(args), kwargs=kwargs, options=options)
    transaction.on_commit(partial(_send_committed, message))
    return message


def _free(now) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def _send_committed(message: OutboxMessage) -> bool:
    now = timezone.now()
    if not OutboxMessage.objects.filter(_free(now), pk=message.pk).update(claimed_until=now + CLAIM):
        return False  # a relay is sending it
    return _send(message)


def relay(*, batch: int = RELAY_BATCH) -> int:
    """Sends what is still in the outbox, oldest first, until it is empty or the broker is
    unreachable; returns how many went. A message refused for a reason of its own does not hold
    the others back, and after OUTBOX_MAX_ATTEMPTS it is left for an operator (the admin shows
    its error and can send it again). Relays running at once take different messages."""
    sent, refused = 0, set()
    while True:
        now = timezone.now()
        with transaction.atomic():
            messages = list(OutboxMessage.objects.select_for_update(skip_locked=True)
                            .filter(_free(now), attempts__lt=settings.OUTBOX_MAX_ATTEMPTS).exclude(pk__in=refused)
                            .order_by("created_at")[:batch])
            OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(claimed_until=now + CLAIM)
        for index, message in enumerate(messages):
            if _send(message):
                sent += 1
            elif not broker.reachable_now():
                OutboxMessage.objects.filter(pk__in=[m.pk for m in messages[index + 1:]]).update(claimed_until=None)
                return sent
            else:
                refused.add(message.pk)
        if len(messages) < batch:
            return sent


def _send(message: OutboxMessage) -> bool:
    """Sends a claimed message and deletes it; when the broker refuses it, frees it for the relay."""
    options = {"task_id": str(message.pk), "retry": True, "retry_policy": RETRY_POLICY, **message.options}
    task = app.tasks.get(message.task)
    try:
        if task is None:  # a task this process does not know by name is sent by its name
            app.send_task(message.task, args=message.args, kwargs=message.kwargs, **options)
        else:
            task.apply_async(args=message.args, kwargs=message.kwargs, **options)
    except Exception as exc:
        if isinstance(exc, BrokerError | OSError):
            broker.mark(False)
        logger.warning("outbox message %s (%s) not sent, the relay tries again: %s", message.pk, message.task, exc)
        OutboxMessage.objects.filter(pk=message.pk).update(
            claimed_until=None, attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        return False
    broker.mark(True)
    OutboxMessage.objects.filter(pk=message.pk).delete()
    return True

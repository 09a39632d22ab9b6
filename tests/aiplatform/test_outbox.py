"""The transactional outbox against the real Redis broker: a message commits with its transaction
and is sent after it, the relay sends what was left, and a request that would enqueue work while
the broker is known to be down answers 503 with nothing created. The broker really down (a closed
port, a Redis stopped and started again) is in tests/faults/test_broker.py."""

import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from aiplatform import outbox
from aiplatform.celery import app as celery_app
from aiplatform.celery import enqueue_on_commit, serving_request
from aiplatform.errors import service_unavailable
from aiplatform.models import IdempotencyKey, OutboxMessage
from aiplatform.tasks import purge_expired_idempotency_keys, relay_outbox
from datasets import services as dataset_services
from datasets.models import DatasetVersion
from tests.datasets.factories import DatasetFactory

TASK = purge_expired_idempotency_keys.name


@pytest.fixture
def queue():
    """A queue of this test's own on the broker: what was sent to it, as Celery messages."""
    name = f"test-outbox-{uuid.uuid4().hex[:8]}"
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_declare(queue=name, auto_delete=False)

        def sent():
            messages = []
            while (message := channel.basic_get(name, no_ack=True)) is not None:
                messages.append(message)
            return [(m.headers["task"], m.headers["id"]) for m in messages]

        yield name, sent
        channel.queue_delete(name)


@pytest.fixture
def broker_down():
    """What a failed send or check leaves: the broker known to be unreachable for a while."""
    outbox.broker.mark(False)
    yield
    outbox.broker.mark(True)


@pytest.mark.django_db(transaction=True)
def test_a_message_commits_with_its_transaction_and_is_sent_after_it(queue):
    name, sent = queue
    with transaction.atomic():
        message = enqueue_on_commit(purge_expired_idempotency_keys.s().set(queue=name))
        assert OutboxMessage.objects.filter(pk=message.pk).exists()
        assert sent() == []
    assert sent() == [(TASK, str(message.pk))]  # the Celery task id is the message's
    assert not OutboxMessage.objects.exists()

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(purge_expired_idempotency_keys.s().set(queue=name))
        raise RuntimeError("roll back")
    assert sent() == [] and not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_relay_sends_what_was_left_unsent_oldest_first(queue):
    name, sent = queue
    now = timezone.now()
    # Left by a process that died before sending, by a broker that was down, and one a live
    # sender is sending right now.
    first = OutboxMessage.objects.create(task=TASK, options={"queue": name}, attempts=2, last_error="refused")
    second = OutboxMessage.objects.create(task=TASK, options={"queue": name},
                                          claimed_until=now - timedelta(seconds=1))
    busy = OutboxMessage.objects.create(task=TASK, options={"queue": name}, claimed_until=now + timedelta(minutes=1))
    assert relay_outbox.apply().get() == 2
    assert sent() == [(TASK, str(first.pk)), (TASK, str(second.pk))]
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [busy.pk]
    assert outbox.relay() == 0

    OutboxMessage.objects.filter(pk=busy.pk).update(claimed_until=now - timedelta(seconds=1))  # its sender died
    assert outbox.relay(batch=1) == 1
    assert sent() == [(TASK, str(busy.pk))]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_message_refused_for_its_own_reason_does_not_hold_the_others_back(queue, settings):
    name, sent = queue
    bad = OutboxMessage.objects.create(task=TASK, options={"queue": name, "countdown": "soon"})
    good = OutboxMessage.objects.create(task=TASK, options={"queue": name})
    assert outbox.relay() == 1
    assert sent() == [(TASK, str(good.pk))]
    bad.refresh_from_db()
    assert bad.attempts == 1 and bad.last_error and bad.claimed_until is None
    settings.OUTBOX_MAX_ATTEMPTS = 1  # tried enough: left for an operator, who sees its error in the admin
    assert outbox.relay() == 0
    assert OutboxMessage.objects.get().attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_a_relay_is_sending_is_not_sent_again_on_commit(queue):
    name, sent = queue
    with transaction.atomic():
        message = enqueue_on_commit(purge_expired_idempotency_keys.s().set(queue=name))
        OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    assert sent() == []
    assert OutboxMessage.objects.filter(pk=message.pk).exists()


def version_url(dataset):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/versions/"


@pytest.mark.django_db
def test_a_request_that_would_enqueue_work_answers_503_while_the_broker_is_down(workspace, developer_client,
                                                                               broker_down):
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    developer_client.raise_request_exception = False  # answer as a server does, not raise the 503's cause
    response = developer_client.post(version_url(dataset), {"name": "v1"}, format="json",
                                     HTTP_IDEMPOTENCY_KEY="publish-v1")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"type": "server_error", "errors": [{
        "code": "broker_unavailable", "attr": None,
        "detail": "The task queue cannot be reached, so this request was not carried out and nothing was created; "
                  "retry in a few seconds."}]}
    # Nothing half-made: no version holding its name, no message, the key free for the retry.
    assert not DatasetVersion.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert not IdempotencyKey.objects.exists()

    outbox.broker.mark(True)  # the broker is back
    retried = developer_client.post(version_url(dataset), {"name": "v1"}, format="json",
                                    HTTP_IDEMPOTENCY_KEY="publish-v1")
    assert retried.status_code == 202, retried.json()
    again = developer_client.post(version_url(dataset), {"name": "v1"}, format="json",
                                  HTTP_IDEMPOTENCY_KEY="publish-v1")
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == retried.json()["id"]
    assert DatasetVersion.objects.get().status == "publishing"
    assert list(OutboxMessage.objects.values_list("task", "args")) == [
        ("datasets.tasks.publish_version", [retried.json()["id"]])]


@pytest.mark.django_db
def test_workers_and_beat_are_not_refused_while_the_broker_is_down(workspace, broker_down):
    """Outside a request the message waits in the outbox for the relay."""
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    version = dataset_services.create_version(dataset=dataset, created_by=None, name="v1")
    assert list(OutboxMessage.objects.values_list("args", flat=True)) == [[str(version.pk)]]


@pytest.mark.django_db(transaction=True)
def test_what_a_request_enqueues_after_its_commit_waits_in_the_outbox(broker_down):
    """Phase-change receivers run after the request's transaction committed: refusing then would
    answer 503 for a change that was made, so their messages wait for the relay."""
    signature = celery_app.signature("aiplatform.tasks.purge_expired_idempotency_keys")
    token = serving_request.set(True)
    try:
        with pytest.raises(outbox.BrokerUnavailable), transaction.atomic():
            enqueue_on_commit(signature)  # inside the request's transaction: refused, undone
        assert not OutboxMessage.objects.exists()
        enqueue_on_commit(signature)  # after its commit: written, then sent (or left for the relay)
    finally:
        serving_request.reset(token)


@pytest.mark.django_db
def test_a_broker_known_down_is_checked_again_after_the_interval(settings, broker_down):
    assert outbox.broker.reachable() is False
    settings.BROKER_CHECK_INTERVAL_SECONDS = 0
    assert outbox.broker.reachable() is True  # a real connection to the test broker


def test_celery_settings_that_make_redelivery_safe(settings):
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert {"relay-outbox", "reap-stalled-dataset-tasks"} <= set(celery_app.conf.beat_schedule)
    assert relay_outbox.name in celery_app.tasks
    assert "datasets.tasks.reap_stalled_tasks" in celery_app.tasks
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        options = celery_app.conf.broker_transport_options
        assert options["visibility_timeout"] == settings.BROKER_VISIBILITY_TIMEOUT
        assert options["visibility_timeout"] > settings.TASK_STALLED_AFTER_SECONDS


@pytest.mark.django_db
def test_errors_that_say_a_part_is_unreachable_answer_503():
    for error, code in ((outbox.BrokerUnavailable(), "broker_unavailable"),
                        (BrokerError("refused"), "broker_unavailable"),
                        (OperationalError("server closed the connection unexpectedly"), "database_unavailable")):
        unavailable = service_unavailable(error)
        assert (unavailable.status_code, unavailable.detail.code, unavailable.wait) == (503, code, 5)
    assert service_unavailable(ValueError("a bug")) is None

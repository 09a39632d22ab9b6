"""The broker down, for real: a Redis of the test's own that is not running yet, then started.
Requests that would enqueue work answer 503 and create nothing, and the same Idempotency-Key
retried once the broker is back creates one object. Code outside requests (workers, beat) is not
refused: its messages wait in the outbox and the relay sends them when the broker is back."""

import json

import pytest

from aiplatform.models import IdempotencyKey, OutboxMessage, Role
from datasets.models import DatasetVersion, ImportTask
from tests.datasets.factories import DatasetFactory
from tests.factories import api_token, member_of, workspace_storage
from tests.faults.conftest import free_port, run_python, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def queued(client, queue="celery") -> list[dict]:
    """The Celery messages waiting in a queue of the private Redis: their headers."""
    return [json.loads(body)["headers"] for body in client.lrange(queue, 0, -1)]


def test_enqueuing_requests_answer_503_while_the_broker_is_down_and_the_same_key_creates_one_after(
        workspace, local_root, start_server, private_redis):
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    (workspace_storage(local_root, workspace) / "in.manifest").write_text('{"source": "file://x/1.jpg"}\n')
    token = api_token(member_of(workspace, Role.DEVELOPER))
    server = start_server(CELERY_BROKER_URL=private_redis.url, CELERY_TASK_DEFAULT_QUEUE="celery",
                          BROKER_CHECK_INTERVAL_SECONDS="0.5")
    versions = f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/versions/"
    imports = f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/import-tasks/"

    def publish():
        return server.request("POST", versions, token=token, body={"name": "v1"},
                              headers={"Idempotency-Key": "publish-v1"})

    refused = publish()
    assert refused.status == 503, refused.body
    assert refused.headers["Retry-After"] == "5"
    assert refused.body["type"] == "server_error"
    assert [(e["code"], e["attr"]) for e in refused.body["errors"]] == [("broker_unavailable", None)]
    assert "nothing was created" in refused.body["errors"][0]["detail"]
    other = server.request("POST", imports, token=token,
                           body={"kind": "manifest", "source_uri": f"file://ws-{workspace.pk}/in.manifest"})
    assert other.status == 503, other.body
    # Nothing half-made: no version holding its name in `publishing`, no task, no message, no key.
    assert not DatasetVersion.objects.exists() and not ImportTask.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert not IdempotencyKey.objects.exists()
    assert server.request("GET", versions, token=token).status == 200  # reads need no broker

    private_redis.start()
    created = wait_for(lambda: (answer := publish()).status != 503 and answer, "the broker to be seen back")
    assert created.status == 202, created.body
    replayed = publish()
    assert replayed.status == 202 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.body["id"] == created.body["id"]
    assert [str(pk) for pk in DatasetVersion.objects.values_list("pk", flat=True)] == [created.body["id"]]
    assert [(h["task"], h["argsrepr"]) for h in queued(private_redis.client())] == [
        ("datasets.tasks.publish_version", repr([created.body["id"]]))]
    assert not OutboxMessage.objects.exists()


def test_workers_enqueue_into_the_outbox_while_the_broker_is_down_and_the_relay_sends_later(
        workspace, process_env, private_redis):
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    down = {**process_env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
    run_python(f"from datasets import services\nfrom datasets.models import Dataset\n"
               f"services.create_version(dataset=Dataset.objects.get(pk='{dataset.pk}'), created_by=None, name='v1')",
               down)
    version = DatasetVersion.objects.get()
    message = OutboxMessage.objects.get()
    assert (version.status, message.task, message.args) == ("publishing", "datasets.tasks.publish_version",
                                                            [str(version.pk)])
    assert message.attempts == 1 and "OperationalError" in message.last_error
    assert run_python("from aiplatform import outbox\nprint(outbox.relay())", down).strip() == "0"
    assert OutboxMessage.objects.get().attempts == 2

    private_redis.start()
    up = {**process_env, "CELERY_BROKER_URL": private_redis.url, "CELERY_TASK_DEFAULT_QUEUE": "celery"}
    assert run_python("from aiplatform import outbox\nprint(outbox.relay())", up).strip() == "1"
    assert not OutboxMessage.objects.exists()
    assert [(h["task"], h["id"]) for h in queued(private_redis.client())] == [
        ("datasets.tasks.publish_version", str(message.pk))]

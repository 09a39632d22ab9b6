"""Requests against a live gunicorn server: fifty identical POSTs at once with one Idempotency-Key
create one object, and a request whose database session is terminated mid-way answers a clean 503,
after which the same worker (reconnected) carries out the retry."""

import threading

import pytest

from aiplatform.models import AuditEvent, IdempotencyKey, Role
from datasets.models import DatasetVersion
from tests.datasets.factories import DatasetFactory
from tests.factories import api_token, member_of
from tests.faults.conftest import blocker_connection, query_one, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 50


def test_fifty_identical_posts_with_one_idempotency_key_create_one_object(workspace, start_server, queue):
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    token = api_token(member_of(workspace, Role.DEVELOPER))
    server = start_server(workers=2, threads=8)
    path = f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/versions/"
    start = threading.Barrier(CLIENTS)
    answers = [None] * CLIENTS

    def post(index):
        start.wait()
        answers[index] = server.request("POST", path, token=token, body={"name": "v1"},
                                        headers={"Idempotency-Key": "one-version"})

    clients = [threading.Thread(target=post, args=(index,)) for index in range(CLIENTS)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()

    assert DatasetVersion.objects.count() == 1
    version_id = str(DatasetVersion.objects.get().pk)
    first = [a for a in answers if a.status == 202 and "Idempotent-Replayed" not in a.headers]
    replays = [a for a in answers if a.status == 202 and a.headers.get("Idempotent-Replayed") == "true"]
    waiting = [a for a in answers if a.status == 409]
    assert len(first) == 1 and first[0].body["id"] == version_id
    assert {a.body["id"] for a in replays} <= {version_id}
    assert {e["code"] for a in waiting for e in a.body["errors"]} <= {"idempotency_key_in_progress"}
    assert len(first) + len(replays) + len(waiting) == CLIENTS, sorted({a.status for a in answers})
    assert IdempotencyKey.objects.get().status == "completed"


def test_a_database_session_terminated_mid_request_answers_503_and_the_retry_succeeds(workspace, start_server,
                                                                                       queue):
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out")
    token = api_token(member_of(workspace, Role.DEVELOPER))
    # One worker, one thread: the retry is served by the process whose connection was cut, which
    # keeps its connections between requests (DATABASE_CONN_MAX_AGE).
    server = start_server(workers=1, threads=1)
    path = f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/versions/"
    assert server.request("GET", path, token=token).status == 200  # the worker has its connection

    def post():
        return server.request("POST", path, token=token, body={"name": "v1"}, headers={"Idempotency-Key": "v1"})

    blocker = blocker_connection()
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE datasets_datasetversion IN ACCESS EXCLUSIVE MODE")
        answer = []
        request = threading.Thread(target=lambda: answer.append(post()))
        request.start()
        (pid,) = wait_for(lambda: query_one(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE %s", ['%datasets_datasetversion%']), "the request to wait for the versions table",
            server.process.log)
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    blocker.rollback()
    blocker.close()
    request.join()

    (cut,) = answer
    assert cut.status == 503, cut.body
    assert cut.headers["Retry-After"] == "5"
    assert cut.body == {"type": "server_error", "errors": [{
        "code": "database_unavailable", "attr": None,
        "detail": "The database cannot be reached for a moment; retry in a few seconds."}]}
    assert not DatasetVersion.objects.exists()
    assert not IdempotencyKey.objects.exists()  # released for the retry, over a new connection
    # The audit row of the call was written after it, over the new connection too.
    assert list(AuditEvent.objects.values_list("action", "status_code")) == [("dataset-version.create", 503)]

    retried = post()
    assert retried.status == 202, retried.body
    assert [str(pk) for pk in DatasetVersion.objects.values_list("pk", flat=True)] == [retried.body["id"]]
    assert server.request("GET", path, token=token).body["count"] == 1
    assert server.process.process.poll() is None  # the same server, no restart

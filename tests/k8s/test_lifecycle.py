"""The glue on the LocalBackend: admitted → submitted → running → succeeded / failed / stopped,
with logs and events through the API."""

import time

import pytest

from k8s import services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload, WorkloadEvent
from tests.factories import cpu_flavor, make_pool, make_workload

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(db):
    return make_pool(name="local", flavor=cpu_flavor(), nodes=1)


def start(workspace, pool, command, captured, **extra):
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, command=command,
                             **extra)
    with captured(execute=True):
        admit_workloads()
    return workload


def reconcile_until(workload, phases, timeout=20):
    give_up = time.monotonic() + timeout
    while True:
        services.reconcile()
        workload.refresh_from_db()
        if workload.phase in phases:
            return workload
        assert time.monotonic() < give_up, (workload.phase, workload.reason, workload.message)
        time.sleep(0.05)


def url(workload, tail=""):
    return f"/api/v1/workspaces/{workload.workspace_id}/workloads/{workload.pk}/{tail}"


def test_admitted_workload_is_submitted_runs_and_succeeds(workspace, developer_client, pool, local_backend,
                                                          eager_tasks, django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sh", "-c", "echo hello from $RANK; sleep 0.5"],
                     django_capture_on_commit_callbacks)
    assert local_backend.status(services.workload_spec(workload)) is not None
    reconcile_until(workload, {Phase.RUNNING})
    reconcile_until(workload, {Phase.SUCCEEDED})
    assert workload.reason == "Completed" and workload.finished_at is not None
    logs = developer_client.get(url(workload, "logs/")).json()
    assert logs == {"replica": "worker-0", "replicas": ["worker-0"], "lines": ["hello from 0"]}
    download = developer_client.get(url(workload, "logs/?download=true"))
    assert download["Content-Disposition"] == f'attachment; filename="{workload.name}-worker-0.log"'
    assert b"".join(download.streaming_content).decode() == "hello from 0\n"
    reasons = [e["reason"] for e in developer_client.get(url(workload, "events/")).json()["results"]]
    assert reasons == ["Created", "Queued", "Admitted", "Submitted", "Running", "Completed"]


def test_failed_exit_code_fails_the_workload_with_the_reason(workspace, developer_client, pool, local_backend,
                                                             eager_tasks, django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sh", "-c", "echo boom >&2; exit 3"], django_capture_on_commit_callbacks)
    reconcile_until(workload, {Phase.FAILED})
    assert workload.reason == "ReplicaFailed"
    assert workload.message == "Replica worker-0 exited with code 3. See its logs."
    assert developer_client.get(url(workload, "logs/?tail=5")).json()["lines"] == ["boom"]


def test_stop_moves_to_stopping_then_cancels_to_stopped(workspace, developer_client, pool, local_backend,
                                                        eager_tasks, django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sleep", "60"], django_capture_on_commit_callbacks)
    reconcile_until(workload, {Phase.RUNNING})
    with django_capture_on_commit_callbacks(execute=True):
        response = developer_client.post(url(workload, "stop/"))
    assert response.status_code == 200 and response.json()["phase"] == "stopping"
    workload.refresh_from_db()
    assert workload.phase == Phase.STOPPED and workload.reason == "Stopped"
    assert local_backend.status(services.workload_spec(workload)).state == "stopped"
    # Stopped replicas keep their logs until the retention ends.
    assert developer_client.get(url(workload, "logs/")).status_code == 200


def test_a_workload_the_backend_refuses_fails_with_the_reason(workspace, pool, local_backend, eager_tasks,
                                                              django_capture_on_commit_callbacks):
    workload = start(workspace, pool, [], django_capture_on_commit_callbacks)
    workload.refresh_from_db()
    assert workload.phase == Phase.FAILED and workload.reason == "SubmitFailed"
    assert workload.message == "The local backend refused it: it has no command to run."


def test_submit_is_idempotent(workspace, pool, local_backend, django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sleep", "30"], django_capture_on_commit_callbacks)
    assert services.submit_workload(workload_id=workload.pk) is True
    assert services.submit_workload(workload_id=workload.pk) is False
    assert WorkloadEvent.objects.filter(workload=workload, reason="Submitted").count() == 1


def test_max_runtime_fails_the_workload(workspace, pool, local_backend, eager_tasks,
                                        django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sleep", "60"], django_capture_on_commit_callbacks, max_runtime_seconds=1)
    reconcile_until(workload, {Phase.FAILED})
    assert workload.reason == "DeadlineExceeded"


def test_logs_validate_input_and_hide_other_tenants(workspace, developer_client, pool, local_backend, eager_tasks,
                                                    django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sh", "-c", "echo a; echo b"], django_capture_on_commit_callbacks)
    reconcile_until(workload, {Phase.SUCCEEDED})
    assert developer_client.get(url(workload, "logs/?tail=1")).json()["lines"] == ["b"]
    bad = developer_client.get(url(workload, "logs/?replica=worker-7"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "replica"
    assert "worker-0" in bad.json()["errors"][0]["detail"]
    bad = developer_client.get(url(workload, "logs/?tail=0"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["attr"] == "tail"
    assert developer_client.get(url(workload, "logs/").replace(str(workload.pk), "nope")).status_code == 404
    other = make_workload(workspace.__class__.objects.create(account=workspace.account, name="other"), pool,
                          flavor=cpu_flavor(), accelerators=0, name="theirs")
    assert developer_client.get(url(other, "logs/")).status_code == 404
    streamed = developer_client.get(url(workload, "logs/?follow=true"))
    assert streamed["Content-Type"].startswith("text/plain")
    assert b"".join(streamed.streaming_content) == b"a\nb\n"


def test_queued_workload_has_no_logs_yet(workspace, developer_client, pool, local_backend):
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, command=["true"])
    assert Workload.objects.get(pk=workload.pk).phase == Phase.QUEUED
    assert developer_client.get(url(workload, "logs/")).json() == {"replica": None, "replicas": [], "lines": []}


def test_a_stop_whose_cancel_ran_but_did_not_finish_is_finished_by_the_reconciler(workspace, pool, local_backend,
                                                                                   django_capture_on_commit_callbacks):
    workload = start(workspace, pool, ["sleep", "60"], django_capture_on_commit_callbacks)
    services.submit_workload(workload_id=workload.pk)
    reconcile_until(workload, {Phase.RUNNING})
    from resourcepools import services as pool_services

    pool_services.stop_workload(workload=workload, stopped_by=None)
    local_backend.cancel(services.workload_spec(workload))  # killed before it recorded STOPPED
    report = services.reconcile()
    workload.refresh_from_db()
    assert report.stopped == [workload.pk] and report.cancelled == []
    assert workload.phase == Phase.STOPPED

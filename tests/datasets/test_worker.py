"""Dataset tasks and their workers: an import posted over HTTP runs in a real Celery worker; a
task runs under a lease, so a second delivery leaves it to a live worker, a killed worker's import
resumes after its last batch, and the reaper requeues (or, after TASK_MAX_ATTEMPTS, fails) the
tasks whose worker went silent. Killing real workers is in tests/faults."""

import json
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from aiplatform import leases
from aiplatform.celery import app as celery_app
from aiplatform.models import OutboxMessage, Role, TaskLease
from datasets import services
from datasets.models import Dataset, DatasetVersion, ExportTask, ImportTask, Sample
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import WorkspaceFactory, connect_bucket, lease_events, member_of, workspace_storage

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_an_import_posted_over_http_is_run_by_a_celery_worker(s3):
    s3.create_bucket(Bucket="worker-data")
    s3.put_object(Bucket="worker-data", Key="in.manifest", Body=b'{"source": "s3://worker-data/1.jpg"}\n')
    workspace = WorkspaceFactory()
    connect_bucket(workspace.account, "worker-data")
    client = client_for(member_of(workspace, Role.DEVELOPER))
    dataset = DatasetFactory(workspace=workspace)
    with start_worker(celery_app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        response = client.post(
            f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/import-tasks/",
            {"kind": "manifest", "source_uri": "s3://worker-data/in.manifest"}, format="json",
        )
        assert response.status_code == 202, response.json()
        deadline = time.monotonic() + 30
        while ImportTask.objects.get(pk=response.json()["id"]).status != "succeeded":
            assert time.monotonic() < deadline, ImportTask.objects.get(pk=response.json()["id"]).status
            time.sleep(0.1)
    assert list(Sample.objects.filter(dataset=dataset).values_list("source", flat=True)) == ["s3://worker-data/1.jpg"]
    assert not OutboxMessage.objects.exists()  # sent when the request committed
    events = [e["event"] for e in lease_events(f"datasets.import:{response.json()['id']}")]
    assert events == ["started", "finished"]


# --- leases, resumption and the reaper (tasks called in-process) -------------------------------------

LINES = 7


@pytest.fixture
def manifest(workspace, local_root):
    """A manifest of the workspace's own storage: LINES lines, the fourth bad, labels cat and dog."""
    rows = [json.dumps({"source": f"file://ws-{workspace.pk}/img/{n}.jpg",
                        "annotation": [{"name": "cat" if n < 3 else "dog", "type": "modelarts/image_classification"}]})
            for n in range(LINES)]
    rows[3] = "{not json"
    (workspace_storage(local_root, workspace) / "in.manifest").write_text("\n".join(rows) + "\n")
    return f"file://ws-{workspace.pk}/in.manifest"


@pytest.fixture
def dataset(workspace, local_root):
    return DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out", labels=[])


def import_task(dataset, manifest, **fields):
    return ImportTask.objects.create(dataset=dataset, kind="manifest", source_uri=manifest, **fields)


def silent_lease(key, *, attempt=1, minutes=10):
    """The lease of a worker that died `minutes` ago."""
    return TaskLease.objects.create(key=key, holder="worker-1:4242:dead", attempt=attempt,
                                    heartbeat_at=timezone.now() - timedelta(minutes=minutes))


def events(key):
    return [e["event"] for e in lease_events(key)]


def test_a_killed_workers_import_resumes_after_its_last_batch_with_the_counts_of_one_run(dataset, manifest,
                                                                                        local_root):
    """The killed attempt had written its first batch (three lines, with their counts, in one
    transaction); the next one reads on from there and ends as one uninterrupted run would."""
    # What the killed attempt's first batch left: its three samples with their label rows.
    own = workspace_storage(local_root, dataset.workspace)
    (own / "first.manifest").write_text("".join((own / "in.manifest").read_text().splitlines(keepends=True)[:3]))
    services.run_import(task_id=import_task(dataset, f"file://ws-{dataset.workspace_id}/first.manifest").pk)
    Dataset.objects.filter(pk=dataset.pk).update(labels=[], status="importing")  # labels join at the end
    task = import_task(dataset, manifest, status="running", started_at=timezone.now() - timedelta(minutes=20),
                       processed=3, added=3)
    silent_lease(f"datasets.import:{task.pk}")

    task = services.run_import(task_id=task.pk)
    assert (task.status, task.total, task.processed, task.added, task.skipped, task.failed) == (
        "succeeded", LINES, LINES, LINES - 1, 0, 1)
    assert [e["line"] for e in task.errors] == [4]
    assert Sample.objects.filter(dataset=dataset).count() == LINES - 1
    dataset.refresh_from_db()
    # "cat" came only with the killed attempt's batch; it joins the label set all the same.
    assert (dataset.status, dataset.sample_count, dataset.label_names) == ("ready", LINES - 1, {"cat", "dog"})
    key = f"datasets.import:{task.pk}"
    assert events(key) == ["taken over", "resumed", "finished"]
    assert "Resumed after item 3 " in lease_events(key)[1]["message"]
    assert TaskLease.objects.get(key=key).holder == ""


def test_a_second_delivery_leaves_a_task_to_the_live_worker_running_it(dataset, manifest):
    task = import_task(dataset, manifest)
    running = leases.claim(key=f"datasets.import:{task.pk}")
    assert services.run_import(task_id=task.pk).status == "pending"
    assert not Sample.objects.filter(dataset=dataset).exists()
    running.release(outcome="abandoned")
    assert services.run_import(task_id=task.pk).status == "succeeded"
    assert events(f"datasets.import:{task.pk}") == ["started", "finished", "restarted", "finished"]


def test_a_worker_taken_for_dead_stops_at_its_next_heartbeat(dataset, manifest, settings):
    settings.TASK_HEARTBEAT_SECONDS = 0
    task = import_task(dataset, manifest, status="running", started_at=timezone.now())
    lease = leases.claim(key=f"datasets.import:{task.pk}")
    TaskLease.objects.filter(key=lease.key).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert services.reap_stalled_tasks()["requeued"] == 1
    with pytest.raises(leases.LeaseLost):
        lease.beat(force=True)
    with pytest.raises(leases.LeaseLost):
        lease.beat()
    lease.release(outcome="succeeded")  # not its lease any more: nothing changes
    assert events(lease.key) == ["started", "requeued"]


def test_the_reaper_requeues_tasks_whose_worker_went_silent(dataset, manifest, django_capture_on_commit_callbacks):
    long_ago = timezone.now() - timedelta(minutes=20)
    silent = import_task(dataset, manifest, status="running", started_at=long_ago)
    silent_lease(f"datasets.import:{silent.pk}")
    alive = import_task(dataset, manifest, status="running", started_at=long_ago)
    leases.claim(key=f"datasets.import:{alive.pk}")
    waiting = import_task(dataset, manifest)  # queued, never started: the broker still has it
    unleased = import_task(dataset, manifest, status="running", started_at=long_ago)  # a worker of a release before
    just_started = import_task(dataset, manifest, status="running", started_at=timezone.now())
    export = ExportTask.objects.create(dataset=dataset, target_uri=f"file://ws-{dataset.workspace_id}/exports/",
                                       status="running", started_at=long_ago)
    silent_lease(f"datasets.export:{export.pk}", attempt=2)
    version = DatasetVersion.objects.create(dataset=dataset, name="v1", manifest_uri=f"{dataset.output_uri}/v1")
    silent_lease(f"datasets.publish:{version.pk}")
    DatasetVersion.objects.create(dataset=dataset, name="v2", manifest_uri=f"{dataset.output_uri}/v2")  # queued

    with django_capture_on_commit_callbacks() as sends:
        assert services.reap_stalled_tasks() == {"requeued": 4, "failed": 0, "purged": 0}
    assert len(sends) == 4
    queued = sorted((m.task, m.args[0]) for m in OutboxMessage.objects.all())
    assert queued == sorted([
        ("datasets.tasks.run_import", str(silent.pk)), ("datasets.tasks.run_import", str(unleased.pk)),
        ("datasets.tasks.run_export", str(export.pk)), ("datasets.tasks.publish_version", str(version.pk)),
    ])
    assert events(f"datasets.import:{silent.pk}") == ["requeued"]
    requeued = lease_events(f"datasets.export:{export.pk}")[-1]["message"]
    assert "attempt 3 of 3" in requeued and "worker-1:4242:dead was last heard of" in requeued
    assert TaskLease.objects.get(key=f"datasets.import:{unleased.pk}").attempt == 1
    assert TaskLease.objects.get(key=f"datasets.import:{alive.pk}").holder != ""
    assert not TaskLease.objects.filter(key__in=[f"datasets.import:{waiting.pk}",
                                                 f"datasets.import:{just_started.pk}"]).exists()
    # Requeued once: until a worker takes them again, the next passes leave them be.
    assert services.reap_stalled_tasks()["requeued"] == 0

    # The requeued import runs from where its silent worker stopped; the version is published.
    assert services.run_import(task_id=silent.pk).status == "succeeded"
    assert events(f"datasets.import:{silent.pk}") == ["requeued", "restarted", "resumed", "finished"]
    assert services.publish_version(version_id=version.pk).status == "ready"


def test_a_task_whose_workers_keep_dying_fails_saying_so(dataset, manifest, settings):
    settings.TASK_MAX_ATTEMPTS = 2
    task = import_task(dataset, manifest, status="running", started_at=timezone.now() - timedelta(minutes=20),
                       processed=1, added=1)
    services.run_import(task_id=import_task(dataset, manifest).pk)  # the samples the killed attempts added
    Dataset.objects.filter(pk=dataset.pk).update(labels=[], status="importing")
    silent_lease(f"datasets.import:{task.pk}", attempt=2)
    version = DatasetVersion.objects.create(dataset=dataset, name="v1", manifest_uri=f"{dataset.output_uri}/v1")
    silent_lease(f"datasets.publish:{version.pk}", attempt=2)

    assert services.reap_stalled_tasks() == {"requeued": 0, "failed": 2, "purged": 0}
    task.refresh_from_db()
    assert (task.status, task.added) == ("failed", 1)
    assert "stopped in each of 2 attempts" in task.error and "import the same source again" in task.error
    assert task.finished_at is not None
    dataset.refresh_from_db()
    assert (dataset.status, dataset.sample_count, dataset.label_names) == ("ready", LINES - 1, {"cat", "dog"})
    version.refresh_from_db()
    assert version.status == "failed" and "stopped in each of 2 attempts" in version.error
    assert not OutboxMessage.objects.exists()
    assert events(f"datasets.import:{task.pk}") == ["failed"]


def test_leases_of_tasks_long_finished_are_purged(dataset, manifest):
    old = TaskLease.objects.create(key="datasets.import:old", heartbeat_at=timezone.now() - timedelta(days=31))
    recent = TaskLease.objects.create(key="datasets.import:recent", heartbeat_at=timezone.now() - timedelta(days=1))
    assert services.reap_stalled_tasks()["purged"] == 1
    assert list(TaskLease.objects.values_list("key", flat=True)) == [recent.key]
    assert not TaskLease.objects.filter(key=old.key).exists()


def test_export_and_publish_leave_a_task_to_the_live_worker_and_release_their_lease(dataset, manifest):
    SampleFactory(dataset=dataset)
    version = DatasetVersion.objects.create(dataset=dataset, name="v1",
                                            manifest_uri=f"{dataset.output_uri}/v1.manifest")
    held = leases.claim(key=f"datasets.publish:{version.pk}")
    assert services.publish_version(version_id=version.pk).status == "publishing"
    held.release(outcome="abandoned")
    assert services.publish_version(version_id=version.pk).status == "ready"
    assert events(f"datasets.publish:{version.pk}") == ["started", "finished", "restarted", "finished"]

    export = ExportTask.objects.create(dataset=dataset, target_uri=f"file://ws-{dataset.workspace_id}/exports/")
    held = leases.claim(key=f"datasets.export:{export.pk}")
    assert services.run_export(task_id=export.pk).status == "pending"
    TaskLease.objects.filter(key=held.key).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    export = services.run_export(task_id=export.pk)  # the silent worker's lease is taken over
    assert (export.status, export.sample_count) == ("succeeded", 1)
    assert events(f"datasets.export:{export.pk}") == ["started", "taken over", "finished"]

"""Versions and their manifests, imports from a prefix and from a manifest, exports; against the
local S3 server over HTTP and the local directory backend. Celery tasks are called in-process."""

import json
import threading
import urllib.request

import pytest
from django.db import connection

from aiplatform import locations
from datasets import services, tasks
from datasets.models import DatasetVersion, ExportTask, ImportTask, Sample, SampleLabel
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import connect_bucket, workspace_storage

pytestmark = pytest.mark.django_db


def dataset_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/{suffix}"


def manifest_lines(s3, bucket, key):
    return [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]


@pytest.fixture
def buckets(s3, workspace):
    """Buckets of the account's own, reached through its storage connections."""
    for bucket in ("data", "work"):
        s3.create_bucket(Bucket=bucket)
        connect_bucket(workspace.account, bucket)
    yield s3
    for bucket in ("data", "work"):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)


def annotate(client, dataset, items):
    response = client.post(dataset_url(dataset, "samples/batch-annotate/"), {"items": items}, format="json")
    assert response.status_code == 200, response.json()


# --- versions -----------------------------------------------------------------------------------


def test_publishing_a_version_writes_its_manifest(workspace, developer_client, buckets,
                                                  django_capture_on_commit_callbacks):
    dataset = DatasetFactory(workspace=workspace, output_uri="s3://work/pets")
    samples = [SampleFactory(dataset=dataset) for _ in range(10)]
    annotate(developer_client, dataset, [
        *({"id": s.id, "annotations": [{"name": "cat"}]} for s in samples[:6]),
        {"id": samples[6].id, "annotations": [{"name": "dog"}, {"name": "cat"}], "usage": "eval"},
    ])
    response = developer_client.post(
        dataset_url(dataset, "versions/"), {"name": "v1", "description": "first", "train_ratio": "0.5"}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "publishing"
    assert response.json()["manifest_url"] is None
    tasks.publish_version(response.json()["id"])
    version = developer_client.get(dataset_url(dataset, f"versions/{response.json()['id']}/")).json()
    assert version["status"] == "ready"
    assert (version["sample_count"], version["labelled_count"]) == (10, 7)
    assert version["train_count"] + version["eval_count"] == 7 and version["eval_count"] >= 1
    assert version["label_stats"] == {"cat": 7, "dog": 1}
    assert version["manifest_uri"] == f"s3://work/pets/{dataset.id}/versions/v1.manifest"
    lines = manifest_lines(buckets, "work", f"pets/{dataset.id}/versions/v1.manifest")
    assert [line["source"] for line in lines] == [s.source for s in samples]
    assert lines[6]["usage"] == "EVAL"
    assert {line.get("usage") for line in lines[:6]} <= {"TRAIN", "EVAL"}
    assert "usage" not in lines[9] and lines[9]["annotation"] == []
    assert lines[0]["annotation"][0]["type"] == "modelarts/image_classification"
    assert lines[0]["property"] == {"width": 640, "height": 480}
    with urllib.request.urlopen(version["manifest_url"], timeout=10) as download:
        assert len(download.read().splitlines()) == 10

    # The snapshot is immutable: later changes do not touch it, and the task is safe to repeat.
    annotate(developer_client, dataset, [{"id": samples[9].id, "annotations": [{"name": "dog"}]}])
    tasks.publish_version(version["id"])
    assert len(manifest_lines(buckets, "work", f"pets/{dataset.id}/versions/v1.manifest")) == 10
    assert DatasetVersion.objects.get(pk=version["id"]).label_stats == {"cat": 7, "dog": 1}

    duplicate = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"][0]["attr"] == "name"
    assert developer_client.get(dataset_url(dataset, "versions/")).json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # the manifest goes once the delete is committed
        assert developer_client.delete(dataset_url(dataset, f"versions/{version['id']}/")).status_code == 204
    assert buckets.list_objects_v2(Bucket="work", Prefix="pets/").get("KeyCount") == 0


def test_a_version_whose_output_cannot_be_written_fails_with_the_reason(workspace, developer_client, buckets):
    connect_bucket(workspace.account, "no-such-bucket")
    dataset = DatasetFactory(workspace=workspace, output_uri="s3://no-such-bucket/out")
    SampleFactory(dataset=dataset)
    version_id = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json").json()["id"]
    tasks.publish_version(version_id)
    version = developer_client.get(dataset_url(dataset, f"versions/{version_id}/")).json()
    assert version["status"] == "failed"
    assert "bucket 'no-such-bucket' does not exist" in version["error"]


# --- imports ------------------------------------------------------------------------------------


def start_import(client, dataset, kind, uri):
    response = client.post(dataset_url(dataset, "import-tasks/"), {"kind": kind, "source_uri": uri}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    tasks.run_import(response.json()["id"])
    return client.get(dataset_url(dataset, f"import-tasks/{response.json()['id']}/")).json()


def test_import_from_a_prefix_takes_the_types_files_once(workspace, developer_client, buckets):
    for key in ("raw/a.jpg", "raw/b.PNG", "raw/sub/c.jpeg", "raw/notes.txt", "other/d.jpg"):
        buckets.put_object(Bucket="data", Key=key, Body=b"x" * 3)
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "prefix", "s3://data/raw/")
    assert task["status"] == "succeeded", task
    assert (task["total"], task["processed"], task["added"], task["skipped"], task["failed"]) == (3, 3, 3, 0, 0)
    assert sorted(Sample.objects.filter(dataset=dataset).values_list("source", flat=True)) == [
        "s3://data/raw/a.jpg", "s3://data/raw/b.PNG", "s3://data/raw/sub/c.jpeg",
    ]
    assert Sample.objects.filter(dataset=dataset).first().metadata == {"size": 3}
    again = start_import(developer_client, dataset, "prefix", "s3://data/raw/")
    assert (again["added"], again["skipped"]) == (0, 3)
    dataset.refresh_from_db()
    assert (dataset.sample_count, dataset.status) == (3, "ready")


MANIFEST = [
    '{"source": "s3://data/1.jpg", "usage": "TRAIN", "property": {"width": 100, "height": 80}, '
    '"annotation": [{"name": "cat", "type": "modelarts/image_classification", "annotated-by": "alice", '
    '"creation-time": "2026-11-01 10:00:00", "confidence": 0.9}]}',
    "{broken json",
    '{"source": "s3://data/2.jpg", "annotation": [{"name": "bird", "type": "modelarts/image_classification"}]}',
    '{"source": "s3://data/3.jpg", "annotation": [{"name": "cat", "type": "modelarts/object_detection"}]}',
    "",
    '{"source": "s3://data/4.jpg"}',
    '{"source": "s3://data/1.jpg"}',
    '{"source": "http://elsewhere/5.jpg"}',
]


def test_import_from_a_manifest_imports_good_lines_and_lists_bad_ones(workspace, developer_client, buckets):
    buckets.put_object(Bucket="data", Key="in.manifest", Body="\n".join(MANIFEST).encode())
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "manifest", "s3://data/in.manifest")
    assert task["status"] == "succeeded", task
    assert (task["total"], task["processed"], task["added"], task["skipped"], task["failed"]) == (7, 7, 3, 1, 3)
    assert [e["line"] for e in task["errors"]] == [2, 4, 8]
    assert "not valid JSON" in task["errors"][0]["reason"]
    assert "does not fit a image_classification dataset" in task["errors"][1]["reason"]
    assert "not a storage URI" in task["errors"][2]["reason"]
    first = Sample.objects.get(dataset=dataset, source="s3://data/1.jpg")
    assert (first.status, first.usage, first.annotated_by) == ("labelled", "train", "alice")
    assert first.annotations[0]["confidence"] == 0.9
    dataset.refresh_from_db()
    assert [label["name"] for label in dataset.labels] == ["cat", "dog", "bird"]
    assert (dataset.sample_count, dataset.labelled_count) == (3, 2)
    listed = developer_client.get(dataset_url(dataset, "samples/"), {"label": "bird"}).json()["results"]
    assert [s["source"] for s in listed] == ["s3://data/2.jpg"]

    again = start_import(developer_client, dataset, "manifest", "s3://data/in.manifest")
    assert (again["added"], again["skipped"], again["failed"]) == (0, 4, 3)
    assert Sample.objects.filter(dataset=dataset).count() == 3
    assert developer_client.get(dataset_url(dataset, "import-tasks/"), {"status": "succeeded"}).json()["count"] == 2


def test_a_batch_meeting_a_known_source_is_written_again_looked_up(workspace, developer_client, buckets,
                                                                     monkeypatch):
    """Batches go in without looking their sources up until one brings a source the dataset has;
    that batch is written again, looked up (its first attempt leaves nothing), and so is the rest."""
    monkeypatch.setattr(services, "IMPORT_BATCH", 2)
    writes, write_batch = [], services._write_batch

    def recorded(*args, look_up, **kwargs):
        writes.append(look_up)
        return write_batch(*args, look_up=look_up, **kwargs)

    monkeypatch.setattr(services, "_write_batch", recorded)
    dataset = DatasetFactory(workspace=workspace)
    SampleFactory(dataset=dataset, source="s3://data/known.jpg")
    sources = ["new1", "new2", "new3", "known", "new4", "new5"]
    buckets.put_object(Bucket="data", Key="in.manifest", Body="\n".join(json.dumps({
        "source": f"s3://data/{name}.jpg", "annotation": [{"name": "cat", "type": "modelarts/image_classification"}],
    }) for name in sources).encode())
    task = start_import(developer_client, dataset, "manifest", "s3://data/in.manifest")
    assert (task["status"], task["processed"], task["added"], task["skipped"], task["failed"]) == (
        "succeeded", 6, 5, 1, 0)
    assert writes == [False, False, True, True]  # batches 1 and 2, batch 2 again, batch 3
    assert Sample.objects.filter(dataset=dataset).count() == 6
    assert SampleLabel.objects.filter(dataset=dataset, name="cat").count() == 5


def test_labels_and_annotators_too_long_to_store_are_bad_lines(workspace, developer_client, buckets):
    lines = [{"source": "s3://data/ok.jpg", "annotation": [{"name": "c" * 100, "type": "modelarts/image_classification",
                                                            "annotated-by": "a" * 150}]},
             {"source": "s3://data/long-label.jpg", "annotation": [{"name": "c" * 101,
                                                                   "type": "modelarts/image_classification"}]},
             {"source": "s3://data/long-annotator.jpg", "annotation": [{
                 "name": "cat", "type": "modelarts/image_classification", "annotated-by": "a" * 151}]},
             {"source": "s3://data/no-annotator.jpg", "annotation": [{
                 "name": "cat", "type": "modelarts/image_classification", "annotated-by": None}]}]
    buckets.put_object(Bucket="data", Key="in.manifest", Body="\n".join(map(json.dumps, lines)).encode())
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "manifest", "s3://data/in.manifest")
    assert (task["status"], task["added"], task["failed"]) == ("succeeded", 1, 3)
    assert [(e["line"], e["reason"]) for e in task["errors"]] == [
        (2, "annotation 0: a label name has at most 100 characters."),
        (3, "annotation 0: 'annotated-by' is a name of at most 150 characters"),
        (4, "annotation 0: 'annotated-by' is a name of at most 150 characters"),
    ]


def test_an_unexpected_error_fails_the_import_and_keeps_what_it_added(workspace, developer_client, buckets,
                                                                      monkeypatch):
    """A failure the import does not expect (here the second batch's write) ends the task as
    failed, with the batches before it imported and counted, instead of leaving it running."""
    monkeypatch.setattr(services, "IMPORT_BATCH", 2)
    write_batch = services._write_batch

    def second_fails(task, dataset, batch, tally, **kwargs):
        if tally["processed"]:
            raise RuntimeError("the database went away")
        return write_batch(task, dataset, batch, tally, **kwargs)

    monkeypatch.setattr(services, "_write_batch", second_fails)
    buckets.put_object(Bucket="data", Key="in.manifest", Body="\n".join(json.dumps({
        "source": f"s3://data/{n}.jpg", "annotation": [{"name": "owl", "type": "modelarts/image_classification"}],
    }) for n in range(5)).encode())
    dataset = DatasetFactory(workspace=workspace)
    response = developer_client.post(dataset_url(dataset, "import-tasks/"),
                                     {"kind": "manifest", "source_uri": "s3://data/in.manifest"}, format="json")
    with pytest.raises(RuntimeError):
        tasks.run_import(response.json()["id"])
    task = developer_client.get(dataset_url(dataset, f"import-tasks/{response.json()['id']}/")).json()
    assert (task["status"], task["processed"], task["added"]) == ("failed", 2, 2)
    assert "unexpected error" in task["error"] and "run it again" in task["error"]
    dataset.refresh_from_db()
    assert (dataset.status, dataset.sample_count, "owl" in dataset.label_names) == ("ready", 2, True)


def test_a_large_import_leaves_statistics_of_the_columns_the_sample_list_uses(workspace, developer_client, buckets,
                                                                                monkeypatch):
    monkeypatch.setattr(services, "ANALYZE_AFTER", 1)
    buckets.put_object(Bucket="data", Key="in.manifest", Body=b'{"source": "s3://data/1.jpg"}\n')
    dataset = DatasetFactory(workspace=workspace)
    assert start_import(developer_client, dataset, "manifest", "s3://data/in.manifest")["status"] == "succeeded"
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = 'datasets_sample'")
        analysed = {name for (name,) in cursor.fetchall()}
    assert set(services.ANALYZED_COLUMNS) <= analysed


def test_counting_for_progress_gives_up_quietly(workspace, buckets):
    """The count only feeds progress: a source it cannot read, or an import that stopped, ends it
    with no total (the import itself reports what is wrong with the source)."""
    dataset = DatasetFactory(workspace=workspace)
    buckets.put_object(Bucket="data", Key="in.manifest", Body=b'{"source": "s3://data/1.jpg"}\n')
    task = ImportTask(dataset=dataset, kind="manifest", source_uri="s3://data/in.manifest")
    places = locations.WorkspaceLocations(workspace).loaded()
    storage = places.storage_at(task.source_uri)
    assert services._count_items(storage, places, task, dataset, threading.Event()) == 1
    stopped = threading.Event()
    stopped.set()
    assert services._count_items(storage, places, task, dataset, stopped) is None
    task.source_uri = "s3://data/missing.manifest"
    assert services._count_items(storage, places, task, dataset, threading.Event()) is None


@pytest.mark.parametrize("uri, reason", [
    ("s3://no-such-bucket/in.manifest", "bucket 'no-such-bucket' does not exist"),
    ("s3://data/missing.manifest", "does not exist"),
])
def test_an_unreadable_location_fails_the_import_with_the_reason(workspace, developer_client, buckets, uri, reason):
    connect_bucket(workspace.account, "no-such-bucket")
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "manifest", uri)
    assert task["status"] == "failed"
    assert reason in task["error"]
    dataset.refresh_from_db()
    assert dataset.status == "ready"


def test_a_wrong_endpoint_fails_the_import_not_the_server(workspace, developer_client, buckets, settings):
    settings.OBJECT_STORAGE_ENDPOINT_URL = "http://127.0.0.1:1"
    task = start_import(developer_client, DatasetFactory(workspace=workspace), "prefix", "s3://data/raw/")
    assert task["status"] == "failed"
    assert "could not be reached" in task["error"]
    assert "test-secret-key" not in task["error"] and "127.0.0.1:1" not in task["error"]


def test_import_requests_are_validated(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    response = developer_client.post(dataset_url(dataset, "import-tasks/"),
                                     {"kind": "prefix", "source_uri": "/etc/passwd"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "source_uri"
    assert not ImportTask.objects.exists()


def test_a_finished_import_is_not_run_again(workspace, developer_client, buckets):
    buckets.put_object(Bucket="data", Key="raw/a.jpg", Body=b"x")
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "prefix", "s3://data/raw/")
    buckets.put_object(Bucket="data", Key="raw/b.jpg", Body=b"x")
    tasks.run_import(task["id"])  # a redelivered message of a finished task
    assert ImportTask.objects.get(pk=task["id"]).added == 1
    assert Sample.objects.filter(dataset=dataset).count() == 1


# --- exports ------------------------------------------------------------------------------------


def start_export(client, dataset, body):
    response = client.post(dataset_url(dataset, "export-tasks/"), body, format="json")
    assert response.status_code == 202, response.json()
    tasks.run_export(response.json()["id"])
    return client.get(dataset_url(dataset, f"export-tasks/{response.json()['id']}/")).json()


def test_export_of_filtered_samples_round_trips_through_import(workspace, developer_client, buckets):
    source = DatasetFactory(workspace=workspace, type="object_detection")
    samples = [SampleFactory(dataset=source) for _ in range(4)]
    box = {"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}
    annotate(developer_client, source, [
        {"id": samples[0].id, "annotations": [{"name": "cat", "box": box}], "usage": "train"},
        {"id": samples[2].id, "annotations": [{"name": "dog", "box": box, "confidence": 0.7}]},
    ])
    body = {"target_uri": "s3://work/exports/", "filters": {"status": "labelled"}}
    task = start_export(developer_client, source, body)
    assert task["status"] == "succeeded", task
    assert task["sample_count"] == 2
    assert task["result_uri"] == f"s3://work/exports/{source.name}-{task['id']}.manifest"
    with urllib.request.urlopen(task["result_url"], timeout=10) as download:
        assert len(download.read().splitlines()) == 2

    target = DatasetFactory(workspace=workspace, type="object_detection", labels=[])
    imported = start_import(developer_client, target, "manifest", task["result_uri"])
    assert (imported["added"], imported["failed"]) == (2, 0), imported
    copies = {s.source: s for s in Sample.objects.filter(dataset=target)}
    for original in (samples[0], samples[2]):
        original.refresh_from_db()
        copy = copies[original.source]
        assert copy.annotations == original.annotations
        assert (copy.usage, copy.metadata) == (original.usage, original.metadata)
    target.refresh_from_db()
    assert sorted(label["name"] for label in target.labels) == ["cat", "dog"]


def test_export_of_a_version_to_a_named_file(workspace, developer_client, buckets):
    dataset = DatasetFactory(workspace=workspace, output_uri="s3://work/out")
    for _ in range(3):
        SampleFactory(dataset=dataset)
    version_id = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json").json()["id"]
    response = developer_client.post(dataset_url(dataset, "export-tasks/"),
                                     {"target_uri": "s3://work/x.manifest", "version": version_id}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "version"
    tasks.publish_version(version_id)
    task = start_export(developer_client, dataset, {"target_uri": "s3://work/copy/v1.manifest", "version": version_id})
    assert (task["status"], task["sample_count"], task["result_uri"]) == ("succeeded", 3, "s3://work/copy/v1.manifest")
    assert len(manifest_lines(buckets, "work", "copy/v1.manifest")) == 3
    other_version = DatasetVersion.objects.create(dataset=DatasetFactory(workspace=workspace), name="theirs")
    response = developer_client.post(dataset_url(dataset, "export-tasks/"),
                                     {"target_uri": "s3://work/y/", "version": str(other_version.id)}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "version"
    response = developer_client.post(dataset_url(dataset, "export-tasks/"),
                                     {"target_uri": "s3://work/y/", "filters": {"status": "lost"}}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "filters.status"
    assert ExportTask.objects.filter(dataset=dataset).count() == 1


def test_import_version_and_export_on_the_local_directory_backend(workspace, developer_client, local_root):
    own = workspace_storage(local_root, workspace)
    (own / "raw").mkdir(parents=True)
    for name in ("a.jpg", "b.jpg", "readme.md"):
        (own / "raw" / name).write_bytes(b"img")
    root = f"file://ws-{workspace.pk}"
    dataset = DatasetFactory(workspace=workspace, output_uri=f"{root}/out")
    task = start_import(developer_client, dataset, "prefix", f"{root}/raw/")
    assert (task["status"], task["added"]) == ("succeeded", 2)
    version_id = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json").json()["id"]
    tasks.publish_version(version_id)
    version = developer_client.get(dataset_url(dataset, f"versions/{version_id}/")).json()
    assert version["status"] == "ready"
    assert b"".join(developer_client.get(version["manifest_url"]).streaming_content).count(b"\n") == 2
    export = start_export(developer_client, dataset, {})  # to the workspace's exports/ folder
    assert export["status"] == "succeeded"
    assert export["result_uri"] == f"{root}/exports/{dataset.name}-{export['id']}.manifest"
    exported = (own / "exports" / f"{dataset.name}-{export['id']}.manifest").read_text()
    assert [json.loads(line)["source"] for line in exported.splitlines()] == [f"{root}/raw/a.jpg", f"{root}/raw/b.jpg"]


def test_a_retried_import_request_creates_one_task(workspace, developer_client, buckets):
    dataset = DatasetFactory(workspace=workspace)
    body = {"kind": "prefix", "source_uri": "s3://data/raw/"}
    first = developer_client.post(dataset_url(dataset, "import-tasks/"), body, format="json",
                                  HTTP_IDEMPOTENCY_KEY="import-1")
    again = developer_client.post(dataset_url(dataset, "import-tasks/"), body, format="json",
                                  HTTP_IDEMPOTENCY_KEY="import-1")
    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert ImportTask.objects.filter(dataset=dataset).count() == 1


@pytest.fixture
def s3_enforcing_credentials(s3_server, buckets):
    """The S3 server checks credentials, and knows none of the platform's."""
    def reset(count):
        request = urllib.request.Request(f"{s3_server}/moto-api/reset-auth", data=count, method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).close()

    reset(b"0")
    yield
    reset(b"inf")


def test_refused_credentials_fail_the_import_with_the_reason(workspace, developer_client, s3_enforcing_credentials):
    task = start_import(developer_client, DatasetFactory(workspace=workspace), "manifest", "s3://data/in.manifest")
    assert task["status"] == "failed"
    assert "the access key of storage connection 'data' is not valid" in task["error"]
    assert "test-access-key" not in task["error"] and "test-secret-key" not in task["error"]


def test_tasks_tell_their_runs_and_a_page_reads_them_in_one_query(workspace, developer_client, buckets):
    from django.test.utils import CaptureQueriesContext

    buckets.put_object(Bucket="data", Key="raw/a.jpg", Body=b"x")
    dataset = DatasetFactory(workspace=workspace)
    task = start_import(developer_client, dataset, "prefix", "s3://data/raw/")
    assert task["attempts"] == 1
    assert [event["event"] for event in task["history"]] == ["started", "finished"]
    listing = dataset_url(dataset, "import-tasks/")
    with CaptureQueriesContext(connection) as one:
        assert developer_client.get(listing).json()["count"] == 1
    for _ in range(3):
        start_import(developer_client, dataset, "prefix", "s3://data/raw/")
    with CaptureQueriesContext(connection) as four:
        assert developer_client.get(listing).json()["count"] == 4
    assert len(four.captured_queries) == len(one.captured_queries)


def test_a_manifest_line_naming_another_location_is_a_bad_line(workspace, developer_client, buckets):
    buckets.put_object(Bucket="data", Key="in.manifest", Body=(
        b'{"source": "s3://data/mine.jpg"}\n{"source": "s3://someone-elses-bucket/theirs.jpg"}\n'))
    task = start_import(developer_client, DatasetFactory(workspace=workspace), "manifest", "s3://data/in.manifest")
    assert (task["status"], task["added"], task["failed"]) == ("succeeded", 1, 1)
    assert task["errors"][0]["line"] == 2 and "is not a location of this workspace" in task["errors"][0]["reason"]

"""Pre-labelling over HTTP with a real service: the model the CPU text-classifier preset trained,
served by the built-in runtime on the local backend. Predictions are kept apart from labels,
reviewed one by one or by confidence, and only accepted ones reach a version."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aiplatform.models import OutboxMessage, Role, TaskLease
from datasets import prelabel, services, tasks
from datasets.models import Prediction, PrelabelTask, Sample
from k8s import services as compute
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import WorkspaceFactory, cpu_flavor, make_pool, member_of, workspace_storage, write_text_manifest
from tests.inference.conftest import wait_until_serving
from training.runtime import text_classifier

pytestmark = pytest.mark.django_db

SPORT = "the team won the match goal"
WEATHER = "rain and wind tomorrow cold"


def dataset_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/{suffix}"


@pytest.fixture
def service(workspace, developer_client, local_root, local_backend):
    """A running service of the workspace: the CPU preset's text classifier (sport / weather)."""
    work = workspace_storage(local_root, workspace) / "work"
    work.mkdir()
    write_text_manifest(work / "manifest.jsonl")
    text_classifier.main([f"--data=file://{work / 'manifest.jsonl'}", f"--output_dir=file://{work / 'out'}",
                          "--epochs=4"])
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    base = f"/api/v1/workspaces/{workspace.id}"
    model = developer_client.post(f"{base}/models/", {
        "name": "news", "source": "storage", "runtime": "builtin", "uri": f"file://ws-{workspace.pk}/work/out",
    }, format="json").json()
    created = developer_client.post(f"{base}/services/", {"name": "news", "model": model["id"],
                                                          "pool": str(pool.pk), "flavor": "cpu.8u32g"}, format="json")
    assert created.status_code == 201, created.json()
    workload = Workload.objects.get(pk=created.json()["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    wait_until_serving(local_backend, workload)
    compute.reconcile()
    workload.refresh_from_db()
    assert workload.phase == Phase.RUNNING
    return created.json()


@pytest.fixture
def texts(workspace, local_root):
    """A text-classification dataset: four sport and four weather texts, none labelled, one
    more a person labelled, and one text stored as an object of the workspace."""
    workspace_storage(local_root, workspace)
    (local_root / f"ws-{workspace.pk}" / "note.txt").write_text(f"{WEATHER} stored")
    dataset = DatasetFactory(workspace=workspace, type="text_classification", output_uri=f"file://ws-{workspace.pk}/out",
                             labels=[{"name": "sport", "color": "#ff0000", "attributes": []},
                                     {"name": "weather", "color": "#00ff00", "attributes": []}])
    samples = [SampleFactory(dataset=dataset, source=f"content://{SPORT if i % 2 else WEATHER} {i}", metadata={})
               for i in range(8)]
    samples.append(SampleFactory(dataset=dataset, source=f"file://ws-{workspace.pk}/note.txt", metadata={}))
    return dataset, samples


def start(client, dataset, body):
    return client.post(dataset_url(dataset, "prelabel-tasks/"), body, format="json")


def test_prelabel_review_and_publish(workspace, developer, developer_client, service, texts, local_root):
    dataset, samples = texts
    annotator = member_of(workspace, Role.ANNOTATOR)
    annotator_client = client_for(annotator)
    # A person labels a sample first: pre-labelling never overwrites it.
    developer_client.post(dataset_url(dataset, "samples/batch-annotate/"), {"items": [
        {"id": samples[0].id, "annotations": [{"name": "sport"}]}]}, format="json")

    assert start(annotator_client, dataset, {"service": service["id"]}).status_code == 403  # developers start
    response = start(developer_client, dataset, {"service": service["id"], "batch_size": 3, "min_confidence": 0.5})
    assert response.status_code == 202, response.json()
    task = response.json()
    assert (task["status"], task["service_name"]) == ("pending", "news")
    tasks.run_prelabel(task["id"])
    task = developer_client.get(dataset_url(dataset, f"prelabel-tasks/{task['id']}/")).json()
    assert task["status"] == "succeeded", task
    # 8 unlabelled samples (the labelled one is not sent), 3 at a time; all answered confidently.
    assert (task["total"], task["processed"], task["predicted"], task["failed"]) == (8, 8, 8, 0), task
    assert task["below_threshold"] == 0 and task["errors"] == []

    predictions = {p["sample"]: p for p in developer_client.get(dataset_url(dataset, "predictions/")).json()["results"]}
    assert set(predictions) == {s.id for s in samples[1:]}
    for sample in samples[1:8]:
        index = int(sample.source.rsplit(" ", 1)[1])
        assert predictions[sample.id]["label"] == ("sport" if index % 2 else "weather")
        assert 0.5 <= predictions[sample.id]["confidence"] <= 1
        assert predictions[sample.id]["state"] == "predicted"
    assert predictions[samples[8].id]["label"] == "weather"  # read from storage
    # Predictions are not labels: the samples stay unlabelled, the human's label stays.
    assert Sample.objects.get(pk=samples[0].pk).annotations[0]["name"] == "sport"
    assert Sample.objects.filter(dataset=dataset, status="unlabelled").count() == 8

    # A re-run sends nothing twice and adds nothing.
    again = start(developer_client, dataset, {"service": service["id"]}).json()
    tasks.run_prelabel(again["id"])
    again = developer_client.get(dataset_url(dataset, f"prelabel-tasks/{again['id']}/")).json()
    assert (again["status"], again["total"], again["predicted"]) == ("succeeded", 0, 0)
    assert Prediction.objects.filter(dataset=dataset).count() == 8

    # The sample list filters by prediction state and confidence, as SampleFilter does.
    def listed(**params):
        return {s["id"] for s in developer_client.get(dataset_url(dataset, "samples/"), params).json()["results"]}

    lowest = min(predictions.values(), key=lambda p: p["confidence"])
    assert listed(prediction="predicted") == {s.id for s in samples[1:]}
    assert listed(confidence_below=lowest["confidence"]) == set()
    assert listed(confidence_below=1, prediction="accepted") == set()
    assert developer_client.get(dataset_url(dataset, "samples/"), {"prediction": "maybe"}).status_code == 400

    # One by one: the annotator accepts one and rejects another.
    first, second = predictions[samples[1].id], predictions[samples[2].id]
    response = annotator_client.post(dataset_url(dataset, "predictions/review/"), {"decisions": [
        {"id": first["id"], "decision": "accept"}, {"id": second["id"], "decision": "reject"}]}, format="json")
    assert response.status_code == 200, response.json()
    accepted = Sample.objects.get(pk=samples[1].pk)
    assert accepted.status == "accepted" and accepted.annotated_by == annotator.username
    assert accepted.annotations[0]["name"] == "sport"
    assert accepted.annotations[0]["confidence"] == pytest.approx(first["confidence"])
    assert Sample.objects.get(pk=samples[2].pk).annotations == []
    assert listed(prediction="accepted") == {samples[1].id}
    assert listed(prediction="rejected") == {samples[2].id}
    # A decided prediction is not decided twice; nothing of the batch is applied.
    response = annotator_client.post(dataset_url(dataset, "predictions/review/"), {"decisions": [
        {"id": predictions[samples[3].id]["id"], "decision": "accept"},
        {"id": first["id"], "decision": "reject"}]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "decisions.1.id"
    assert Sample.objects.get(pk=samples[3].pk).annotations == []

    # A person labels sample 3 meanwhile: accepting its prediction is refused, and the bulk accept skips it.
    developer_client.post(dataset_url(dataset, "samples/batch-annotate/"), {"items": [
        {"id": samples[3].id, "annotations": [{"name": "weather"}]}]}, format="json")
    response = annotator_client.post(dataset_url(dataset, "predictions/review/"), {"decisions": [
        {"id": predictions[samples[3].id]["id"], "decision": "accept"}]}, format="json")
    assert response.status_code == 400 and "meanwhile" in response.json()["errors"][0]["detail"]
    # In bulk: reject the least sure one, then accept the rest.
    response = annotator_client.post(dataset_url(dataset, "predictions/review-by-confidence/"), {
        "decision": "reject", "confidence_below": lowest["confidence"] + 1e-9}, format="json")
    assert response.status_code == 200
    rejected_now = 0 if lowest["sample"] in (samples[1].id, samples[2].id) else 1
    assert response.json() == {"rejected": rejected_now, "skipped": 0}
    response = annotator_client.post(dataset_url(dataset, "predictions/review-by-confidence/"), {
        "decision": "accept", "min_confidence": 0, "task": task["id"]}, format="json")
    assert response.status_code == 200
    assert response.json()["skipped"] == 1  # sample 3, labelled by a person
    assert Sample.objects.get(pk=samples[3].pk).annotations[0]["name"] == "weather"
    assert Sample.objects.get(pk=samples[3].pk).annotated_by == developer.username
    waiting = developer_client.get(dataset_url(dataset, "predictions/"), {"state": "predicted"}).json()
    assert [p["sample"] for p in waiting["results"]] == [samples[3].id]

    # A version publishes labels only: the accepted predictions and the people's labels.
    response = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json")
    tasks.publish_version(response.json()["id"])
    version = developer_client.get(dataset_url(dataset, f"versions/{response.json()['id']}/")).json()
    lines = [json.loads(line) for line in
             (local_root / version["manifest_uri"].removeprefix("file://")).read_text().splitlines()]
    labelled = {line["source"] for line in lines if line.get("annotation")}
    rejected = {p.sample.source for p in Prediction.objects.filter(dataset=dataset, state="rejected")}
    assert labelled == {s.source for s in samples} - rejected
    assert samples[2].source in rejected


def test_a_run_whose_worker_died_is_requeued_and_sends_only_what_is_left(developer_client, service, texts,
                                                                          django_capture_on_commit_callbacks):
    """The killed attempt had written its first batch (two predictions, with the task's counts);
    the reaper requeues the task and the next run predicts the rest, ending with one run's counts."""
    dataset, samples = texts
    task = start(developer_client, dataset, {"service": service["id"], "batch_size": 2}).json()
    PrelabelTask.objects.filter(pk=task["id"]).update(
        status="running", started_at=timezone.now() - timedelta(minutes=20), total=9, processed=2, predicted=2)
    Prediction.objects.bulk_create([
        Prediction(dataset=dataset, sample=sample, task_id=task["id"], service_id=service["id"], label="weather",
                   confidence=0.99) for sample in samples[:2]])
    TaskLease.objects.create(key=f"datasets.prelabel:{task['id']}", holder="worker-1:4242:dead", attempt=1,
                             heartbeat_at=timezone.now() - timedelta(minutes=10))
    sent = OutboxMessage.objects.filter(task="datasets.tasks.run_prelabel", args=[task["id"]])
    before = sent.count()  # the creation's (its outbox row stays: this test's transaction never commits)
    with django_capture_on_commit_callbacks():
        assert services.reap_stalled_tasks()["requeued"] == 1
    assert sent.count() == before + 1

    tasks.run_prelabel(task["id"])
    task = developer_client.get(dataset_url(dataset, f"prelabel-tasks/{task['id']}/")).json()
    assert (task["status"], task["total"], task["processed"], task["predicted"]) == ("succeeded", 9, 9, 9), task
    assert task["attempts"] == 2
    predicted = Prediction.objects.filter(dataset=dataset)
    assert sorted(predicted.values_list("sample_id", flat=True)) == sorted(s.id for s in samples)
    # The killed attempt's predictions stay as they were written: none sent twice.
    assert set(predicted.filter(confidence=0.99).values_list("sample_id", flat=True)) == {s.id for s in samples[:2]}


def test_bad_requests_and_other_tenants(workspace, developer_client, service, texts, local_backend):
    dataset, _ = texts
    url = dataset_url(dataset, "prelabel-tasks/")
    cases = [
        ({}, "service"),
        ({"service": "not-a-uuid"}, "service"),
        ({"service": "00000000-0000-0000-0000-000000000000"}, "service"),
        ({"service": service["id"], "min_confidence": 1.5}, "min_confidence"),
        ({"service": service["id"], "batch_size": 0}, "batch_size"),
        ({"service": service["id"], "filters": {"status": "finished"}}, "filters.status"),
    ]
    for body, field in cases:
        response = developer_client.post(url, body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert response.json()["errors"][0]["attr"] == field, (body, response.json())
    review = dataset_url(dataset, "predictions/review-by-confidence/")
    response = developer_client.post(review, {"decision": "accept"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "min_confidence"
    response = developer_client.post(review, {"decision": "accept", "min_confidence": 0.9,
                                              "task": "00000000-0000-0000-0000-000000000000"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "task"
    assert developer_client.post(dataset_url(dataset, "predictions/review/"), {"decisions": [
        {"id": 123456789, "decision": "accept"}]}, format="json").status_code == 400
    # Only text classification datasets: the service classifies texts.
    images = DatasetFactory(workspace=workspace)
    response = developer_client.post(dataset_url(images, "prelabel-tasks/"), {"service": service["id"]}, format="json")
    assert response.status_code == 400 and "text_classification" in response.json()["errors"][0]["detail"]

    # Another tenant: the dataset is not found, and its service is not one of this workspace's.
    other = WorkspaceFactory()
    stranger = client_for(member_of(other, Role.OWNER))
    for suffix in ("prelabel-tasks/", "predictions/"):
        assert stranger.get(dataset_url(dataset, suffix)).status_code == 404
    assert stranger.post(dataset_url(dataset, "prelabel-tasks/"), {"service": service["id"]},
                         format="json").status_code == 404
    theirs = DatasetFactory(workspace=other, type="text_classification")
    response = stranger.post(dataset_url(theirs, "prelabel-tasks/"), {"service": service["id"]}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "service"

    # A task whose service stops before it runs fails and says so; nothing is predicted.
    task = developer_client.post(url, {"service": service["id"]}, format="json").json()
    for observation in local_backend.list_owned().values():
        local_backend.remove(observation)
    tasks.run_prelabel(task["id"])
    task = developer_client.get(dataset_url(dataset, f"prelabel-tasks/{task['id']}/")).json()
    assert task["status"] == "failed" and "news" in task["error"], task
    assert Prediction.objects.filter(dataset=dataset).count() == 0


def test_prediction_list_queries_do_not_grow_with_the_page(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace, type="text_classification")
    samples = [SampleFactory(dataset=dataset, source=f"content://t{i}") for i in range(12)]
    Prediction.objects.bulk_create([
        Prediction(dataset=dataset, sample=s, service_id="00000000-0000-0000-0000-000000000001", label="cat",
                   confidence=i / 12) for i, s in enumerate(samples)])

    def count(size):
        with CaptureQueriesContext(connection) as queries:
            response = developer_client.get(dataset_url(dataset, "predictions/"), {"page_size": size,
                                                                                   "confidence_below": 0.5})
        assert len(response.json()["results"]) == size
        return len(queries)

    count(1)  # the first request of a client reads what later ones find cached
    assert count(2) == count(6)


# --- pure logic ---------------------------------------------------------------------------------


def test_batches_split_in_order_with_a_short_last_one():
    assert list(prelabel.batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(prelabel.batches([], 3)) == []
    with pytest.raises(ValueError):
        list(prelabel.batches([1], 0))


def test_answers_from_the_service():
    assert prelabel.answer_from({"label": "a", "probabilities": {"a": 0.7, "b": 0.3}}) == prelabel.Answer("a", 0.7)
    assert prelabel.answer_from({"label": "a", "confidence": 1}) == prelabel.Answer("a", 1.0)
    assert "label" in prelabel.answer_from({"probabilities": {}}).error
    assert "confidence" in prelabel.answer_from({"label": "a", "probabilities": {"b": 1}}).error
    assert "between 0 and 1" in prelabel.answer_from({"label": "a", "confidence": 1.2}).error
    assert prelabel.answer_from(["a"]).error


def test_answers_sorted_by_threshold_and_label_set():
    answers = [("s1", prelabel.Answer("a", 0.9)), ("s2", prelabel.Answer("a", 0.5)),
               ("s3", prelabel.Answer("z", 0.99)), ("s4", prelabel.Answer(error="down")),
               ("s5", prelabel.Answer("b", 0.6))]
    result = prelabel.sort_answers(answers, min_confidence=0.6, label_names={"a", "b"})
    assert [s for s, _ in result.kept] == ["s1", "s5"]  # 0.6 is kept: the threshold is inclusive
    assert [s for s, _ in result.below] == ["s2"]
    assert [s for s, _ in result.unknown_label] == ["s3"]
    assert [s for s, _ in result.failed] == ["s4"]


def test_an_annotation_task_shows_predictions_prefilled_for_accepting_or_correcting(workspace, developer_client):
    """Predictions (as a pre-labelling task stores them) pre-fill a new annotation task's items:
    the annotator submits one as it is and corrects another; the reviewer's acceptance settles
    the predictions (accepted where the label stayed, rejected where it was corrected)."""
    dataset = DatasetFactory(workspace=workspace, type="text_classification",
                             labels=[{"name": "sport", "color": "#ff0000", "attributes": []},
                                     {"name": "weather", "color": "#00ff00", "attributes": []}])
    samples = [SampleFactory(dataset=dataset, source=f"content://{SPORT} {i}", metadata={}) for i in range(3)]
    service_id = "00000000-0000-0000-0000-000000000001"
    Prediction.objects.bulk_create([
        Prediction(dataset=dataset, sample=samples[0], service_id=service_id, label="sport", confidence=0.9),
        Prediction(dataset=dataset, sample=samples[1], service_id=service_id, label="weather", confidence=0.6),
        Prediction(dataset=dataset, sample=samples[1], service_id="00000000-0000-0000-0000-000000000002",
                   label="sport", confidence=0.55),
    ])
    annotator = member_of(workspace, Role.ANNOTATOR)
    annotator_client = client_for(annotator)
    url = dataset_url(dataset, "annotation-tasks/")
    task = developer_client.post(url, {"name": "review the model", "assignees": [annotator.username],
                                       "scope": "filter", "filters": {"prediction": "predicted",
                                                                      "confidence_below": 0.95}}, format="json")
    assert task.status_code == 201, task.json()
    task = task.json()
    items = {i["sample"]["id"]: i for i in annotator_client.get(f"{url}{task['id']}/items/").json()["results"]}
    assert set(items) == {samples[0].id, samples[1].id}  # the filters select predicted samples only
    first, second = items[samples[0].id], items[samples[1].id]
    assert [(a["name"], a["confidence"], a["annotated-by"]) for a in first["annotations"]] == [
        ("sport", 0.9, annotator.username)]
    assert [p["label"] for p in second["predictions"]] == ["weather", "sport"]  # most confident first
    assert second["annotations"][0]["name"] == "weather"

    # Submitted as it is, and corrected.
    assert annotator_client.post(f"{url}{task['id']}/items/annotate/", {"submit": True, "items": [
        {"id": second["id"], "annotations": [{"name": "sport"}]}]}, format="json").status_code == 200
    assert annotator_client.post(f"{url}{task['id']}/items/submit/", {"ids": [first["id"]]},
                                 format="json").status_code == 200
    response = developer_client.post(f"{url}{task['id']}/items/review/", {"accept_all_submitted": True},
                                     format="json")
    assert response.status_code == 200, response.json()
    assert Sample.objects.get(pk=samples[0].pk).annotations[0]["name"] == "sport"
    assert Sample.objects.get(pk=samples[1].pk).annotations[0]["name"] == "sport"
    states = {(p.sample_id, p.label): (p.state, p.reviewed_by.username)
              for p in Prediction.objects.filter(dataset=dataset).select_related("reviewed_by")}
    reviewer = response.wsgi_request.user.username
    assert states == {(samples[0].id, "sport"): ("accepted", reviewer),
                      (samples[1].id, "weather"): ("rejected", reviewer),
                      (samples[1].id, "sport"): ("accepted", reviewer)}

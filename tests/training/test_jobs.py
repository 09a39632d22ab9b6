import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from aiplatform.models import Role
from datasets import services as datasets_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from resourcepools.services import transition_workload
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import (
    FlavorFactory,
    WorkspaceFactory,
    connect_bucket,
    cpu_flavor,
    make_pool,
    member_of,
)
from training import services
from training.models import Algorithm, MetricPoint, TrainingJob

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def presets(db):
    call_command("bootstrap_training_presets")
    return {a.name: a for a in Algorithm.objects.filter(workspace__isnull=True)}


@pytest.fixture
def data_bucket(s3, workspace):
    """An S3 bucket (moto's server) of the account's own, holding a training set under data/."""
    s3.create_bucket(Bucket="bucket")
    connect_bucket(workspace.account, "bucket")
    s3.put_object(Bucket="bucket", Key="data/part-0.jsonl", Body=b'{"text": "hello"}\n')
    for base in ("llama-7b", "llama-13b"):
        s3.put_object(Bucket="bucket", Key=f"{base}/config.json", Body=b"{}")
    return s3


@pytest.fixture
def npu_pool(db, data_bucket):
    return make_pool(name="npu", flavor=FlavorFactory(), nodes=2)


@pytest.fixture
def cpu_pool(db, local_root):
    return make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)


def sft_body(pool, **changes):
    body = {"name": "sft", "algorithm": str(Algorithm.objects.get(name="llm-sft").pk), "pool": str(pool.pk),
            "flavor": "npu.910b.8", "node_count": 2, "output_uri": "s3://bucket/out/",
            "inputs": [{"channel": "data", "uri": "s3://bucket/data/"}],
            "hyperparameters": {"model_name_or_path": "s3://bucket/llama-7b/", "learning_rate": 1e-5},
            "tags": ["team-a"]}
    body.update(changes)
    return body


def url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.id}/training-jobs/{suffix}"


def test_presets_are_listed_to_every_workspace(workspace, developer_client, presets):
    names = [a["name"] for a in developer_client.get(f"/api/v1/workspaces/{workspace.id}/algorithms/").json()
             ["results"]]
    assert names == ["cpu-text-classifier", "llm-lora", "llm-sft"]
    sft = developer_client.get(f"/api/v1/workspaces/{workspace.id}/algorithms/{presets['llm-sft'].pk}/").json()
    assert [s["name"] for s in sft["preparation_steps"]] == ["convert_weights", "preprocess"]
    assert sft["outputs"]["checkpoints"] == "checkpoints/"
    response = developer_client.delete(f"/api/v1/workspaces/{workspace.id}/algorithms/{presets['llm-sft'].pk}/")
    assert response.status_code == 403


def test_workspace_algorithm_crud(workspace, developer_client):
    base = f"/api/v1/workspaces/{workspace.id}/algorithms/"
    body = {"name": "mine", "image": "registry.example.com/me/train:1", "command": ["python", "train.py"],
            "input_channels": ["data"], "hyperparameters": [{"name": "lr", "type": "float", "default": 0.1}]}
    created = developer_client.post(base, body, format="json")
    assert created.status_code == 201, created.json()
    bad = developer_client.post(base, {**body, "name": "bad", "hyperparameters": [{"name": "x", "type": "?"}]},
                                format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "hyperparameters.0.type"
    assert developer_client.delete(f"{base}{created.json()['id']}/").status_code == 204


def test_job_creates_a_queued_workload_with_the_recipe(workspace, developer_client, presets, npu_pool):
    response = developer_client.post(url(workspace), sft_body(npu_pool), format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["phase"] == "queued"
    assert job["status"]["secondary"] == "Queued"
    assert job["hyperparameters"]["per_device_train_batch_size"] == 1  # default filled in
    workload = Workload.objects.get(pk=job["workload"])
    assert workload.kind == "training"
    assert [(p.name, p.replicas, p.flavor.name) for p in workload.pod_sets.all()] == [("worker", 2, "npu.910b.8")]
    assert workload.command[:5] == ["python", "-m", "training.recipes.llm_finetune", "--stage=sft",
                                    "--finetuning_type=full"]
    assert "--data=s3://bucket/data/" in workload.command
    assert "--learning_rate=1e-05" in workload.command
    assert workload.env["AIP_INPUT_DATA"] == "s3://bucket/data/"
    assert "AIP_JOB_TOKEN" not in workload.env  # given at submit (runtime secrets), never shown
    assert services.job_for_token(services.job_secrets(workload)["AIP_JOB_TOKEN"]).pk == TrainingJob.objects.get().pk
    admit_workloads()
    assert developer_client.get(url(workspace, f"{job['id']}/")).json()["status"]["secondary"] == "Creating"


@pytest.mark.parametrize(
    ("changes", "attr"),
    [
        ({"hyperparameters": {"model_name_or_path": "m", "learning_rate": 5}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"model_name_or_path": "m", "nonsense": 1}}, "hyperparameters.nonsense"),
        ({"hyperparameters": {}}, "hyperparameters.model_name_or_path"),
        ({"inputs": [{"channel": "weights", "uri": "s3://b/w"}]}, "inputs.0.channel"),
        ({"inputs": [{"channel": "data", "uri": "/etc/passwd"}]}, "inputs.0.uri"),
        ({"inputs": [{"channel": "data", "uri": "s3://no-such-bucket/data/"}]}, "inputs.0.uri"),
        ({"inputs": [{"channel": "data", "uri": "s3://bucket/empty/"}]}, "inputs.0.uri"),
        ({"inputs": [{"channel": "data", "dataset_version": "00000000-0000-0000-0000-000000000000"}]},
         "inputs.0.dataset_version"),
        ({"output_uri": "ftp://x"}, "output_uri"),
        ({"flavor": "cpu.8u32g"}, "flavor"),
        ({"node_count": 0}, "node_count"),
        ({"node_count": 3}, "node_count"),
        # The platform's own names: a notebook's id would hand the job that notebook's storage.
        ({"env": {"AIP_NOTEBOOK_ID": str(uuid.uuid4())}}, "env"),
    ],
)
def test_bad_jobs_are_refused_and_nothing_is_queued(workspace, developer_client, presets, npu_pool, changes, attr):
    cpu_flavor()
    response = developer_client.post(url(workspace), sft_body(npu_pool, **changes), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr
    assert not Workload.objects.exists() and not TrainingJob.objects.exists()


def test_single_node_algorithm_refuses_distributed_jobs(workspace, developer_client, presets, cpu_pool):
    body = {"name": "cls", "algorithm": str(presets["cpu-text-classifier"].pk), "pool": str(cpu_pool.pk),
            "flavor": "cpu.8u32g", "node_count": 2, "inputs": []}
    response = developer_client.post(url(workspace), body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "node_count"
    assert "cannot run distributed" in response.json()["errors"][0]["detail"]


def test_another_workspaces_algorithm_is_refused(workspace, developer_client, npu_pool, presets):
    other = WorkspaceFactory()
    theirs = services.save_algorithm(workspace=other, name="theirs", image="i", command=["x"])
    response = developer_client.post(url(workspace), sft_body(npu_pool, algorithm=str(theirs.pk)), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "algorithm"


def test_stop_delete_and_copy(workspace, developer_client, presets, npu_pool):
    job = developer_client.post(url(workspace), sft_body(npu_pool), format="json").json()
    assert developer_client.delete(url(workspace, f"{job['id']}/")).status_code == 409
    stopped = developer_client.post(url(workspace, f"{job['id']}/stop/")).json()
    assert stopped["phase"] == "stopped"
    assert "Stopped by" in stopped["status"]["message"]
    copy = developer_client.post(url(workspace, f"{job['id']}/copy/"),
                                 {"name": "sft-2", "hyperparameters": {"model_name_or_path": "s3://bucket/llama-13b/"}},
                                 format="json")
    assert copy.status_code == 201, copy.json()
    assert copy.json()["copied_from"] == job["id"]
    assert copy.json()["node_count"] == 2
    assert copy.json()["hyperparameters"]["model_name_or_path"] == "s3://bucket/llama-13b/"
    assert developer_client.delete(url(workspace, f"{job['id']}/")).status_code == 204
    assert not TrainingJob.objects.filter(pk=job["id"]).exists()


def test_list_filters_and_constant_queries(workspace, developer_client, presets, npu_pool):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(4):
        developer_client.post(url(workspace), sft_body(npu_pool, name=f"j{i}", tags=[f"t{i % 2}"]), format="json")
    counts = []
    for size in (1, 4):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(url(workspace), {"page_size": size}).json()
        counts.append(len(ctx.captured_queries))
        assert len(body["results"]) == size
    assert counts[0] == counts[1]
    assert developer_client.get(url(workspace), {"tag": "t1"}).json()["count"] == 2
    assert developer_client.get(url(workspace), {"phase": "queued"}).json()["count"] == 4
    assert developer_client.get(url(workspace), {"algorithm": str(presets["llm-lora"].pk)}).json()["count"] == 0


def test_metrics_through_the_job_token(workspace, developer_client, presets, npu_pool):
    job = developer_client.post(url(workspace), sft_body(npu_pool), format="json").json()
    token = services.job_token(TrainingJob.objects.get(pk=job["id"]))
    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Job {token}")
    report = {"metrics": [{"name": "loss", "step": s, "value": 2.0 / s} for s in (1, 2, 3)]}
    assert runtime.post(f"/api/v1/training-jobs/{job['id']}/metrics/", report, format="json").status_code == 202
    assert runtime.post(f"/api/v1/training-jobs/{job['id']}/metrics/", report, format="json").status_code == 202
    assert MetricPoint.objects.count() == 3  # a retried report adds nothing
    series = developer_client.get(url(workspace, f"{job['id']}/metrics/"), {"name": "loss", "step_from": 2}).json()
    assert [(p["step"], p["value"]) for p in series["results"]] == [(2, 1.0), (3, 2.0 / 3)]
    # The token is good for nothing else …
    assert runtime.get(f"/api/v1/workspaces/{workspace.id}/training-jobs/").status_code == 401
    other = developer_client.post(url(workspace), sft_body(npu_pool, name="other"), format="json").json()
    assert runtime.post(f"/api/v1/training-jobs/{other['id']}/metrics/", report, format="json").status_code == 403
    # … and for nothing once its job has ended.
    transition_workload(workload=Workload.objects.get(pk=job["workload"]), to=Phase.STOPPED, reason="Stopped")
    assert runtime.post(f"/api/v1/training-jobs/{job['id']}/metrics/", report, format="json").status_code == 401


def test_viewer_reads_but_cannot_start_jobs(workspace, presets, npu_pool):
    viewer = client_for(member_of(workspace, Role.VIEWER))
    assert viewer.get(url(workspace)).status_code == 200
    assert viewer.post(url(workspace), sft_body(npu_pool), format="json").status_code == 403


def test_cpu_preset_trains_on_a_dataset_version_and_its_log_gives_metrics_and_throughput(
        workspace, developer, developer_client, presets, cpu_pool, local_root):
    dataset = datasets_services.create_dataset(
        workspace=workspace, created_by=developer, name="news", type="text_classification",
        labels=[{"name": "sport"}, {"name": "weather"}])
    for i in range(12):
        label, text = ("sport", "the team won the match goal") if i % 2 else ("weather", "rain and wind cold")
        SampleFactory(dataset=dataset, source=f"content://{text} {i}", metadata={"text": f"{text} {i}"},
                      annotations=[{"name": label, "type": "modelarts/text_classification"}], status="labelled")
    version = datasets_services.create_version(dataset=dataset, created_by=developer, name="v1")
    datasets_services.publish_version(version_id=version.pk)
    body = {"name": "cls", "algorithm": str(presets["cpu-text-classifier"].pk), "pool": str(cpu_pool.pk),
            "flavor": "cpu.8u32g", "output_uri": f"file://ws-{workspace.pk}/models/cls",
            "hyperparameters": {"epochs": 4},
            "inputs": [{"channel": "data", "dataset_version": str(version.pk)}]}
    response = developer_client.post(url(workspace), body, format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["inputs"][0]["uri"].endswith("versions/v1.manifest")
    workload = Workload.objects.get(pk=job["workload"])
    # Run the workload's command as the local backend would: a child process with its env.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "AIP_LOCAL_STORAGE_ROOT": str(local_root),
           **workload.env}
    env.pop("AIP_METRICS_URL")  # no API server in this test; the trainer log carries the metrics
    result = subprocess.run([sys.executable, *workload.command[1:]], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "done: accuracy 1.000" in result.stdout
    out = local_root / f"ws-{workspace.pk}" / "models" / "cls"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"epoch-{i}.json" for i in range(1, 5)]
    assert json.loads((out / "model.json").read_text())["classes"] == ["sport", "weather"]
    admit_workloads()
    transition_workload(workload=workload, to=Phase.RUNNING, reason="Running")
    assert services.read_trainer_logs() == 1
    transition_workload(workload=workload, to=Phase.SUCCEEDED, reason="Completed")
    losses = developer_client.get(url(workspace, f"{job['id']}/metrics/"), {"name": "loss"}).json()["results"]
    assert [p["step"] for p in losses] == [12, 24, 36, 48]
    assert losses[-1]["value"] < losses[0]["value"]
    detail = developer_client.get(url(workspace, f"{job['id']}/")).json()
    assert detail["phase"] == "succeeded" and detail["status"]["secondary"] == "Completed"
    summary = detail["throughput"]
    assert summary["window"]["devices"] == 1
    assert summary["tokens_per_second_per_device"] > 0 and summary["samples_per_second"] > 0


def test_a_dataset_version_of_another_workspace_is_refused(workspace, developer, developer_client, presets,
                                                           cpu_pool, local_root):
    other_workspace = WorkspaceFactory()
    other = DatasetFactory(workspace=other_workspace, type="text_classification",
                           output_uri=f"file://ws-{other_workspace.pk}/x")
    version = datasets_services.create_version(dataset=other, created_by=developer, name="v1")
    datasets_services.publish_version(version_id=version.pk)
    body = {"name": "cls", "algorithm": str(presets["cpu-text-classifier"].pk), "pool": str(cpu_pool.pk),
            "flavor": "cpu.8u32g", "inputs": [{"channel": "data", "dataset_version": str(version.pk)}]}
    response = developer_client.post(url(workspace), body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "inputs.0.dataset_version"


def test_a_flavor_the_pool_lacks_names_the_flavor(workspace, developer_client, presets, npu_pool):
    FlavorFactory(name="npu.910b.4", accelerators=4)
    response = developer_client.post(url(workspace), sft_body(npu_pool, flavor="npu.910b.4"), format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "flavor" and "has no 'npu.910b.4' nodes" in error["detail"]

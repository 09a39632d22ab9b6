"""LLM fine-tuning for real, on CPU, through the API and the local backend's sandbox: a tiny
Llama-architecture model made by the test (random weights, a BPE tokenizer built with
`tokenizers`), SFT and LoRA jobs on a dataset version with an EVAL split, converted weights reused,
a job killed mid-way that the platform runs again from its checkpoint, two runs compared,
TensorBoard through the platform, and the model handed to inference.

Cost: one test runs five recipe processes and a TensorBoard (about a minute and a half on two
cores); the others run no process."""

import json
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from aiplatform.celery import app as celery_app
from datasets import services as datasets_services
from k8s import services as compute
from resourcepools.admission import admit_workloads
from resourcepools.models import TERMINAL_PHASES, Phase, Workload
from resourcepools.services import transition_workload
from tests.datasets.factories import SampleFactory
from tests.factories import FlavorFactory, cpu_flavor, make_pool, workspace_storage
from training import services
from training.models import Algorithm, TrainingJob

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
RECIPE_PYTHON = ROOT / ".venv-llm/bin/python"
COLOURS = ["red", "green", "blue", "yellow", "black", "white"]
THINGS = ["apple", "sky", "grass", "sun", "night", "snow"]
RECORDS = [{"instruction": f"What colour is the {THINGS[i % 6]}?", "output": f"The {THINGS[i % 6]} is "
            f"{COLOURS[i % 6]}."} for i in range(60)]


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory):
    """The base model's folder, built once per session in the recipe's environment."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    corpus = "\n".join(f"{r['instruction']} {r['output']}" for r in RECORDS) + "\nHuman: Assistant: System:\n"
    subprocess.run([str(RECIPE_PYTHON), str(ROOT / "tests/training/tiny_llm.py"), str(folder)], input=corpus,
                   text=True, check=True, capture_output=True, timeout=300)
    return folder


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """A context in which what commits sends its tasks (submits, retries, log reads), which run at
    once, in this process."""
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = False


@pytest.fixture
def presets(db):
    call_command("bootstrap_training_presets")
    return {a.name: a for a in Algorithm.objects.filter(workspace__isnull=True)}


@pytest.fixture
def base_uri(workspace, local_root, tiny_llama):
    target = workspace_storage(local_root, workspace) / "models" / "base"
    target.mkdir(parents=True)
    for path in tiny_llama.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return f"file://ws-{workspace.pk}/models/base/"


@pytest.fixture
def dataset_version(workspace, developer):
    """A dataset version of alpaca records, every tenth in the EVAL split."""
    dataset = datasets_services.create_dataset(workspace=workspace, created_by=developer, name="colours",
                                               type="free_format")
    for i, record in enumerate(RECORDS):
        SampleFactory(dataset=dataset, source=f"content://{i}: {record['instruction']}", metadata=record,
                      usage="eval" if i % 10 == 0 else "train", annotations=[])
    version = datasets_services.create_version(dataset=dataset, created_by=developer, name="v1")
    return datasets_services.publish_version(version_id=version.pk)


def url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.id}/training-jobs/{suffix}"


def llm_body(presets, pool, version, base_uri, *, name, preset="llm-sft", **hyperparameters):
    return {"name": name, "algorithm": str(presets[preset].pk), "pool": str(pool.pk), "flavor": "cpu.8u32g",
            "inputs": [{"channel": "data", "dataset_version": str(version.pk)}],
            "env": {"OMP_NUM_THREADS": "1"},  # two shared cores: one thread each trains fastest
            "hyperparameters": {"model_name_or_path": base_uri, "cutoff_len": 64, "seq_length": 64,
                                "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
                                "learning_rate": 0.003, "warmup_ratio": 0.1, "max_steps": 40, "save_steps": 20,
                                "eval_steps": 20, **hyperparameters}}


def drive(eager, workload_id, *, until=TERMINAL_PHASES, timeout=300) -> Workload:
    """Admission, submits and reconcile passes (with what they send on commit: a retry among them)
    until the job's current workload is in `until` (the bound only stops a hung test)."""
    give_up = time.monotonic() + timeout
    while True:
        job = TrainingJob.objects.filter(attempts__workload_id=workload_id).first()
        workload = Workload.objects.get(pk=job.workload_id if job else workload_id)
        if workload.phase in until:
            return workload
        assert time.monotonic() < give_up, (workload.phase, workload.message)
        with eager():
            admit_workloads()
            if workload.phase == Phase.ADMITTED:
                compute.submit_workload(workload_id=workload.pk)
            compute.reconcile()
        time.sleep(0.2)


def output_folder(local_root, job: dict) -> Path:
    return local_root / job["output_uri"].removeprefix("file://")


def log_lines(client, workspace, workload_id) -> list[str]:
    return client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{workload_id}/logs/",
                      {"tail": 10000}).json()["lines"]


def test_sft_lora_resume_compare_tensorboard_and_handoff_on_cpu(
        workspace, developer_client, presets, local_backend, local_root, base_uri, dataset_version, eager):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)

    # SFT: converts the base, preprocesses, trains, evaluates the EVAL split, writes its outputs.
    created = developer_client.post(url(workspace), llm_body(presets, pool, dataset_version, base_uri, name="sft",
                                                             global_batch_size=2), format="json")
    assert created.status_code == 201, created.json()
    sft = created.json()
    assert sft["batch"] == {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 1,
                            "data_parallel_size": 1, "global_batch_size": 2}
    assert sft["hyperparameters"]["cache_uri"] == f"file://ws-{workspace.pk}/llm-cache/"
    workload = Workload.objects.get(pk=sft["workload"])
    assert workload.command[:3] == ["python", "-m", "training.recipes.llm_finetune"]
    finished = drive(eager, workload.pk)
    assert finished.phase == Phase.SUCCEEDED, (finished.message, log_lines(developer_client, workspace, workload.pk))
    out = output_folder(local_root, sft)
    assert json.loads((out / "converted_weights.json").read_text())["reused"] is False
    preprocessed = json.loads((out / "preprocessed.json").read_text())
    assert (preprocessed["train_samples"], preprocessed["eval_samples"]) == (54, 6)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-20", "checkpoint-40"]
    assert (out / "checkpoints/checkpoint-20/aip_state.json").is_file()
    assert (out / "model/config.json").is_file() and list((out / "tensorboard").glob("events.out.tfevents.*"))
    lines = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert {"loss", "lr", "grad_norm", "tokens_per_second_per_device"} <= set(lines[0])

    services.read_trainer_logs(job_ids=[sft["id"]])
    detail = developer_client.get(url(workspace, f"{sft['id']}/")).json()
    assert detail["throughput"]["tokens_per_second_per_device"] > 0
    metrics = url(workspace, f"{sft['id']}/metrics/")
    losses = [p["value"] for p in developer_client.get(metrics, {"name": "loss", "page_size": 100}).json()["results"]]
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # the loss falls
    evals = developer_client.get(metrics, {"name": "eval_perplexity"}).json()["results"]
    assert [p["step"] for p in evals] == [20, 40] and evals[-1]["value"] < evals[0]["value"]

    # LoRA on the same base: the converted weights (and the preprocessed data) are reused.
    lora = developer_client.post(url(workspace), llm_body(
        presets, pool, dataset_version, base_uri, name="lora", preset="llm-lora", learning_rate=0.01, lora_rank=4,
        lora_alpha=8, lora_target="q_proj,v_proj"), format="json").json()
    assert drive(eager, lora["workload"]).phase == Phase.SUCCEEDED
    lora_out = output_folder(local_root, lora)
    assert json.loads((lora_out / "converted_weights.json").read_text())["reused"] is True
    assert json.loads((lora_out / "preprocessed.json").read_text())["reused"] is True
    assert json.loads((lora_out / "adapter/adapter_config.json").read_text())["r"] == 4
    assert (lora_out / "model/config.json").is_file()  # merged
    lines = [json.loads(line) for line in (lora_out / "trainer_log.jsonl").read_text().splitlines()]
    losses = [line["loss"] for line in lines if "loss" in line]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5

    # A run with another seed, killed mid-way as a lost node would kill it: the platform runs it
    # again (one retry allowed), and it continues from its checkpoint.
    body = llm_body(presets, pool, dataset_version, base_uri, name="sft-seed-7", seed=7, max_steps=300)
    second = developer_client.post(url(workspace), {**body, "max_retries": 1}, format="json").json()
    first_workload = second["workload"]
    drive(eager, first_workload, until=(Phase.RUNNING, *TERMINAL_PHASES))
    checkpoint = output_folder(local_root, second) / "checkpoints/checkpoint-20/aip_state.json"
    give_up = time.monotonic() + 120
    while not checkpoint.exists():
        assert time.monotonic() < give_up
        time.sleep(0.02)
    replica = json.loads((local_backend.base_dir / "workloads" / first_workload / "worker-0.json").read_text())
    os.killpg(replica["pid"], signal.SIGKILL)
    retried = drive(eager, first_workload, until=(Phase.SUCCEEDED, Phase.FAILED))
    job = developer_client.get(url(workspace, f"{second['id']}/")).json()
    assert (retried.phase, job["phase"], job["attempt"]) == (Phase.SUCCEEDED, "succeeded", 2), retried.message
    assert [(a["number"], a["phase"], a["retry_reason"]) for a in job["attempts"]] == [
        (1, "failed", ""), (2, "succeeded", "ReplicaLost")]
    resumed_from = job["attempts"][1]["resumed_from_step"]
    assert resumed_from is not None and resumed_from >= 20
    events = developer_client.get(url(workspace, f"{second['id']}/events/"), {"page_size": 100}).json()["results"]
    retry = next(e for e in events if e["reason"] == "Retry")
    assert retry["attempt"] == 2 and f"resumes from step {resumed_from}" in retry["message"]
    lines = log_lines(developer_client, workspace, job["workload"])
    assert any(f"resuming from checkpoint-{resumed_from}" in line for line in lines), lines[:30]
    steps = [json.loads(line)["current_steps"] for line in
             (output_folder(local_root, second) / "trainer_log.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == list(range(1, 301))  # the log goes on from the checkpoint, no step twice

    # The two seeds compared step by step: where they part beyond 1 %.
    services.read_trainer_logs(job_ids=[second["id"]])
    comparison = developer_client.get(url(workspace, "compare/"), {
        "jobs": f"{sft['id']},{second['id']}", "metric": "loss", "tolerance": 0.01}).json()
    run = comparison["runs"][0]
    assert run["common_steps"] == 40 and run["first_divergent_step"] is not None
    assert comparison["passed"] is False and "diverges from sft beyond 1 %" in comparison["verdict"]
    same = developer_client.get(url(workspace, "compare/"), {"jobs": f"{sft['id']},{sft['id']}"})
    assert same.status_code == 400 and same.json()["errors"][0]["attr"] == "jobs"

    # TensorBoard over both runs, through the platform with the user's credentials.
    created = developer_client.post(f"/api/v1/workspaces/{workspace.id}/visualizations/", {
        "name": "curves", "training_jobs": [sft["id"], second["id"]], "pool": str(pool.pk)}, format="json")
    assert created.status_code == 201, created.json()
    board = created.json()
    tensorboard = Workload.objects.get(pk=board["workload"])
    assert (tensorboard.kind, tensorboard.pod_sets.get().vcpus) == ("visualization", 1)
    assert drive(eager, tensorboard.pk, until=(Phase.RUNNING, *TERMINAL_PHASES)).phase == Phase.RUNNING
    give_up = time.monotonic() + 120
    developer_client.raise_request_exception = False  # a 503 while TensorBoard starts is an answer here
    while (runs := developer_client.get(f"{board['url']}data/runs")).status_code != 200:
        assert runs.status_code == 503 and time.monotonic() < give_up, runs.json()
        time.sleep(0.5)
        compute.reconcile()
    assert sorted(json.loads(b"".join(runs.streaming_content))) == [f"sft-{sft['id'][:8]}/.",
                                                                     f"sft-seed-7-{second['id'][:8]}/."]
    page = developer_client.get(board["url"])
    assert page.status_code == 200 and b"<html" in b"".join(page.streaming_content).lower()
    assert services.stop_idle_visualizations() == []  # just opened
    later = timezone.now() + timedelta(seconds=board["idle_timeout_seconds"] + 1)
    assert services.stop_idle_visualizations(now=later) == [board["id"]]
    assert drive(eager, tensorboard.pk).phase == Phase.STOPPED
    assert Workload.objects.get(pk=tensorboard.pk).events.filter(reason="IdleTimeout").exists()

    # The model handoff: registered from the SFT job, its architecture read from model/config.json.
    model = developer_client.post(f"/api/v1/workspaces/{workspace.id}/models/", {
        "name": "colours", "source": "training_job", "training_job": sft["id"], "runtime": "vllm"}, format="json")
    assert model.status_code == 201, model.json()
    assert model.json()["uri"].endswith("/model/")
    assert {k: model.json()[k] for k in ("layers", "hidden_size", "attention_heads", "head_dim", "dtype")} == {
        "layers": 2, "hidden_size": 128, "attention_heads": 2, "head_dim": 64, "dtype": "fp32"}


@pytest.mark.parametrize(
    ("changes", "attr", "words"),
    [
        ({"seq_length": 128}, "hyperparameters.seq_length", "seq_length 128 must equal cutoff_len 64"),
        ({"global_batch_size": 8}, "hyperparameters.gradient_accumulation_steps",
         "set gradient_accumulation_steps to 4"),
        ({"global_batch_size": 5}, "hyperparameters.gradient_accumulation_steps", "a multiple of 2"),
        ({"template": "nonsense"}, "hyperparameters.template", "Must be one of"),
        ({"model_name_or_path": "file://ws-{ws}/models/none/"}, "hyperparameters.model_name_or_path",
         "no config.json"),
        ({"cache_uri": "file://elsewhere/cache/"}, "hyperparameters.cache_uri", ""),
    ],
)
def test_llm_jobs_are_checked_before_they_queue(workspace, developer_client, presets, local_root, base_uri,
                                                dataset_version, changes, attr, words):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    changes = {k: v.format(ws=workspace.pk) if isinstance(v, str) else v for k, v in changes.items()}
    body = llm_body(presets, pool, dataset_version, base_uri, name="bad", **changes)
    response = developer_client.post(url(workspace), body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == attr and words in error["detail"]
    assert not TrainingJob.objects.exists() and not Workload.objects.exists()


def test_the_global_batch_counts_every_device(workspace, developer_client, presets, local_root, base_uri,
                                              dataset_version):
    """Moving a job from one 8-card node to two: the same global batch needs half the accumulation."""
    pool = make_pool(name="npu", flavor=FlavorFactory(), nodes=2)
    body = {**llm_body(presets, pool, dataset_version, base_uri, name="gbs", global_batch_size=128,
                       gradient_accumulation_steps=8), "flavor": "npu.910b.8", "node_count": 2}
    refused = developer_client.post(url(workspace), body, format="json").json()["errors"][0]
    assert refused["detail"].startswith("global_batch_size 128 ≠ per_device_train_batch_size 2 × "
                                        "gradient_accumulation_steps 8 × data-parallel size 16 = 256")
    assert "set gradient_accumulation_steps to 4" in refused["detail"]
    body["hyperparameters"]["gradient_accumulation_steps"] = 4
    job = developer_client.post(url(workspace), body, format="json").json()
    assert job["batch"]["global_batch_size"] == 128 and job["batch"]["data_parallel_size"] == 16


def test_only_infrastructure_failures_are_retried_and_only_as_often_as_asked(
        workspace, developer_client, presets, local_root, base_uri, dataset_version):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)

    def failed(job, reason):
        workload = Workload.objects.get(pk=job.workload_id)
        admit_workloads()
        transition_workload(workload=workload, to=Phase.RUNNING, reason="Running")
        transition_workload(workload=workload, to=Phase.FAILED, reason=reason, message=f"{reason} here.")
        services.retry_failed_jobs(workload_ids=[workload.pk])  # what the end of an attempt sends
        return TrainingJob.objects.get(pk=job.pk)

    body = {**llm_body(presets, pool, dataset_version, base_uri, name="oom"), "max_retries": 2}
    oom = TrainingJob.objects.get(pk=developer_client.post(url(workspace), body, format="json").json()["id"])
    assert failed(oom, "OOMKilled").attempt == 1  # its own failure: not retried

    lost = TrainingJob.objects.get(pk=developer_client.post(url(workspace), {**body, "name": "lost"},
                                                            format="json").json()["id"])
    lost = failed(lost, "ReplicaLost")
    assert lost.attempt == 2 and lost.workload.phase == Phase.QUEUED
    assert services.retry_failed_jobs(workload_ids=[lost.attempts.get(number=1).workload_id]) == []  # once only
    retry = lost.workload.events.get(reason="Retry")
    assert "Attempt 2 of 3 after ReplicaLost" in retry.message and "starts from step 0" in retry.message
    lost = failed(failed(lost, "ObjectsVanished"), "ReplicaLost")
    assert lost.attempt == 3 and lost.workload.phase == Phase.FAILED
    assert lost.workload.events.filter(reason="RetriesExhausted").exists()
    too_many = developer_client.post(url(workspace), {**body, "name": "x", "max_retries": 99}, format="json")
    assert too_many.json()["errors"][0]["attr"] == "max_retries"


def test_the_recipe_image_runs_the_module_the_tests_run():
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(ROOT / "training/recipes/llm_finetune/Dockerfile"))
    instructions = [i["instruction"] for i in parser.structure if i["instruction"] != "COMMENT"]
    assert instructions[0] == "FROM" and "USER" in instructions
    assert json.loads(parser.structure[-1]["value"]) == ["python", "-m", "training.recipes.llm_finetune"]
    assert parser.envs["HF_HUB_OFFLINE"] == "1" and parser.envs["PYTHONPATH"] == "/opt/aiplatform"
    copied = [i["value"].split()[0] for i in parser.structure if i["instruction"] == "COPY"]
    for source in copied:
        assert (ROOT / source).exists(), source
    assert "requirements-llm.txt" in copied

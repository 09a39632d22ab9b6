"""Quantization jobs: the API that checks and queues them, and, for real on the local backend
(sandboxed, llm-compressor in .venv-quant), the tiny Llama quantized to W8A8 and served by the real
CPU vLLM, and to W4A16 with a calibrated int8 KV cache whose scales land in their own file and whose
checkpoint loads and runs (one vLLM start in the module)."""

import json
import subprocess
import time

import pytest
import requests

from inference.models import QuantizationJob
from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, cpu_flavor, make_pool, member_of, workspace_storage
from tests.inference.tiny_models import ROOT, SERVE_PYTHON, tiny_llama

QUANT_PYTHON = ROOT / ".venv-quant/bin/python"
CALIBRATION = "\n".join(json.dumps({"text": f"the team won the match number {i} against the quick brown fox"})
                        for i in range(32))


@pytest.fixture
def pool(db):
    return make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)


@pytest.fixture
def model(workspace, developer_client, local_root):
    folder = workspace_storage(local_root, workspace) / "models" / "tiny"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 128, "num_hidden_layers": 2,
                                                    "num_attention_heads": 2, "vocab_size": 384}))
    response = developer_client.post(f"/api/v1/workspaces/{workspace.pk}/models/", {
        "name": "tiny", "source": "storage", "runtime": "vllm", "uri": f"file://ws-{workspace.pk}/models/tiny"},
        format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def jobs_url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.pk}/quantization-jobs/{suffix}"


@pytest.mark.django_db
def test_a_quantization_job_is_a_workload_writing_to_the_workspaces_own_location(workspace, developer_client,
                                                                                 model, pool):
    response = developer_client.post(jobs_url(workspace), {"model": model["id"], "pool": str(pool.pk),
                                                           "scheme": "w8a8"}, format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["output_uri"] == f"file://ws-{workspace.pk}/quantized/tiny-1-w8a8/"
    assert job["state"]["status"] == "queued" and job["quantized_weights_uri"] is None
    workload = Workload.objects.get(pk=job["workload"])
    assert workload.command[:3] == ["python3", "-m", "inference.runtime.quantize"]
    assert workload.command[workload.command.index("--scheme") + 1] == "w8a8"
    assert [(p.name, p.flavor.name) for p in workload.pod_sets.all()] == [("quantizer", "cpu.8u32g")]
    listed = developer_client.get(jobs_url(workspace)).json()
    assert [j["id"] for j in listed["results"]] == [job["id"]]
    stopped = developer_client.post(jobs_url(workspace, f"{job['id']}/stop/"))
    assert stopped.status_code == 200 and stopped.json()["state"]["status"] in ("stopping", "stopped")


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "attr", "words"), [
    ({"kv_cache_dtype": "int8"}, "calibration_uri", "calibrated on sample texts"),
    ({"kv_cache_dtype": "fp8", "calibration_uri": "file://ws-elsewhere/texts.jsonl"}, "calibration_uri", ""),
    ({"output_uri": "file://ws-elsewhere/out/"}, "output_uri", ""),
    ({"scheme": "w2a2"}, "scheme", ""),
])
def test_bad_quantization_jobs_are_refused_naming_the_field(workspace, developer_client, model, pool, changes, attr,
                                                            words):
    response = developer_client.post(jobs_url(workspace), {"model": model["id"], "pool": str(pool.pk),
                                                           "scheme": "w8a8", **changes}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr and words in response.json()["errors"][0]["detail"]
    assert not QuantizationJob.objects.exists() and not Workload.objects.exists()


@pytest.mark.django_db
def test_another_workspaces_model_and_job_are_not_found(workspace, developer_client, model, pool):
    other = WorkspaceFactory()
    theirs = client_for(member_of(other))
    response = theirs.post(jobs_url(other), {"model": model["id"], "pool": str(pool.pk), "scheme": "w8a8"},
                           format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "model"
    mine = developer_client.post(jobs_url(workspace), {"model": model["id"], "pool": str(pool.pk),
                                                       "scheme": "w4a16"}, format="json").json()
    assert theirs.get(jobs_url(other, f"{mine['id']}/")).status_code == 404


def finished(workload, backend, seconds=600) -> Workload:
    deadline = time.monotonic() + seconds
    while workload.phase not in (Phase.SUCCEEDED, Phase.FAILED, Phase.STOPPED):
        assert time.monotonic() < deadline, workload.phase
        time.sleep(2)
        compute.reconcile()
        workload.refresh_from_db()
    if workload.phase != Phase.SUCCEEDED:
        spec = workload_spec(workload)
        pytest.fail(f"{workload.message}\n" + "".join(backend.logs(spec, tail=60)))
    return workload


@pytest.mark.vllm
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not (QUANT_PYTHON.exists() and SERVE_PYTHON.exists()),
                    reason="no .venv-quant or .venv-vllm: run `make quant-env serve-env`")
def test_the_tiny_model_quantized_for_real_and_served_by_vllm(workspace, developer_client, local_root, local_backend,
                                                              pool):
    folder = workspace_storage(local_root, workspace)
    tiny_llama(folder / "models" / "tiny")
    (folder / "calibration.jsonl").write_text(CALIBRATION)
    base = f"/api/v1/workspaces/{workspace.pk}"
    model = developer_client.post(f"{base}/models/", {"name": "tiny", "source": "storage", "runtime": "vllm",
                                                      "uri": f"file://ws-{workspace.pk}/models/tiny"},
                                  format="json").json()
    jobs = {}
    for scheme, extra in (("w8a8", {}), ("w4a16", {"kv_cache_dtype": "int8", "calibration_samples": 16,
                                                   "calibration_uri": f"file://ws-{workspace.pk}/calibration.jsonl"})):
        response = developer_client.post(jobs_url(workspace), {"model": model["id"], "pool": str(pool.pk),
                                                               "scheme": scheme, **extra}, format="json")
        assert response.status_code == 201, response.json()
        jobs[scheme] = response.json()
    admit_workloads()
    for job in jobs.values():
        workload = Workload.objects.get(pk=job["workload"])
        assert compute.submit_workload(workload_id=workload.pk)
        finished(workload, local_backend)
    done = {scheme: developer_client.get(jobs_url(workspace, f"{job['id']}/")).json() for scheme, job in jobs.items()}
    assert done["w8a8"]["state"]["status"] == "succeeded"
    assert done["w8a8"]["quantized_weights_uri"] == jobs["w8a8"]["output_uri"]
    assert done["w8a8"]["kv_scales_uri"] is None

    # W4A16 with an int8 KV cache: the scales in their own file, per attention layer, and in the checkpoint.
    w4 = folder / "quantized" / "tiny-1-w4a16"
    assert done["w4a16"]["kv_scales_uri"] == f"{jobs['w4a16']['output_uri']}kv_scales.json"
    scales = json.loads((w4 / "kv_scales.json").read_text())
    assert scales["kv_cache_dtype"] == "int8"
    assert sorted(scales["layers"]) == ["model.layers.0.self_attn", "model.layers.1.self_attn"]
    assert all(s["k_scale"] > 0 and s["v_scale"] > 0 for s in scales["layers"].values())
    config = json.loads((w4 / "config.json").read_text())["quantization_config"]
    assert config["format"] == "pack-quantized" and config["kv_cache_scheme"]["type"] == "int"
    loaded = subprocess.run([str(QUANT_PYTHON), "-c", """
import sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
model, tokens = AutoModelForCausalLM.from_pretrained(sys.argv[1]), AutoTokenizer.from_pretrained(sys.argv[1])
logits = model(**tokens("the team won the match", return_tensors="pt")).logits
print(tuple(logits.shape), bool(torch.isfinite(logits).all()))
""", str(w4)], capture_output=True, text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert loaded.stdout.strip().endswith("(1, 5, 384) True"), loaded.stderr[-2000:]

    # The W8A8 checkpoint served by the real CPU vLLM (compressed-tensors int8 kernels).
    service = developer_client.post(f"{base}/services/", {
        "name": "tiny-w8a8", "model": model["id"], "pool": str(pool.pk), "flavor": "cpu.8u32g",
        "quantization": "w8a8", "quantized_weights_uri": done["w8a8"]["quantized_weights_uri"],
        "memory_utilisation": 0.1, "max_model_len": 256, "max_num_seqs": 4, "enforce_eager": True}, format="json")
    assert service.status_code == 201, service.json()
    command = service.json()["launch"]["server"]["command"]
    assert command[command.index("--model-uri") + 1] == done["w8a8"]["quantized_weights_uri"]
    assert command[command.index("--quantization") + 1] == "compressed-tensors"
    workload = Workload.objects.get(pk=service.json()["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    deadline = time.monotonic() + 600
    while not (urls := local_backend.endpoints(workload_spec(workload), "server")):
        compute.reconcile()
        workload.refresh_from_db()
        assert workload.phase not in (Phase.FAILED, Phase.STOPPED) and time.monotonic() < deadline, \
            "".join(local_backend.logs(workload_spec(workload), tail=60))
        time.sleep(2)
    answer = requests.post(f"{urls[0]}/v1/chat/completions", timeout=120, json={
        "model": "tiny-w8a8", "messages": [{"role": "user", "content": "the team won"}], "max_tokens": 6})
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["completion_tokens"] == 6
    log = "".join(local_backend.logs(workload_spec(workload)))
    assert "compressed-tensors" in log

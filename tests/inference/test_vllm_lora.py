"""From training to serving: a LoRA fine-tuning job's adapter (peft's, on the tiny Llama) deploys in
one call as a model on its base, and the real CPU vLLM serves it with --enable-lora under the
service's name (one vLLM start)."""

import subprocess
import time

import pytest
import requests
from django.core.management import call_command

from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from resourcepools.services import transition_workload
from tests.factories import cpu_flavor, make_pool, make_workload, workspace_storage
from tests.inference.tiny_models import RECIPE_PYTHON, SERVE_PYTHON, tiny_llama
from training.models import Algorithm, TrainingJob

pytestmark = [pytest.mark.django_db(transaction=True)]

ADAPTER = """
import sys
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM
model = get_peft_model(AutoModelForCausalLM.from_pretrained(sys.argv[1]),
                       LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
model.save_pretrained(sys.argv[2])
"""


def finished_lora_job(workspace, pool, base_uri, output) -> TrainingJob:
    """A LoRA job of the llm-lora preset that wrote only its adapter (merge_lora false), finished."""
    call_command("bootstrap_training_presets")
    subprocess.run([str(RECIPE_PYTHON), "-c", ADAPTER, str(output["base"]), str(output["folder"] / "adapter")],
                   check=True, capture_output=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    workload = make_workload(workspace, pool, flavor=pool.nodes.first().flavor, name="lora")
    admit_workloads()
    for phase in (Phase.RUNNING, Phase.SUCCEEDED):
        transition_workload(workload=Workload.objects.get(pk=workload.pk), to=phase, reason=phase)
    return TrainingJob.objects.create(
        workspace=workspace, name="lora", algorithm=Algorithm.objects.get(name="llm-lora", workspace=None),
        output_uri=output["uri"], hyperparameters={"model_name_or_path": base_uri, "merge_lora": False,
                                                   "lora_rank": 8},
        flavor=pool.nodes.first().flavor, pool=pool, workload=workload)


@pytest.mark.vllm
@pytest.mark.skipif(not (SERVE_PYTHON.exists() and RECIPE_PYTHON.exists()), reason="run `make serve-env recipe-env`")
def test_a_lora_jobs_adapter_deploys_in_one_call_and_vllm_serves_it(workspace, developer_client, local_root,
                                                                     local_backend):
    folder = workspace_storage(local_root, workspace)
    base = tiny_llama(folder / "models" / "tiny")
    base_uri = f"file://ws-{workspace.pk}/models/tiny/"
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)
    job = finished_lora_job(workspace, pool, base_uri, {"base": base, "folder": folder / "jobs" / "lora",
                                                        "uri": f"file://ws-{workspace.pk}/jobs/lora/"})
    api = f"/api/v1/workspaces/{workspace.pk}"
    model = developer_client.post(f"{api}/models/", {"name": "tiny-lora", "source": "training_job",
                                                     "training_job": str(job.pk), "runtime": "vllm"}, format="json")
    assert model.status_code == 201, model.json()
    model = model.json()
    assert (model["uri"], model["adapter_uri"], model["lora_rank"]) == (
        base_uri, f"file://ws-{workspace.pk}/jobs/lora/adapter/", 8)
    assert model["layers"] == 2  # the base's facts plan it
    created = developer_client.post(f"{api}/services/", {
        "name": "tiny-lora", "model": model["id"], "pool": str(pool.pk), "flavor": "cpu.8u32g",
        "memory_utilisation": 0.1, "max_model_len": 256, "max_num_seqs": 4, "enforce_eager": True}, format="json")
    assert created.status_code == 201, created.json()
    command = created.json()["launch"]["server"]["command"]
    assert command[command.index("--adapter-uri") + 1] == model["adapter_uri"]
    assert "--enable-lora" in command and command[command.index("--lora-modules") + 1] == "tiny-lora={adapter}"

    workload = Workload.objects.get(pk=created.json()["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    deadline = time.monotonic() + 600
    while not (urls := local_backend.endpoints(workload_spec(workload), "server")):
        compute.reconcile()
        workload.refresh_from_db()
        assert workload.phase not in (Phase.FAILED, Phase.STOPPED) and time.monotonic() < deadline, \
            "".join(local_backend.logs(workload_spec(workload), tail=60))
        time.sleep(2)
    served = {m["id"] for m in requests.get(f"{urls[0]}/v1/models", timeout=30).json()["data"]}
    assert served == {"tiny-lora", "tiny-lora-base"}
    answer = requests.post(f"{urls[0]}/v1/chat/completions", timeout=120, json={
        "model": "tiny-lora", "messages": [{"role": "user", "content": "the team won"}], "max_tokens": 5})
    assert answer.status_code == 200, answer.text
    assert answer.json()["model"] == "tiny-lora" and answer.json()["usage"]["completion_tokens"] == 5

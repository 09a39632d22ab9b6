"""Training jobs on both compute backends: the LLM preset's manifest and status path through the
Kubernetes emulator, and a multi-node job's rank environment in real child processes."""

import time

import pytest
from django.core.management import call_command

from k8s import services as compute
from k8s.manifests import runtime_secret_name
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.factories import FlavorFactory, connect_bucket, cpu_flavor, make_pool
from tests.k8s.test_kubernetes_backend import finish_job, job_name, namespace, start_pods
from training.models import TrainingJob
from training.services import job_for_token

pytestmark = pytest.mark.django_db


def test_llm_sft_job_runs_as_an_indexed_job_and_fails_in_plain_words(workspace, developer_client, kube_backend,
                                                                      cluster, s3):
    call_command("bootstrap_training_presets")
    s3.create_bucket(Bucket="data")
    connect_bucket(workspace.account, "data")
    s3.put_object(Bucket="data", Key="sft/train.jsonl", Body=b"{}\n")
    s3.put_object(Bucket="data", Key="llama-7b/config.json", Body=b"{}")
    pool = make_pool(name="npu", flavor=FlavorFactory(), nodes=2)
    sft = developer_client.get(f"/api/v1/workspaces/{workspace.id}/algorithms/", {"name": "llm-sft"}).json()
    body = {"name": "sft", "algorithm": sft["results"][0]["id"], "pool": str(pool.pk), "flavor": "npu.910b.8",
            "node_count": 2, "output_uri": "s3://data/out/", "inputs": [{"channel": "data", "uri": "s3://data/sft/"}],
            "hyperparameters": {"model_name_or_path": "s3://data/llama-7b/"}}
    url = f"/api/v1/workspaces/{workspace.id}/training-jobs/"
    job = developer_client.post(url, body, format="json").json()
    workload = Workload.objects.get(pk=job["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    manifest = cluster.batch.read_namespaced_job(job_name(workload), namespace(workload))
    assert manifest.spec.completion_mode == "Indexed" and manifest.spec.parallelism == 2
    container = manifest.spec.template.spec.containers[0]
    # The recipe's module, as the local backend runs it, in the image its Dockerfile builds.
    assert container.command[:4] == ["python", "-m", "training.recipes.llm_finetune", "--stage=sft"]
    assert container.image == workload.image and container.image.endswith("/llm-finetune:3.0.0")
    assert "--model_name_or_path=s3://data/llama-7b/" in container.command
    assert container.resources.limits["huawei.com/Ascend910"] == "8"
    env = {e.name: e.value for e in container.env}
    assert env["NNODES"] == "2" and env["NPROC_PER_NODE"] == "8" and env["WORLD_SIZE"] == "16"
    assert env["AIP_INPUT_DATA"] == "s3://data/sft/"
    # The job token is no plain value of the Job: the pods read it from the workload's Secret.
    token_ref = next(e for e in container.env if e.name == "AIP_JOB_TOKEN").value_from.secret_key_ref
    assert (token_ref.name, token_ref.key) == (runtime_secret_name(str(workload.pk)), "AIP_JOB_TOKEN")
    secret = cluster.core.read_namespaced_secret(token_ref.name, namespace(workload))
    assert job_for_token(secret.string_data["AIP_JOB_TOKEN"]) == TrainingJob.objects.get(pk=job["id"])
    assert [(o.kind, o.name, o.uid) for o in secret.metadata.owner_references] == [
        ("Job", manifest.metadata.name, manifest.metadata.uid)]
    assert "AIP_JOB_TOKEN" not in Workload.objects.get(pk=workload.pk).env
    start_pods(cluster, workload, statuses={1: {"containerStatuses": [{
        "name": "worker", "image": "x", "ready": False, "restartCount": 0, "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}})
    compute.reconcile()
    finish_job(cluster, workload, "Failed", reason="BackoffLimitExceeded")
    compute.reconcile()
    status = developer_client.get(f"{url}{job['id']}/").json()["status"]
    assert status["phase"] == "failed" and status["secondary"] == "OOMKilled"
    assert "ran out of memory" in status["message"]


def test_multi_node_job_gets_the_rank_environment_on_the_local_backend(workspace, developer_client, local_backend,
                                                                      local_root, django_capture_on_commit_callbacks):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)
    body = {"name": "ranks", "image": "python:3.11-slim", "pool": str(pool.pk), "flavor": "cpu.8u32g",
            "node_count": 2, "output_uri": f"file://ws-{workspace.pk}/out",
            "command": ["sh", "-c", "echo rank $RANK of $WORLD_SIZE nodes $NNODES master $MASTER_ADDR:$MASTER_PORT"]}
    url = f"/api/v1/workspaces/{workspace.id}/training-jobs/"
    job = developer_client.post(url, body, format="json").json()
    workload = Workload.objects.get(pk=job["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    give_up = time.monotonic() + 20
    while workload.phase != Phase.SUCCEEDED:
        assert time.monotonic() < give_up, (workload.phase, workload.message)
        time.sleep(0.1)
        compute.reconcile()
        workload.refresh_from_db()
    logs = f"/api/v1/workspaces/{workspace.id}/workloads/{workload.pk}/logs/"
    lines = {r: developer_client.get(logs, {"replica": r}).json()["lines"][0] for r in ("worker-0", "worker-1")}
    port = lines["worker-0"].rsplit(":", 1)[1]
    assert lines == {"worker-0": f"rank 0 of 2 nodes 2 master 127.0.0.1:{port}",
                     "worker-1": f"rank 1 of 2 nodes 2 master 127.0.0.1:{port}"}
    assert developer_client.get(f"{url}{job['id']}/").json()["status"]["secondary"] == "Completed"

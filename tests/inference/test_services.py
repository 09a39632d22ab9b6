import json

import pytest

from inference.models import Model, Service
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from resourcepools.services import transition_workload
from tests.factories import FlavorFactory, WorkspaceFactory, cpu_flavor, make_pool, workspace_storage

pytestmark = pytest.mark.django_db

LLAMA_70B_CONFIG = {"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64,
                    "num_key_value_heads": 8, "vocab_size": 32000, "intermediate_size": 28672,
                    "torch_dtype": "bfloat16"}


@pytest.fixture
def npu_pool(db):
    pool = make_pool(name="npu", flavor=FlavorFactory(), nodes=4)
    from resourcepools import services as pool_services

    pool_services.add_node(pool=pool, name="npu-cpu-0", flavor=cpu_flavor())
    return pool


@pytest.fixture
def llama_uri(local_root, workspace):
    folder = workspace_storage(local_root, workspace) / "models" / "llama"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(LLAMA_70B_CONFIG))
    return f"file://ws-{workspace.pk}/models/llama"


@pytest.fixture
def llama(workspace, developer_client, llama_uri):
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/models/", {
        "name": "llama-2-70b", "source": "storage", "uri": llama_uri, "runtime": "vllm"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def services_url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.id}/services/{suffix}"


def service_body(model, pool, **changes):
    return {"name": "chat", "model": model["id"], "pool": str(pool.pk), "flavor": "npu.910b.8",
            "tensor_parallel": 8, "max_model_len": 4096, **changes}


def test_model_facts_come_from_config_json(llama):
    assert llama["layers"] == 80 and llama["kv_heads"] == 8 and llama["head_dim"] == 128
    assert 68_000_000_000 < llama["parameters"] < 70_000_000_000  # Llama-2 70B: 68.98e9
    assert llama["plannable"] is True


def test_plan_answers_with_every_number(workspace, developer_client, llama, npu_pool):
    response = developer_client.post(services_url(workspace, "plan/"), {
        "model": llama["id"], "flavor": "npu.910b.8", "tensor_parallel": 8}, format="json")
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["fits"] is True
    assert plan["kv_bytes_per_token"] == 40_960
    assert plan["card_memory_gib"] == 64
    assert plan["max_concurrent_sequences"] > 200
    assert set(plan) >= {"weights_per_device_gib", "usable_per_device_gib", "kv_tokens_per_device"}


def test_unified_service_deploys_as_a_workload(workspace, developer_client, llama, npu_pool):
    response = developer_client.post(services_url(workspace), service_body(llama, npu_pool, instance_count=2),
                                     format="json")
    assert response.status_code == 201, response.json()
    service = response.json()
    assert service["state"]["status"] == "deploying"
    assert service["plan"]["fits"] is True
    # The launcher brings the model to a local path, then runs vLLM's own server on it.
    command = service["launch"]["server"]["command"]
    assert command[:6] == ["python3", "-m", "inference.runtime.serve", "--model-uri",
                           f"file://ws-{workspace.pk}/models/llama", "--"]
    assert command[6:11] == ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "{model}"]
    assert service["launch"]["server"]["env"]["AIP_HEALTH_PATH"] == "/health"
    workload = Workload.objects.get(pk=service["workload"])
    assert workload.kind == "inference"
    assert [(p.name, p.replicas, p.accelerators) for p in workload.pod_sets.all()] == [("server", 2, 8)]
    admit_workloads()
    transition_workload(workload=workload, to=Phase.RUNNING, reason="Running")
    assert developer_client.get(services_url(workspace, f"{service['id']}/")).json()["state"]["status"] == "running"


def test_autoscaling_bounds_reach_the_serving_pod_set(workspace, developer_client, llama, npu_pool):
    response = developer_client.post(services_url(workspace), service_body(
        llama, npu_pool, instance_count=1, min_instances=1, max_instances=3, target_concurrency=16), format="json")
    assert response.status_code == 201, response.json()
    server = Workload.objects.get(pk=response.json()["workload"]).pod_sets.get()
    assert (server.replicas, server.min_replicas, server.max_replicas, server.target_concurrency) == (1, 1, 3, 16)
    spec = workload_spec(Workload.objects.get(pk=response.json()["workload"])).pod_sets[0]
    assert (spec.min_replicas, spec.max_replicas, spec.target_concurrency) == (1, 3, 16)


def test_disaggregated_service_has_prefill_decode_and_router(workspace, developer_client, llama, npu_pool):
    body = service_body(llama, npu_pool, mode="disaggregated", prefill_instances=1, decode_instances=2)
    response = developer_client.post(services_url(workspace), body, format="json")
    assert response.status_code == 201, response.json()
    workload = Workload.objects.get(pk=response.json()["workload"])
    pod_sets = {p.name: p for p in workload.pod_sets.all()}
    assert {n: (p.replicas, p.flavor.name) for n, p in pod_sets.items()} == {
        "prefill": (1, "npu.910b.8"), "decode": (2, "npu.910b.8"), "router": (1, "cpu.8u32g")}
    prefill, decode = pod_sets["prefill"].command, pod_sets["decode"].command
    assert json.loads(prefill[prefill.index("--kv-transfer-config") + 1])["kv_connector"] == "NixlConnector"
    assert pod_sets["decode"].env["VLLM_NIXL_SIDE_CHANNEL_HOST"] == "$(AIP_POD_IP)"
    assert "--kv-transfer-config" in decode
    router = pod_sets["router"].command
    assert router[0] == "vllm-router" and "--vllm-pd-disaggregation" in router
    assert pod_sets["router"].env["AIP_DISCOVERS_PODS"] == "true"


def test_an_instance_larger_than_a_node_spans_nodes(workspace, developer_client, llama, npu_pool):
    response = developer_client.post(services_url(workspace), service_body(llama, npu_pool, tensor_parallel=16),
                                     format="json")
    assert response.status_code == 201, response.json()
    workload = Workload.objects.get(pk=response.json()["workload"])
    leader, worker = workload.pod_sets.all()
    assert [(p.name, p.replicas) for p in (leader, worker)] == [("server-leader", 1), ("server-worker", 1)]
    assert leader.command[:2] == ["bash", "-c"] and leader.command[2].startswith("ray start --head --port=6379 && ")
    assert "--tensor-parallel-size 16" in leader.command[2]
    assert "--distributed-executor-backend ray" in leader.command[2]
    assert worker.command == ["bash", "-c", 'ray start --address="$LEADER_ADDR:6379" --block']


def test_only_vllm_instances_span_nodes(workspace, developer_client, npu_pool, llama_uri):
    model = developer_client.post(f"/api/v1/workspaces/{workspace.id}/models/", {
        "name": "llama-sglang", "source": "storage", "uri": llama_uri, "runtime": "sglang"}, format="json").json()
    response = developer_client.post(services_url(workspace), service_body(model, npu_pool, tensor_parallel=16),
                                     format="json")
    assert response.status_code == 400
    assert "spans 2 'npu.910b.8' nodes" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("changes", "attr", "words"),
    [
        ({"tensor_parallel": 3}, "tensor_parallel", "must divide the 64 attention heads"),
        ({"tensor_parallel": 1}, "model", "The weights need"),
        ({"tensor_parallel": 12}, "tensor_parallel", "must divide the 64 attention heads"),
        ({"quantization": "w8a8"}, "quantized_weights_uri", "quantized weights"),
        ({"kv_cache_dtype": "int8"}, "kv_cache_dtype", "keeps its KV cache in"),
        ({"mode": "disaggregated", "prefill_instances": 1, "decode_instances": 0}, "decode_instances",
         "needs decode instances"),
        ({"instance_count": 0}, "instance_count", "stop it"),
        ({"min_instances": 0, "max_instances": 2}, "min_instances", "Keep at least one instance"),
        ({"min_instances": 2, "max_instances": 1}, "min_instances", "is above max_instances"),
        ({"expert_parallel": 2}, "expert_parallel", "dense model uses 1"),
        ({"flavor": "cpu.8u32g"}, "tensor_parallel", "On the CPU flavor 'cpu.8u32g' an instance is one process"),
        ({"tensor_parallel": 64}, "tensor_parallel", "spans 8 'npu.910b.8' nodes and pool 'npu' has 4"),
    ],
)
def test_bad_services_are_refused_and_nothing_is_deployed(workspace, developer_client, llama, npu_pool, changes,
                                                          attr, words):
    response = developer_client.post(services_url(workspace), service_body(llama, npu_pool, **changes),
                                     format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    assert words in error["detail"]
    assert not Service.objects.exists() and not Workload.objects.exists()


def test_weights_that_do_not_fit_come_with_numbers_and_suggestions(workspace, developer_client, llama, npu_pool):
    response = developer_client.post(services_url(workspace), service_body(llama, npu_pool, tensor_parallel=1),
                                     format="json")
    detail = response.json()["errors"][0]["detail"]
    assert "GiB per card but only 55.60 GiB is available" in detail
    assert "use tensor parallel size 4" in detail and "quantize the weights" in detail


def test_runtime_that_cannot_serve_a_quantization(workspace, developer_client, npu_pool, llama_uri):
    model = developer_client.post(f"/api/v1/workspaces/{workspace.id}/models/", {
        "name": "llama-tgi", "source": "storage", "uri": llama_uri, "runtime": "tgi"},
        format="json").json()
    response = developer_client.post(services_url(workspace), service_body(
        model, npu_pool, quantization="w8a8", quantized_weights_uri=f"{llama_uri}-w8a8"), format="json")
    assert response.status_code == 400
    assert "does not serve W8A8" in response.json()["errors"][0]["detail"]


def test_model_of_another_workspace_is_refused(workspace, developer_client, npu_pool):
    other = WorkspaceFactory()
    theirs = Model.objects.create(workspace=other, name="x", source="image", image="i", runtime="vllm")
    response = developer_client.post(services_url(workspace), service_body({"id": str(theirs.pk)}, npu_pool),
                                     format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "model"


def test_rolling_update_stop_start_delete(workspace, developer_client, llama, npu_pool,
                                         django_capture_on_commit_callbacks):
    service = developer_client.post(services_url(workspace), service_body(llama, npu_pool), format="json").json()
    first = Workload.objects.get(pk=service["workload"])
    admit_workloads()
    transition_workload(workload=first, to=Phase.RUNNING, reason="Running")
    scaled = developer_client.patch(services_url(workspace, f"{service['id']}/"), {"instance_count": 2},
                                    format="json")
    assert scaled.status_code == 200, scaled.json()
    assert scaled.json()["workload"] == str(first.pk)  # the current deployment keeps serving
    rollout = Workload.objects.get(pk=scaled.json()["next_workload"])
    admit_workloads()
    with django_capture_on_commit_callbacks(execute=True):
        transition_workload(workload=rollout, to=Phase.RUNNING, reason="Running")
    after = developer_client.get(services_url(workspace, f"{service['id']}/")).json()
    assert after["workload"] == str(rollout.pk) and after["next_workload"] is None
    first.refresh_from_db()
    assert first.phase == Phase.STOPPING  # the old deployment is stopped once the new one runs
    assert developer_client.delete(services_url(workspace, f"{service['id']}/")).status_code == 409
    stopped = developer_client.post(services_url(workspace, f"{service['id']}/stop/")).json()
    assert stopped["state"]["status"] == "stopping"
    transition_workload(workload=rollout, to=Phase.STOPPED, reason="Stopped")
    started = developer_client.post(services_url(workspace, f"{service['id']}/start/"))
    assert started.status_code == 200 and started.json()["state"]["status"] == "deploying"
    events = developer_client.get(services_url(workspace, f"{service['id']}/events/")).json()
    assert events["count"] >= 8
    developer_client.post(services_url(workspace, f"{service['id']}/stop/"))
    assert developer_client.delete(services_url(workspace, f"{service['id']}/")).status_code == 204

"""Serving on a cluster, for every runtime and mode: services created through the API render
manifests valid against the Kubernetes schemas, are applied through the emulator, and a
disaggregated service's router finds exactly its prefill and decode pods with the pod-reading
ServiceAccount it is given; vLLM's arguments are what vLLM 0.32's own parser and KV-transfer
configuration accept; the gateway gets one endpoint per ready pod from the EndpointSlices."""

import json
import subprocess

import kubernetes_validate
import pytest
from kubernetes import client

from inference.launch import KV_CONNECTORS
from k8s import services as compute
from k8s.manifests import ClusterConventions, base_name, manifests
from k8s.services import workload_spec
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Workload
from tests.factories import FlavorFactory, cpu_flavor, make_pool, workspace_storage
from tests.inference.tiny_models import ROOT, SERVE_PYTHON

pytestmark = pytest.mark.django_db
K8S_VERSION = kubernetes_validate.latest_version()
LLAMA = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
         "vocab_size": 32000, "intermediate_size": 14336, "torch_dtype": "bfloat16"}
MODES = [("vllm", "unified", {}), ("vllm", "disaggregated", {"kv_connector": "nixl"}),
         ("vllm", "disaggregated", {"kv_connector": "mooncake"}), ("sglang", "unified", {}),
         ("sglang", "disaggregated", {}), ("mindie", "unified", {}), ("mindie", "disaggregated", {}),
         ("tgi", "unified", {}), ("vllm", "unified", {"tensor_parallel": 16})]


@pytest.fixture
def gpu_pool(db):
    pool = make_pool(name="gpu", flavor=FlavorFactory(name="gpu.8", accelerator_kind="nvidia_gpu",
                                                      accelerator_model="H100", accelerators=8,
                                                      accelerator_memory_gib=80), nodes=4)
    pool_services.add_node(pool=pool, name="gpu-cpu-0", flavor=cpu_flavor())
    return pool


@pytest.fixture
def uri(local_root, workspace):
    folder = workspace_storage(local_root, workspace) / "models" / "llama"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(LLAMA))
    return f"file://ws-{workspace.pk}/models/llama"


def deployed(client, workspace, pool, uri, runtime, mode, name=None, **options) -> Workload:
    base, name = f"/api/v1/workspaces/{workspace.pk}", name or f"chat-{runtime}"
    model = client.post(f"{base}/models/", {"name": name, "source": "storage", "uri": uri, "runtime": runtime},
                        format="json").json()
    body = {"name": name, "model": model["id"], "pool": str(pool.pk), "flavor": "gpu.8",
            "tensor_parallel": 1, "mode": mode, **options}
    if mode == "disaggregated":
        body.update(prefill_instances=1, decode_instances=2)
    response = client.post(f"{base}/services/", body, format="json")
    assert response.status_code == 201, response.json()
    return Workload.objects.get(pk=response.json()["workload"])


def selector_terms(command: list[str], flag: str) -> list[str]:
    start = command.index(flag) + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return command[start:end]


def expanded(term: str, env: dict) -> tuple[str, str]:
    key, _, value = term.partition("=")
    for name, known in env.items():
        value = value.replace(f"$({name})", known)
    return key, value


def container_env(deployment: dict) -> dict:
    return {e["name"]: e.get("value", "") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize(("runtime", "mode", "options"), MODES)
def test_every_runtime_and_mode_renders_valid_manifests_applied_through_the_emulator(
        workspace, developer_client, gpu_pool, uri, runtime, mode, options, kube_backend, cluster):
    workload = deployed(developer_client, workspace, gpu_pool, uri, runtime, mode, **options)
    objects = manifests(workload_spec(workload), ClusterConventions())
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    namespace = f"aip-ws-{workspace.pk}"
    deployments = {d.metadata.name for d in cluster.apps.list_namespaced_deployment(namespace).items}
    assert deployments == {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    for obj in (o for o in objects if o["kind"] == "Deployment"):
        pod = obj["spec"]["template"]
        assert pod["metadata"]["labels"]["aiplatform.io/service"] == str(workload.env["AIP_SERVICE_ID"])
        container = pod["spec"]["containers"][0]
        env = [e["name"] for e in container["env"]]
        assert env[:2] == ["AIP_POD_IP", "AIP_POD_NAMESPACE"]  # first, so later values may name them
        if runtime in ("vllm", "sglang", "tgi") and not obj["metadata"]["name"].endswith("-worker"):
            assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8080}
        is_router = obj["metadata"]["name"].endswith("-router")
        assert pod["spec"]["automountServiceAccountToken"] is is_router
        if not is_router and not obj["metadata"]["name"].endswith("-worker"):
            # The launcher brings the model to a local path first (a multi-node leader: after Ray's head).
            command = " ".join(container["command"])
            assert "python3 -m inference.runtime.serve --model-uri file://" in command
            assert "{model}" in command or "{model}" in json.dumps(container["env"])


def test_the_router_finds_exactly_its_prefill_and_decode_pods_and_may_only_read_pods(
        workspace, developer_client, gpu_pool, uri, kube_backend, cluster):
    workload = deployed(developer_client, workspace, gpu_pool, uri, "vllm", "disaggregated")
    other = deployed(developer_client, workspace, gpu_pool, uri, "sglang", "disaggregated")  # its pods beside
    admit_workloads()
    for each in (workload, other):
        assert compute.submit_workload(workload_id=each.pk)
    namespace, base = f"aip-ws-{workspace.pk}", base_name(str(workload.pk))
    objects = {(o["kind"], o["metadata"]["name"]): o for o in manifests(workload_spec(workload), ClusterConventions())}
    router = objects["Deployment", f"{base}-router"]
    account = router["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == f"{base}-router"
    rbac = client.RbacAuthorizationV1Api(cluster.api)
    role = json.loads(rbac.read_namespaced_role(account, namespace, _preload_content=False).data)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    binding = json.loads(rbac.read_namespaced_role_binding(account, namespace, _preload_content=False).data)
    assert binding["roleRef"]["name"] == account
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    assert cluster.core.read_namespaced_service_account(account, namespace).metadata.name == account

    # The Deployment controller's part: pods from every template of both services.
    for each in (workload, other):
        for obj in manifests(workload_spec(each), ClusterConventions()):
            if obj["kind"] == "Deployment":
                for i in range(obj["spec"]["replicas"]):
                    cluster.core.create_namespaced_pod(namespace, {
                        "metadata": {"name": f"{obj['metadata']['name']}-{i}",
                                     "labels": obj["spec"]["template"]["metadata"]["labels"]},
                        "spec": {"containers": [{"name": "c", "image": "x"}]}})
    command, env = router["spec"]["template"]["spec"]["containers"][0]["command"], container_env(router)
    env["AIP_POD_NAMESPACE"] = namespace  # what the pod's fieldRef gives
    assert command[command.index("--service-discovery-namespace") + 1] == "$(AIP_POD_NAMESPACE)"
    for flag, role_name, replicas in (("--prefill-selector", "prefill", 1), ("--decode-selector", "decode", 2)):
        selector = ",".join("=".join(expanded(term, env)) for term in selector_terms(command, flag))
        pods = cluster.core.list_namespaced_pod(namespace, label_selector=selector).items
        assert sorted(p.metadata.name for p in pods) == [f"{base}-{role_name}-{i}" for i in range(replicas)]


def test_the_gateway_gets_one_endpoint_per_ready_pod_from_the_endpoint_slices(
        workspace, developer_client, gpu_pool, uri, kube_backend, cluster):
    workload = deployed(developer_client, workspace, gpu_pool, uri, "vllm", "unified", instance_count=3)
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    namespace, name = f"aip-ws-{workspace.pk}", f"{base_name(str(workload.pk))}-server"
    client.DiscoveryV1Api(cluster.api).create_namespaced_endpoint_slice(namespace, {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-abcde", "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["10.0.0.7"], "conditions": {"ready": True}},
                      {"addresses": ["10.0.0.8"], "conditions": {"ready": False}},  # still loading the model
                      {"addresses": ["10.0.0.9"], "conditions": {"ready": True}}]}, _preload_content=False)
    assert kube_backend.endpoints(workload_spec(workload), "server") == ["http://10.0.0.7:8080",
                                                                         "http://10.0.0.9:8080"]


@pytest.mark.skipif(not SERVE_PYTHON.exists(), reason="no .venv-vllm: run `make serve-env`")
def test_vllm_arguments_are_what_vllm_itself_accepts(workspace, developer_client, gpu_pool, uri):
    """Every generated vLLM command line (unified, multi-node, prefill and decode per connector, LoRA)
    through vLLM 0.32's own server parser and engine arguments, and each KV-transfer configuration
    through its KVTransferConfig and connector registry."""
    commands = []
    for mode, options in (("unified", {"data_parallel": 2, "max_num_batched_tokens": 4096}),
                          *(("disaggregated", {"kv_connector": c}) for c in KV_CONNECTORS)):
        workload = deployed(developer_client, workspace, gpu_pool, uri, "vllm", mode, **options,
                            name=f"c-{mode}-{options.get('kv_connector', 'x')}")
        for pod_set in workload.pod_sets.exclude(name="router"):
            command = pod_set.command
            commands.append(command[command.index("--") + 4:])  # after `-- python3 -m <module>`
    check = """
import json, sys
from vllm.config.kv_transfer import KVTransferConfig
from vllm.distributed.kv_transfer.kv_connector.factory import KVConnectorFactory
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.entrypoints.launchers.cli_args import make_arg_parser
from vllm.utils.argparse_utils import FlexibleArgumentParser
for argv in json.loads(sys.stdin.read()):
    args = make_arg_parser(FlexibleArgumentParser()).parse_args(argv)
    engine = AsyncEngineArgs.from_cli_args(args)
    if engine.kv_transfer_config is not None:
        config = KVTransferConfig(**json.loads(argv[argv.index("--kv-transfer-config") + 1]))
        assert config.kv_connector in KVConnectorFactory._registry, config.kv_connector
        print(config.kv_connector, config.kv_role)
    print("ok", engine.tensor_parallel_size, engine.data_parallel_size, engine.max_num_batched_tokens)
"""
    done = subprocess.run([str(SERVE_PYTHON), "-c", check], input=json.dumps(commands), capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines.count("ok 1 2 4096") == 1
    assert {"NixlConnector kv_both", "MooncakeConnector kv_producer", "MooncakeConnector kv_consumer"} <= set(lines)

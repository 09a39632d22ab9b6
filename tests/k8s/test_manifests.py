"""Manifest builders: pure functions of a workload spec, valid against the Kubernetes schemas."""

import kubernetes_validate
import pytest

from k8s.backend import PodSetSpec, WorkloadSpec
from k8s.manifests import (
    ClusterConventions,
    base_name,
    labels_from_text,
    manifests,
    namespace,
    network_policy,
    role_name,
)

K8S_VERSION = kubernetes_validate.latest_version()
CONVENTIONS = ClusterConventions()
WORKLOAD_ID = "0b6c3f0e-8d1a-4a51-9a0e-1f2d3c4b5a69"
WORKSPACE_ID = "5d0e1c2b-3a49-4f8e-9d7c-6b5a4f3e2d1c"


def spec(*pod_sets, kind="training", dedicated=False, max_runtime=None, env=(), secrets=()):
    return WorkloadSpec(
        id=WORKLOAD_ID, workspace_id=WORKSPACE_ID, name="llm", kind=kind, pool_name="pool-a",
        dedicated_pool=dedicated, image="registry.local/train:1", command=("python", "train.py"), env=tuple(env),
        max_runtime_seconds=max_runtime, pod_sets=tuple(pod_sets), secrets=tuple(secrets),
    )


def pod_set(name="worker", replicas=1, accelerators=0, kind="none", vcpus=8, memory_gib=32):
    return PodSetSpec(name=name, replicas=replicas, vcpus=vcpus, memory_gib=memory_gib, accelerators=accelerators,
                      accelerator_kind=kind)


def validated(objects):
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def container(obj):
    return obj["spec"]["template"]["spec"]["containers"][0]


def env_of(obj):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(obj)["env"]}


def test_single_node_training_is_a_plain_job_with_deadline_and_labels():
    objects = validated(manifests(spec(pod_set(), max_runtime=3600), CONVENTIONS))
    name = f"{base_name(WORKLOAD_ID)}-worker"
    assert list(objects) == [("Job", name)]
    job = objects["Job", name]
    assert job["metadata"]["namespace"] == f"aip-ws-{WORKSPACE_ID}"
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "aiplatform", "aiplatform.io/workload-id": WORKLOAD_ID,
        "aiplatform.io/workspace-id": WORKSPACE_ID, "aiplatform.io/workload-kind": "training",
        "aiplatform.io/role": "worker",
    }
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    assert job["spec"]["backoffLimit"] == 0
    assert "completionMode" not in job["spec"]
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"aiplatform.io/pool": "pool-a"}
    assert "tolerations" not in pod
    assert container(job)["resources"] == {"requests": {"cpu": "8", "memory": "32Gi"},
                                           "limits": {"cpu": "8", "memory": "32Gi"}}
    assert env_of(job)["WORLD_SIZE"] == "1" and env_of(job)["RANK"] == "0"
    assert container(job)["command"] == ["python", "train.py"]


def test_multi_node_npu_training_is_an_indexed_job_with_headless_service_and_torchrun_env():
    objects = validated(manifests(spec(pod_set(replicas=4, accelerators=8, kind="ascend_npu")), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    assert list(objects) == [("Service", base), ("Job", f"{base}-worker")]
    service, job = objects["Service", base], objects["Job", f"{base}-worker"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 4
    assert job["spec"]["template"]["spec"]["subdomain"] == base
    env = env_of(job)
    assert env["MASTER_ADDR"] == f"{base}-worker-0.{base}"
    assert (env["MASTER_PORT"], env["NNODES"], env["NPROC_PER_NODE"], env["WORLD_SIZE"]) == ("29500", "4", "8", "32")
    index = {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
    assert env["NODE_RANK"] == env["RANK"] == index
    assert container(job)["resources"]["limits"]["huawei.com/Ascend910"] == "8"
    assert container(job)["resources"]["requests"]["huawei.com/Ascend910"] == "8"


def test_gpu_on_a_dedicated_pool_tolerates_its_taint():
    conventions = ClusterConventions(gpu_resource="nvidia.com/gpu", dedicated_taint="example.com/dedicated")
    objects = validated(manifests(spec(pod_set(accelerators=1, kind="nvidia_gpu"), dedicated=True), conventions))
    job = next(iter(objects.values()))
    assert container(job)["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert job["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "example.com/dedicated", "operator": "Equal", "value": "pool-a", "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]


def test_accelerator_resource_names_are_configurable():
    conventions = ClusterConventions(npu_resource="huawei.com/ascend-1980")
    objects = validated(manifests(spec(pod_set(accelerators=2, kind="ascend_npu")), conventions))
    assert container(next(iter(objects.values())))["resources"]["limits"]["huawei.com/ascend-1980"] == "2"


def test_disaggregated_inference_gets_a_deployment_and_service_per_role():
    objects = validated(manifests(spec(pod_set("prefill", 2, 8, "ascend_npu"), pod_set("decode", 4, 8, "ascend_npu"),
                                       kind="inference"), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    assert sorted(objects) == sorted([("Deployment", f"{base}-prefill"), ("Service", f"{base}-prefill"),
                                      ("Deployment", f"{base}-decode"), ("Service", f"{base}-decode")])
    decode = objects["Deployment", f"{base}-decode"]
    assert decode["spec"]["replicas"] == 4
    assert decode["spec"]["selector"]["matchLabels"] == {"aiplatform.io/workload-id": WORKLOAD_ID,
                                                         "aiplatform.io/role": "decode"}
    assert container(decode)["readinessProbe"]["tcpSocket"]["port"] == 8080
    assert objects["Service", f"{base}-decode"]["spec"]["selector"]["aiplatform.io/role"] == "decode"
    assert "activeDeadlineSeconds" not in decode["spec"]["template"]["spec"]


def test_a_serving_role_with_bounds_gets_a_horizontal_pod_autoscaler():
    from dataclasses import replace
    server = replace(pod_set("server", 2, 1, "nvidia_gpu"), min_replicas=1, max_replicas=4, target_concurrency=16)
    objects = validated(manifests(spec(server, pod_set("router"), kind="inference"), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    hpa = objects["HorizontalPodAutoscaler", f"{base}-server"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{base}-server"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert hpa["spec"]["metrics"] == [{"type": "Pods", "pods": {
        "metric": {"name": "aiplatform_concurrent_requests"},
        "target": {"type": "AverageValue", "averageValue": "16"}}}]
    assert hpa["metadata"]["labels"]["aiplatform.io/role"] == "server"
    assert ("HorizontalPodAutoscaler", f"{base}-router") not in objects  # fixed replicas
    without_target = validated(manifests(spec(replace(server, target_concurrency=None), kind="inference"),
                                         CONVENTIONS))
    assert "metrics" not in without_target["HorizontalPodAutoscaler", f"{base}-server"]["spec"]


def test_secrets_are_referenced_never_inlined():
    objects = validated(manifests(spec(pod_set(), env=[("HF_TOKEN", "secret://hf/token"), ("MODE", "sft")]),
                                  CONVENTIONS))
    env = env_of(next(iter(objects.values())))
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
    assert env["MODE"] == "sft"


def test_names_are_deterministic_and_dns_safe():
    assert manifests(spec(pod_set()), CONVENTIONS) == manifests(spec(pod_set()), CONVENTIONS)
    assert role_name("Worker_1") != role_name("worker-1")
    validated(manifests(spec(pod_set("Worker_1", replicas=2)), CONVENTIONS))
    validated([namespace(spec(pod_set()), CONVENTIONS)])


@pytest.mark.parametrize("role", ["a" * 63, "x_" * 20])
def test_long_roles_stay_within_name_limits(role):
    for obj in manifests(spec(pod_set(role, replicas=3)), CONVENTIONS):
        assert len(obj["metadata"]["name"]) <= 63 - len("-999")


def test_each_role_runs_its_own_command_and_environment():
    from dataclasses import replace

    prefill = replace(pod_set("prefill", 1, 8, "ascend_npu"), command=("vllm", "serve", "--role=prefill"),
                      env=(("ROLE_ONLY", "p"),))
    router = replace(pod_set("router", 1), command=("vllm-router",))
    objects = validated(manifests(spec(prefill, router, kind="inference", env=[("SHARED", "s")]), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    assert container(objects["Deployment", f"{base}-prefill"])["command"] == ["vllm", "serve", "--role=prefill"]
    assert container(objects["Deployment", f"{base}-router"])["command"] == ["vllm-router"]
    assert env_of(objects["Deployment", f"{base}-prefill"])["ROLE_ONLY"] == "p"
    assert env_of(objects["Deployment", f"{base}-prefill"])["SHARED"] == "s"
    assert "ROLE_ONLY" not in env_of(objects["Deployment", f"{base}-router"])


def test_workers_of_a_multi_node_instance_find_their_leader():
    from dataclasses import replace

    leader = replace(pod_set("server-leader", 1, 8, "nvidia_gpu"), command=("bash", "-c", "ray start --head"))
    worker = replace(pod_set("server-worker", 1, 8, "nvidia_gpu"), command=("bash", "-c", "ray start --block"))
    objects = validated(manifests(spec(leader, worker, kind="inference"), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    assert env_of(objects["Deployment", f"{base}-server-worker"])["LEADER_ADDR"] == (
        f"{base}-server-leader.aip-ws-{WORKSPACE_ID}.svc")
    assert "readinessProbe" not in container(objects["Deployment", f"{base}-server-worker"])
    assert "readinessProbe" in container(objects["Deployment", f"{base}-server-leader"])
    ports = {p["name"]: p["port"] for p in objects["Service", f"{base}-server-leader"]["spec"]["ports"]}
    assert ports == {"http": 8080, "group": 6379}


def test_runtime_secrets_are_a_secret_of_the_workload_that_its_pods_reference():
    secrets = [("AIP_JOB_TOKEN", "signed-token"), ("AWS_SECRET_ACCESS_KEY", "s3-secret")]
    # A stale value of the same name in the workload's env (stored before tokens moved) is left out.
    objects = validated(manifests(spec(pod_set(replicas=2), env=[("AIP_JOB_TOKEN", "old"), ("MODE", "sft")],
                                       secrets=secrets), CONVENTIONS))
    base = base_name(WORKLOAD_ID)
    assert list(objects)[0] == ("Secret", f"{base}-runtime")  # before the pods that read it
    secret = objects["Secret", f"{base}-runtime"]
    assert secret["metadata"]["namespace"] == f"aip-ws-{WORKSPACE_ID}"
    assert secret["metadata"]["labels"]["aiplatform.io/workload-id"] == WORKLOAD_ID
    assert secret["stringData"] == dict(secrets)
    job = objects["Job", f"{base}-worker"]
    names = [e["name"] for e in container(job)["env"]]
    assert len(names) == len(set(names))
    env = env_of(job)
    assert env["AIP_JOB_TOKEN"] == {"secretKeyRef": {"name": f"{base}-runtime", "key": "AIP_JOB_TOKEN"}}
    assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": f"{base}-runtime", "key": "AWS_SECRET_ACCESS_KEY"}}
    assert env["MODE"] == "sft"
    assert "signed-token" not in str(job) and "s3-secret" not in str(job)
    serving = validated(manifests(spec(pod_set("server"), kind="inference", secrets=secrets), CONVENTIONS))
    assert env_of(serving["Deployment", f"{base}-server"])["AIP_JOB_TOKEN"] == env["AIP_JOB_TOKEN"]
    assert ("Secret", f"{base}-runtime") not in validated(manifests(spec(pod_set()), CONVENTIONS))


def test_no_pod_gets_a_service_account_token():
    """Tenant code has no business with the cluster's API (the platform's own account least of all)."""
    training = manifests(spec(pod_set(replicas=2)), CONVENTIONS)
    serving = manifests(spec(pod_set("prefill", 2), pod_set("router"), kind="inference"), CONVENTIONS)
    pods = [o["spec"]["template"]["spec"] for o in validated(training + serving).values()
            if o["kind"] in ("Job", "Deployment")]
    assert len(pods) == 3 and all(p["automountServiceAccountToken"] is False for p in pods)


def test_a_workspace_namespace_is_isolated_from_the_other_workspaces():
    conventions = ClusterConventions(platform_namespace_labels=labels_from_text("team=platform,tier=gateway"),
                                     cluster_cidrs=("10.244.0.0/16", "10.96.0.0/12", "fd00:10::/56"))
    policy = network_policy(spec(pod_set()), conventions)
    kubernetes_validate.validate(policy, K8S_VERSION, strict=True)
    assert policy["metadata"]["namespace"] == f"aip-ws-{WORKSPACE_ID}"
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    # In: its own pods, and the namespaces of the gateway and the platform; nothing else.
    assert policy["spec"]["ingress"] == [{"from": [
        {"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"team": "platform", "tier": "gateway"}}}]}]
    # Out: its own pods, namespaces of no workspace (DNS, the platform's API), and outside the cluster.
    assert policy["spec"]["egress"] == [{"to": [
        {"podSelector": {}},
        {"namespaceSelector": {"matchExpressions": [{"key": "aiplatform.io/workspace-id",
                                                     "operator": "DoesNotExist"}]}},
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16", "10.96.0.0/12"]}},
        {"ipBlock": {"cidr": "::/0", "except": ["fd00:10::/56"]}},
    ]}]
    # Every workspace namespace carries the label that keeps the others' pods from sending to it.
    assert namespace(spec(pod_set()), conventions)["metadata"]["labels"]["aiplatform.io/workspace-id"] == WORKSPACE_ID
    default = network_policy(spec(pod_set()), CONVENTIONS)
    assert default["spec"]["ingress"][0]["from"][1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "aiplatform"}}}
    assert default["spec"]["egress"][0]["to"][2:] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
    for bad in ("", "team", "=x", "a=b,c"):
        with pytest.raises(ValueError, match="is not a list of labels"):
            labels_from_text(bad)

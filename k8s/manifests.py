"""Kubernetes manifests as pure functions of a workload spec and the cluster conventions.

Shapes: a training (or any run-to-completion) pod set of one replica is a batch/v1 Job; of
several replicas an Indexed Job whose pods find each other through a headless Service and get
torchrun's rendezvous variables; an inference pod set is an apps/v1 Deployment with a Service,
one per pod set so that the prefill and decode roles of a disaggregated service scale apart,
plus an autoscaling/v2 HorizontalPodAutoscaler when the pod set has autoscaling bounds.
Names are deterministic, so a retried submit meets its own objects (409) instead of making more.
Pods get no service account token (tenant code has no business with the cluster's API), and each
workspace's namespace a NetworkPolicy that keeps other workspaces out of it and its pods out of
theirs."""

import hashlib
import re
from dataclasses import dataclass
from ipaddress import ip_network

from resourcepools.services import SECRET_SCHEME, secret_reference

from .backend import (
    KIND_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    ROLE_LABEL,
    WORKLOAD_LABEL,
    WORKSPACE_LABEL,
    PodSetSpec,
    SubmitError,
    WorkloadSpec,
)

RENDEZVOUS_PORT = 29500
SERVING_PORT = 8080
# Where a multi-node instance's leader gathers its workers (Ray's default head port).
LEADER_GROUP_PORT = 6379
# Per-pod gauge of requests in flight, served to the HPA by a custom-metrics adapter (e.g.
# prometheus-adapter) from the runtimes' metrics.
CONCURRENCY_METRIC = "aiplatform_concurrent_requests"
INDEX_ANNOTATION = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
NETWORK_POLICY_NAME = "aip-workspace-isolation"
# The service a serving pod belongs to (its workload's AIP_SERVICE_ID): a prefill/decode router
# selects its pods by it, with the workload and the role.
SERVICE_LABEL = "aiplatform.io/service"
# A serving pod set whose process lists its deployment's pods (a prefill/decode router) gets a
# ServiceAccount whose Role may only read pods in the namespace.
DISCOVERS_PODS_ENV = "AIP_DISCOVERS_PODS"
HEALTH_PATH_ENV = "AIP_HEALTH_PATH"
# A persistent volume's own label: it outlives the workloads that mount it (a notebook's storage).
VOLUME_LABEL = "aiplatform.io/volume"
# Where a workload's persistent volume is mounted, and its working folder (as the local sandbox's).
VOLUME_MOUNT_PATH = "/aip/work"
# The pod's own address and namespace, first in every serving container's environment so that
# later values and the command may name them as $(AIP_POD_IP) and $(AIP_POD_NAMESPACE).
POD_FIELDS = (("AIP_POD_IP", "status.podIP"), ("AIP_POD_NAMESPACE", "metadata.namespace"))
POD_READER_RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


@dataclass(frozen=True)
class ClusterConventions:
    namespace_prefix: str = "aip-ws-"
    pool_label: str = "aiplatform.io/pool"
    dedicated_taint: str = "aiplatform.io/dedicated"
    gpu_resource: str = "nvidia.com/gpu"
    npu_resource: str = "huawei.com/Ascend910"
    # Labels of the namespaces whose pods (the gateway, the platform) may call workloads.
    platform_namespace_labels: tuple[tuple[str, str], ...] = (("kubernetes.io/metadata.name", "aiplatform"),)
    # The cluster's own address ranges, which "outside the cluster" leaves out.
    cluster_cidrs: tuple[str, ...] = ()


def labels_from_text(text: str) -> tuple[tuple[str, str], ...]:
    """'a=b,c=d' as label pairs; ValueError for anything else."""
    pairs = tuple(tuple(part.strip().split("=", 1)) for part in text.split(",") if part.strip())
    if not pairs or any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise ValueError(f"'{text}' is not a list of labels (name=value,name=value).")
    return pairs


def namespace_name(spec: WorkloadSpec, conventions: ClusterConventions) -> str:
    return f"{conventions.namespace_prefix}{spec.workspace_id}"


def base_name(workload_id: str) -> str:
    # 20 hex digits of the uuid keep names unique and short enough for pod host names.
    return f"wl-{workload_id.replace('-', '')[:20]}"


def role_name(role: str) -> str:
    """A pod set name as a DNS label part (slugs may hold '_' and capitals; DNS names may not)."""
    clean = re.sub(r"[^a-z0-9-]", "-", role.lower()).strip("-")[:20].strip("-") or "role"
    if clean != role:
        clean = f"{clean[:13]}-{hashlib.sha1(role.encode()).hexdigest()[:6]}"
    return clean


def object_name(spec: WorkloadSpec, pod_set: PodSetSpec) -> str:
    return f"{base_name(spec.id)}-{role_name(pod_set.name)}"


def headless_service_name(spec: WorkloadSpec) -> str:
    return base_name(spec.id)


def runtime_secret_name(workload_id: str) -> str:
    return f"{base_name(workload_id)}-runtime"


def labels(spec: WorkloadSpec, pod_set: PodSetSpec | None = None) -> dict:
    result = {
        MANAGED_BY_LABEL: MANAGED_BY,
        WORKLOAD_LABEL: spec.id,
        WORKSPACE_LABEL: spec.workspace_id,
        KIND_LABEL: spec.kind,
    }
    if pod_set is not None:
        result[ROLE_LABEL] = role_name(pod_set.name)
    service_id = dict(spec.env).get("AIP_SERVICE_ID")
    if spec.serves and service_id:
        result[SERVICE_LABEL] = service_id
    return result


def discovers_pods(spec: WorkloadSpec, pod_set: PodSetSpec) -> bool:
    return spec.kind == "inference" and dict(spec.env_for(pod_set)).get(DISCOVERS_PODS_ENV) == "true"


def pod_reader(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> list[dict]:
    """The ServiceAccount of a pod set that lists its deployment's pods, a Role that may read pods
    in the workspace's namespace and nothing else, and the RoleBinding between them."""
    name, namespace = object_name(spec, pod_set), namespace_name(spec, conventions)
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(spec, name, namespace, pod_set),
         "automountServiceAccountToken": True},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _metadata(spec, name, namespace, pod_set), "rules": POD_READER_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _metadata(spec, name, namespace, pod_set),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ]


def _metadata(spec, name, namespace, pod_set=None) -> dict:
    return {"name": name, "namespace": namespace, "labels": labels(spec, pod_set)}


def _resources(pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    amounts = {"cpu": str(pod_set.vcpus), "memory": f"{pod_set.memory_gib}Gi"}
    accelerator = accelerator_resource(pod_set, conventions)
    if accelerator:
        amounts[accelerator] = str(pod_set.accelerators)
    # Requests equal limits: the pod gets exactly the share admission reserved (Guaranteed QoS).
    return {"requests": dict(amounts), "limits": dict(amounts)}


def accelerator_resource(pod_set: PodSetSpec, conventions: ClusterConventions) -> str | None:
    if not pod_set.accelerators:
        return None
    return {"nvidia_gpu": conventions.gpu_resource, "ascend_npu": conventions.npu_resource}.get(
        pod_set.accelerator_kind)


def secret_references(spec: WorkloadSpec, pod_set: PodSetSpec) -> dict[str, tuple[str, str]]:
    """{env name: (secret name, key)} of the pod set's env values written `secret://<secret>/<key>`;
    SubmitError names a value that is no such reference (or names the platform's own secrets),
    which a workload made before references were checked may hold."""
    references = {}
    for name, value in spec.env_for(pod_set):
        try:
            reference = secret_reference(value)
        except ValueError as exc:
            raise SubmitError(f"env {name}: {exc}") from None
        if reference is not None:
            references[name] = reference
    return references


def env_var(name: str, value: str) -> dict:
    # Checked by secret_references before anything is created.
    if value.startswith(SECRET_SCHEME):
        secret, _, key = value[len(SECRET_SCHEME):].partition("/")
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
    return {"name": name, "value": value}


def rank_env(spec: WorkloadSpec, pod_set: PodSetSpec, *, master_addr: str, master_port: int,
             node_rank: str | None) -> dict:
    """torchrun's contract for one replica: NNODES nodes of NPROC_PER_NODE processes (one per
    accelerator), WORLD_SIZE processes in all; NODE_RANK and RANK are this replica's index.
    `node_rank` None means 'from the Indexed Job's completion index'."""
    per_node = max(pod_set.accelerators, 1)
    env = {
        "AIP_WORKLOAD_ID": spec.id,
        "AIP_ROLE": pod_set.name,
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": str(master_port),
        "NNODES": str(pod_set.replicas),
        "NPROC_PER_NODE": str(per_node),
        "WORLD_SIZE": str(pod_set.replicas * per_node),
    }
    if node_rank is not None:
        env.update({"NODE_RANK": node_rank, "RANK": node_rank, "AIP_REPLICA_INDEX": node_rank})
    return env


def _container(spec, pod_set, conventions, rank: dict, ports: list | None = None, probe: bool = False) -> dict:
    secret_names = {name for name, _ in spec.secrets}
    env = [{"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}} for name, path in POD_FIELDS] \
        if spec.serves else []
    env += [env_var(k, v) for k, v in spec.env_for(pod_set) if k not in rank and k not in secret_names]
    env += [{"name": k, "value": v} for k, v in rank.items()]
    # Runtime secrets by reference: the manifest (which anyone who may read the Job sees) holds none.
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": runtime_secret_name(spec.id), "key": name}}}
            for name in sorted(secret_names)]
    if rank and "NODE_RANK" not in rank:
        for name in ("NODE_RANK", "RANK", "AIP_REPLICA_INDEX"):
            env.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": INDEX_ANNOTATION}}})
    container = {
        "name": role_name(pod_set.name),
        "image": spec.image,
        "env": env,
        "resources": _resources(pod_set, conventions),
    }
    if spec.command_for(pod_set):
        container["command"] = list(spec.command_for(pod_set))
    if ports:
        container["ports"] = ports
    if probe:
        # Ready when the runtime says so (vLLM's /health answers once the model is loaded), else
        # when its port takes connections.
        health = dict(spec.env_for(pod_set)).get(HEALTH_PATH_ENV)
        check = {"httpGet": {"path": health, "port": SERVING_PORT}} if health else {"tcpSocket": {"port": SERVING_PORT}}
        container["readinessProbe"] = {**check, "initialDelaySeconds": 5, "periodSeconds": 10}
    return container


def _placement(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    placement = {"nodeSelector": {conventions.pool_label: spec.pool_name}}
    tolerations = []
    if spec.dedicated_pool:
        tolerations.append({"key": conventions.dedicated_taint, "operator": "Equal", "value": spec.pool_name,
                            "effect": "NoSchedule"})
    accelerator = accelerator_resource(pod_set, conventions)
    if accelerator:
        # Accelerator nodes are commonly tainted with their resource name to keep CPU work off.
        tolerations.append({"key": accelerator, "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        placement["tolerations"] = tolerations
    return placement


def job(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    namespace = namespace_name(spec, conventions)
    name = object_name(spec, pod_set)
    multi = pod_set.replicas > 1
    service = headless_service_name(spec)
    rank = rank_env(
        spec, pod_set,
        master_addr=f"{name}-0.{service}" if multi else "127.0.0.1",
        master_port=RENDEZVOUS_PORT, node_rank=None if multi else "0",
    )
    pod_spec = _mount_volume(spec, {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "containers": [_container(spec, pod_set, conventions, rank,
                                  ports=[{"name": "rendezvous", "containerPort": RENDEZVOUS_PORT}] if multi else None)],
        **_placement(spec, pod_set, conventions),
    })
    job_spec = {
        # One failed replica fails the gang: distributed training cannot continue without it.
        "backoffLimit": 0,
        "completions": pod_set.replicas,
        "parallelism": pod_set.replicas,
        "template": {"metadata": {"labels": labels(spec, pod_set)}, "spec": pod_spec},
    }
    if multi:
        job_spec["completionMode"] = "Indexed"
        pod_spec["subdomain"] = service
    if spec.max_runtime_seconds:
        job_spec["activeDeadlineSeconds"] = spec.max_runtime_seconds
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _metadata(spec, name, namespace, pod_set),
            "spec": job_spec}


def headless_service(spec: WorkloadSpec, conventions: ClusterConventions) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(spec, headless_service_name(spec), namespace_name(spec, conventions)),
        "spec": {
            "clusterIP": "None",
            # Replicas must resolve each other before they are ready, to rendezvous at all.
            "publishNotReadyAddresses": True,
            "selector": {WORKLOAD_LABEL: spec.id},
            "ports": [{"name": "rendezvous", "port": RENDEZVOUS_PORT, "targetPort": RENDEZVOUS_PORT}],
        },
    }


def leader_of(spec: WorkloadSpec, pod_set: PodSetSpec) -> PodSetSpec | None:
    """The leader pod set of a multi-node serving instance's workers (`x-worker` → `x-leader`)."""
    if not pod_set.name.endswith("-worker"):
        return None
    name = pod_set.name.removesuffix("-worker") + "-leader"
    return next((p for p in spec.pod_sets if p.name == name), None)


def volume_claim(spec: WorkloadSpec, conventions: ClusterConventions) -> dict:
    """The workload's persistent volume: labelled with its own name and the workspace, not with
    the workload, so that the reconciler never takes it for a workload's leftover."""
    return {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": spec.volume.name, "namespace": namespace_name(spec, conventions),
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY, WORKSPACE_LABEL: spec.workspace_id,
                                VOLUME_LABEL: spec.volume.name}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{spec.volume.size_gib}Gi"}}},
    }


def _mount_volume(spec: WorkloadSpec, pod: dict) -> dict:
    """The workload's persistent volume, if it has one, mounted as its containers' working folder."""
    if spec.volume is None:
        return pod
    pod["volumes"] = [{"name": "work", "persistentVolumeClaim": {"claimName": spec.volume.name}}]
    for container in pod["containers"]:
        container["volumeMounts"] = [{"name": "work", "mountPath": VOLUME_MOUNT_PATH}]
        container["workingDir"] = VOLUME_MOUNT_PATH
    return pod


def _with_volume(spec: WorkloadSpec, deployment_spec: dict) -> dict:
    """Mount the workload's persistent volume as its working folder; one pod at a time uses it
    (ReadWriteOnce), so a new pod starts only once the old one is gone."""
    if spec.volume is None:
        return deployment_spec
    _mount_volume(spec, deployment_spec["template"]["spec"])
    return {**deployment_spec, "strategy": {"type": "Recreate"}}


def deployment(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    name = object_name(spec, pod_set)
    rank = {"AIP_WORKLOAD_ID": spec.id, "AIP_ROLE": pod_set.name}
    leader = leader_of(spec, pod_set)
    if leader is not None:
        # Workers join their leader's group (e.g. a Ray cluster) through its Service.
        rank["LEADER_ADDR"] = f"{object_name(spec, leader)}.{namespace_name(spec, conventions)}.svc"
    selector = {WORKLOAD_LABEL: spec.id, ROLE_LABEL: role_name(pod_set.name)}
    # Only a router that lists pods gets a token, of its own ServiceAccount (pod_reader).
    account = {"serviceAccountName": name, "automountServiceAccountToken": True} if discovers_pods(spec, pod_set) \
        else {"automountServiceAccountToken": False}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _metadata(spec, name, namespace_name(spec, conventions), pod_set),
        "spec": _with_volume(spec, {
            "replicas": pod_set.replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(spec, pod_set)},
                "spec": {
                    **account,
                    # Workers of a multi-node instance serve nothing themselves: no readiness probe.
                    "containers": [_container(spec, pod_set, conventions, rank, probe=leader is None,
                                              ports=[{"name": "http", "containerPort": SERVING_PORT}])],
                    **_placement(spec, pod_set, conventions),
                },
            },
        }),
    }


def service(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(spec, object_name(spec, pod_set), namespace_name(spec, conventions), pod_set),
        "spec": {
            "selector": {WORKLOAD_LABEL: spec.id, ROLE_LABEL: role_name(pod_set.name)},
            "ports": [{"name": "http", "port": SERVING_PORT, "targetPort": SERVING_PORT}] + (
                [{"name": "group", "port": LEADER_GROUP_PORT, "targetPort": LEADER_GROUP_PORT}]
                if pod_set.name.endswith("-leader") else []),
        },
    }


def autoscaler(spec: WorkloadSpec, pod_set: PodSetSpec, conventions: ClusterConventions) -> dict:
    """Scales the role's Deployment between its bounds on requests in flight per pod (without a
    target, on the HPA's default of 80 % CPU)."""
    name = object_name(spec, pod_set)
    hpa = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": pod_set.min_replicas,
        "maxReplicas": pod_set.max_replicas,
    }
    if pod_set.target_concurrency:
        hpa["metrics"] = [{"type": "Pods", "pods": {
            "metric": {"name": CONCURRENCY_METRIC},
            "target": {"type": "AverageValue", "averageValue": str(pod_set.target_concurrency)},
        }}]
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(spec, name, namespace_name(spec, conventions), pod_set), "spec": hpa}


def runtime_secret(spec: WorkloadSpec, conventions: ClusterConventions) -> dict:
    """The Secret its containers read their runtime secrets from."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": _metadata(spec, runtime_secret_name(spec.id), namespace_name(spec, conventions)),
            "stringData": dict(spec.secrets)}


def manifests(spec: WorkloadSpec, conventions: ClusterConventions) -> list[dict]:
    """Every object of the workload, in creation order (its Secret and Services before the pods
    that use them, autoscalers after the Deployments they scale)."""
    result = [runtime_secret(spec, conventions)] if spec.secrets else []
    if spec.volume is not None:
        result.insert(0, volume_claim(spec, conventions))
    if spec.serves:
        for pod_set in spec.pod_sets:
            if discovers_pods(spec, pod_set):
                result += pod_reader(spec, pod_set, conventions)
            result += [service(spec, pod_set, conventions), deployment(spec, pod_set, conventions)]
            if pod_set.max_replicas:
                result.append(autoscaler(spec, pod_set, conventions))
        return result
    if any(p.replicas > 1 for p in spec.pod_sets):
        result.append(headless_service(spec, conventions))
    return result + [job(spec, pod_set, conventions) for pod_set in spec.pod_sets]


def network_policy(spec: WorkloadSpec, conventions: ClusterConventions) -> dict:
    """The workspace namespace's isolation: its pods take traffic only from each other and from the
    platform's namespaces (the gateway), and send it only to each other, to namespaces of no
    workspace (the cluster's DNS, the platform's API) and outside the cluster."""
    outside = []
    for everything, version in (("0.0.0.0/0", 4), ("::/0", 6)):
        cluster = [cidr for cidr in conventions.cluster_cidrs if ip_network(cidr).version == version]
        outside.append({"ipBlock": {"cidr": everything, **({"except": cluster} if cluster else {})}})
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": NETWORK_POLICY_NAME, "namespace": namespace_name(spec, conventions),
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY, WORKSPACE_LABEL: spec.workspace_id}},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [
                {"podSelector": {}},
                {"namespaceSelector": {"matchLabels": dict(conventions.platform_namespace_labels)}},
            ]}],
            "egress": [{"to": [
                {"podSelector": {}},
                {"namespaceSelector": {"matchExpressions": [{"key": WORKSPACE_LABEL, "operator": "DoesNotExist"}]}},
                *outside,
            ]}],
        },
    }


def namespace(spec: WorkloadSpec, conventions: ClusterConventions) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": namespace_name(spec, conventions),
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, WORKSPACE_LABEL: spec.workspace_id},
    }}

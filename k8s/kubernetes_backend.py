"""KubernetesBackend on the official client (kubeconfig or in-cluster). One namespace per
workspace, created on demand with the NetworkPolicy that isolates it; objects from k8s.manifests;
lists are label-selected and read as raw JSON (building the client's model objects for thousands
of items costs seconds)."""

import json
import logging
import os
import threading
from collections import defaultdict
from datetime import datetime
from ipaddress import ip_network

import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from kubernetes import client, config, watch

from . import manifests
from .backend import (
    FAILED,
    GONE,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PENDING,
    ROLE_LABEL,
    RUNNING,
    SUCCEEDED,
    WORKLOAD_LABEL,
    BackendEvent,
    BackendUnavailable,
    ComputeBackend,
    Observation,
    SubmitError,
    UnknownReplica,
    WorkloadSpec,
    is_uuid,
)

logger = logging.getLogger(__name__)

INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # on a Service's EndpointSlices
OWNED = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
PULL_FAILURES = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
CONFIG_FAILURES = ("CreateContainerConfigError", "CreateContainerError")
WARNINGS = "type=Warning"
WATCH_RETRY_SECONDS = 5.0
# The objects whose pods read a workload's runtime Secret, and so own it.
OWNERS = ("Job", "Deployment")
# Warning events that container states and pod conditions already tell, in plainer words.
COVERED_BY_STATES = {"FailedScheduling", "BackOff", "Failed", "ErrImagePull", "ImagePullBackOff", "OOMKilling"}


def _api_client() -> client.ApiClient:
    configuration = client.Configuration()
    if not settings.KUBECONFIG and "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=configuration)
    else:
        config.load_kube_config(config_file=settings.KUBECONFIG or None, context=settings.K8S_CONTEXT or None,
                                client_configuration=configuration)
    return client.ApiClient(configuration)


def _message(exc: client.ApiException) -> str:
    try:
        return json.loads(exc.body)["message"]
    except (TypeError, ValueError, KeyError):
        return exc.reason or f"HTTP {exc.status}"


class KubernetesBackend(ComputeBackend):
    name = "kubernetes"

    def __init__(self, api_client: client.ApiClient | None = None):
        api_client = api_client or _api_client()
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.autoscaling = client.AutoscalingV2Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.rbac = client.RbacAuthorizationV1Api(api_client)
        self.discovery = client.DiscoveryV1Api(api_client)
        try:
            self.conventions = manifests.ClusterConventions(
                namespace_prefix=settings.K8S_NAMESPACE_PREFIX, pool_label=settings.K8S_POOL_LABEL,
                dedicated_taint=settings.K8S_DEDICATED_TAINT, gpu_resource=settings.K8S_GPU_RESOURCE,
                npu_resource=settings.K8S_NPU_RESOURCE,
                platform_namespace_labels=manifests.labels_from_text(settings.K8S_PLATFORM_NAMESPACE_LABELS),
                cluster_cidrs=tuple(str(ip_network(c.strip())) for c in settings.K8S_CLUSTER_CIDRS.split(",")
                                    if c.strip()),
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"K8S_PLATFORM_NAMESPACE_LABELS or K8S_CLUSTER_CIDRS: {exc}") from exc
        self.timeout = settings.K8S_REQUEST_TIMEOUT

    # --- calls -------------------------------------------------------------------------------

    def _call(self, method, *args, missing_ok=False, **kwargs):
        """One API call; outages become BackendUnavailable, 404 is None when `missing_ok`."""
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except client.ApiException as exc:
            if exc.status == 404 and missing_ok:
                return None
            if exc.status >= 500 or exc.status == 429:
                raise BackendUnavailable(f"Kubernetes answered {exc.status}: {_message(exc)}") from exc
            raise
        except urllib3.exceptions.HTTPError as exc:
            raise BackendUnavailable(f"Kubernetes API unreachable: {exc}") from exc

    def _list(self, method, *args, **selectors) -> list[dict]:
        try:
            response = self._call(method, *args, _preload_content=False, **selectors)
        except client.ApiException as exc:  # e.g. 403: the platform's account may not list these
            raise BackendUnavailable(f"Kubernetes refused to list: {exc.status} {_message(exc)}") from exc
        return json.loads(response.data)["items"]

    def _creator(self, kind: str):
        return {"Job": self.batch.create_namespaced_job, "Service": self.core.create_namespaced_service,
                "Secret": self.core.create_namespaced_secret,
                "PersistentVolumeClaim": self.core.create_namespaced_persistent_volume_claim,
                "Deployment": self.apps.create_namespaced_deployment,
                "HorizontalPodAutoscaler": self.autoscaling.create_namespaced_horizontal_pod_autoscaler,
                "ServiceAccount": self.core.create_namespaced_service_account, "Role": self.rbac.create_namespaced_role,
                "RoleBinding": self.rbac.create_namespaced_role_binding}[kind]

    def _deleter(self, kind: str):
        return {"Job": self.batch.delete_namespaced_job, "Service": self.core.delete_namespaced_service,
                "Secret": self.core.delete_namespaced_secret,
                "PersistentVolumeClaim": self.core.delete_namespaced_persistent_volume_claim,
                "Deployment": self.apps.delete_namespaced_deployment,
                "HorizontalPodAutoscaler": self.autoscaling.delete_namespaced_horizontal_pod_autoscaler,
                "ServiceAccount": self.core.delete_namespaced_service_account, "Role": self.rbac.delete_namespaced_role,
                "RoleBinding": self.rbac.delete_namespaced_role_binding}[kind]

    def _reader(self, kind: str):
        return {"Job": self.batch.read_namespaced_job, "Service": self.core.read_namespaced_service,
                "Secret": self.core.read_namespaced_secret,
                "PersistentVolumeClaim": self.core.read_namespaced_persistent_volume_claim,
                "Deployment": self.apps.read_namespaced_deployment,
                "HorizontalPodAutoscaler": self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
                "ServiceAccount": self.core.read_namespaced_service_account, "Role": self.rbac.read_namespaced_role,
                "RoleBinding": self.rbac.read_namespaced_role_binding}[kind]

    # --- submit / cancel ---------------------------------------------------------------------

    def submit(self, spec: WorkloadSpec) -> bool:
        namespace = manifests.namespace(spec, self.conventions)
        for pod_set in spec.pod_sets:
            manifests.secret_references(spec, pod_set)  # a bad reference is refused before anything is made
        created = False
        controllers = []  # what owns the runtime Secret: the Jobs and Deployments, as owner references
        try:
            try:
                self._call(self.core.create_namespace, namespace)
            except client.ApiException as exc:
                if exc.status != 409:  # the workspace's namespace exists already
                    raise
            self._isolate(namespace["metadata"]["name"], manifests.network_policy(spec, self.conventions))
            for obj in manifests.manifests(spec, self.conventions):
                meta = obj["metadata"]
                try:
                    response = self._call(self._creator(obj["kind"]), meta["namespace"], obj, _preload_content=False)
                    created = True
                except client.ApiException as exc:
                    if exc.status != 409:
                        raise
                    # Deterministic names: a retried submit meets its own object and adopts it.
                    response = self._call(self._reader(obj["kind"]), meta["name"], meta["namespace"],
                                          _preload_content=False)
                    found = json.loads(response.data)["metadata"].get("labels") or {}
                    owner = found.get(WORKLOAD_LABEL)
                    if obj["kind"] == "PersistentVolumeClaim":  # the volume outlives workloads: a later one mounts it
                        owner = spec.id if found.get(manifests.VOLUME_LABEL) == meta["name"] else None
                    if owner != spec.id:
                        raise SubmitError(f"{obj['kind']} {meta['namespace']}/{meta['name']} exists and belongs "
                                          "to something else; delete it or rename it.") from exc
                    if obj["kind"] == "Secret":
                        # Made afresh on each submit (tokens, short-lived credentials): the old values go.
                        self._call(self.core.replace_namespaced_secret, meta["name"], meta["namespace"], obj,
                                   _preload_content=False)
                if obj["kind"] in OWNERS:
                    controllers.append({"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
                                        "uid": json.loads(response.data)["metadata"]["uid"]})
            if spec.secrets:
                # Owned by what runs the workload, the Secret goes with it (Kubernetes' garbage collector).
                self._call(self.core.patch_namespaced_secret, manifests.runtime_secret_name(spec.id),
                           namespace["metadata"]["name"], {"metadata": {"ownerReferences": controllers}})
        except client.ApiException as exc:
            raise SubmitError(f"Kubernetes answered {exc.status}: {_message(exc)}") from exc
        return created

    def _isolate(self, namespace: str, policy: dict) -> None:
        """The namespace's NetworkPolicy, made or brought up to the settings of now."""
        try:
            self._call(self.networking.create_namespaced_network_policy, namespace, policy, _preload_content=False)
        except client.ApiException as exc:
            if exc.status != 409:
                raise
            self._call(self.networking.replace_namespaced_network_policy, policy["metadata"]["name"], namespace,
                       policy, _preload_content=False)

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        # Background propagation: the object goes at once, the garbage collector removes its pods.
        self._call(self._deleter(kind), name, namespace, propagation_policy="Background", missing_ok=True)

    def cancel(self, spec: WorkloadSpec) -> None:
        for obj in reversed(manifests.manifests(spec, self.conventions)):
            if obj["kind"] == "PersistentVolumeClaim":
                continue  # kept for the next run; delete_volume removes it
            self._delete(obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
        # Its runtime Secret (a spec built to cancel carries no secret values, so it is not listed).
        self._delete("Secret", manifests.namespace_name(spec, self.conventions), manifests.runtime_secret_name(spec.id))

    def delete_volume(self, *, workspace_id: str, name: str) -> None:
        self._delete("PersistentVolumeClaim", f"{self.conventions.namespace_prefix}{workspace_id}", name)

    def remove(self, observation: Observation) -> None:
        for kind, namespace, name in observation.objects:
            self._delete(kind, namespace, name)
            if kind == "Deployment":  # its autoscaler and a router's account bear its name (not listed: fewer calls)
                for companion in ("HorizontalPodAutoscaler", "RoleBinding", "Role", "ServiceAccount"):
                    self._delete(companion, namespace, name)
        if is_uuid(observation.workload_id):  # objects labelled with no workload have no Secret of theirs
            for namespace in {namespace for _, namespace, _ in observation.objects}:
                self._delete("Secret", namespace, manifests.runtime_secret_name(observation.workload_id))

    # --- status ------------------------------------------------------------------------------

    def endpoints(self, spec: WorkloadSpec, role: str) -> list[str]:
        """Each ready pod of the role, from its Service's EndpointSlices (the gateway balances over
        pods itself); the Service's own name where the slices cannot be read."""
        namespace = manifests.namespace_name(spec, self.conventions)
        urls = []
        for pod_set in (p for p in spec.pod_sets if p.name == role):
            name = manifests.object_name(spec, pod_set)
            try:
                slices = self._list(self.discovery.list_namespaced_endpoint_slice, namespace,
                                    label_selector=f"{SERVICE_NAME_LABEL}={name}")
            except BackendUnavailable:
                logger.warning("EndpointSlices of %s/%s cannot be read; its Service takes the requests.", namespace,
                               name)
                urls.append(f"http://{name}.{namespace}.svc:{manifests.SERVING_PORT}")
                continue
            urls += sorted({f"http://{_bracket(address)}:{manifests.SERVING_PORT}" for item in slices
                            for endpoint in item.get("endpoints") or ()
                            if (endpoint.get("conditions") or {}).get("ready", True) is not False
                            for address in endpoint.get("addresses") or ()})
        return urls

    def list_owned(self) -> dict[str, Observation]:
        """Four label-selected lists and one of warning events, whatever the number of workloads."""
        return self._observe(
            jobs=self._list(self.batch.list_job_for_all_namespaces, label_selector=OWNED),
            deployments=self._list(self.apps.list_deployment_for_all_namespaces, label_selector=OWNED),
            services=self._list(self.core.list_service_for_all_namespaces, label_selector=OWNED),
            pods=self._list(self.core.list_pod_for_all_namespaces, label_selector=OWNED),
            # Events carry no labels of ours; warnings are few, and matched to our objects below.
            warnings=self._list(self.core.list_event_for_all_namespaces, field_selector=WARNINGS),
        )

    def status(self, spec: WorkloadSpec) -> Observation | None:
        namespace = manifests.namespace_name(spec, self.conventions)
        selector = f"{WORKLOAD_LABEL}={spec.id}"
        observed = self._observe(
            jobs=self._list(self.batch.list_namespaced_job, namespace, label_selector=selector),
            deployments=self._list(self.apps.list_namespaced_deployment, namespace, label_selector=selector),
            services=self._list(self.core.list_namespaced_service, namespace, label_selector=selector),
            pods=self._list(self.core.list_namespaced_pod, namespace, label_selector=selector),
            warnings=self._list(self.core.list_namespaced_event, namespace, field_selector=WARNINGS),
        )
        return observed.get(spec.id)

    def _observe(self, *, jobs, deployments, services, pods, warnings) -> dict[str, Observation]:
        grouped = defaultdict(lambda: defaultdict(list))
        subjects = {}  # (kind, namespace, name) -> (workload id, how to name it)
        for kind, items in (("Job", jobs), ("Deployment", deployments), ("Service", services), ("Pod", pods)):
            for item in items:
                meta = item["metadata"]
                workload_id = (meta.get("labels") or {}).get(WORKLOAD_LABEL, "")
                grouped[workload_id][kind].append(item)
                subject = f"Replica {_replica(item)}" if kind == "Pod" else f"{kind} {meta['name']}"
                subjects[kind, meta.get("namespace", ""), meta["name"]] = (workload_id, subject)
        cluster_events = defaultdict(list)
        for event in warnings:
            involved = event.get("involvedObject") or {}
            found = subjects.get((involved.get("kind"), involved.get("namespace", ""), involved.get("name")))
            if found and event.get("reason") not in COVERED_BY_STATES:
                cluster_events[found[0]].append(BackendEvent(
                    event.get("reason") or "Warning", f"{found[1]}: {(event.get('message') or '').strip()}"))
        result = {}
        for workload_id, objects in grouped.items():
            observation = Observation(
                workload_id=workload_id,
                objects=[(kind, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                         for kind in ("Job", "Deployment", "Service") for o in objects[kind]],
                replicas=sorted({_replica(p) for p in objects["Pod"]}),
            )
            _judge(observation, objects["Job"], objects["Deployment"], objects["Pod"])
            observation.events += cluster_events[workload_id]
            result[workload_id] = observation
        return result

    def watch(self, on_change, *, stop) -> None:
        for method in (self.batch.list_job_for_all_namespaces, self.apps.list_deployment_for_all_namespaces,
                       self.core.list_pod_for_all_namespaces):
            threading.Thread(target=self._watch_until, args=(method, on_change, stop), daemon=True,
                             name=f"watch-{method.__name__}").start()

    def _watch_until(self, method, on_change, stop) -> None:
        while not stop.is_set():
            try:
                # Raw events: only the fact of a change matters, the pass reads the state.
                for _ in watch.Watch().stream(method, label_selector=OWNED, timeout_seconds=300, deserialize=False):
                    if stop.is_set():
                        return
                    on_change()
            except (client.ApiException, urllib3.exceptions.HTTPError, ValueError) as exc:
                if not stop.is_set():
                    logger.warning("Watching %s failed (%s); reconnecting.", method.__name__, exc)
                stop.wait(WATCH_RETRY_SECONDS)

    # --- logs --------------------------------------------------------------------------------

    def _pods_by_replica(self, spec: WorkloadSpec) -> dict[str, str]:
        namespace = manifests.namespace_name(spec, self.conventions)
        pods = self._list(self.core.list_namespaced_pod, namespace, label_selector=f"{WORKLOAD_LABEL}={spec.id}")
        newest = {}
        for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or ""):
            newest[_replica(pod)] = pod["metadata"]["name"]  # a retried replica's newest pod wins
        return newest

    def replicas(self, spec: WorkloadSpec) -> list[str]:
        return sorted(self._pods_by_replica(spec))

    def logs(self, spec: WorkloadSpec, *, replica: str | None = None, tail: int | None = None,
             follow: bool = False):
        namespace = manifests.namespace_name(spec, self.conventions)
        newest = self._pods_by_replica(spec)
        replicas = sorted(newest)
        replica = replica or (replicas[0] if replicas else None)
        if replica not in newest:
            raise UnknownReplica(replicas)
        return self._read_log(newest[replica], namespace, tail, follow)

    def _read_log(self, pod: str, namespace: str, tail: int | None, follow: bool):
        try:
            response = self._call(self.core.read_namespaced_pod_log, pod, namespace, tail_lines=tail,
                                  follow=follow, _preload_content=False, missing_ok=True)
        except client.ApiException as exc:
            if exc.status == 400:  # its container has not started yet: no logs so far
                return
            raise BackendUnavailable(f"Kubernetes refused the logs: {exc.status} {_message(exc)}") from exc
        if response is None:
            return
        if not follow:
            lines = response.data.decode(errors="replace").splitlines(keepends=True)
            yield from lines[-tail:] if tail else lines
            return
        pending = b""
        for chunk in response.stream(1024):
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                yield line.decode(errors="replace") + "\n"
        if pending:
            yield pending.decode(errors="replace")

    # --- nodes -------------------------------------------------------------------------------

    def place_node(self, *, node_name: str, pool_name: str, dedicated: bool) -> None:
        node = self._call(self.core.read_node, node_name, missing_ok=True, _preload_content=False)
        if node is None:
            logger.warning("Node %s is not in the cluster; it is labelled when it joins a pool again.", node_name)
            return
        taints = [t for t in (json.loads(node.data).get("spec") or {}).get("taints") or []
                  if t.get("key") != self.conventions.dedicated_taint]
        if dedicated:
            # Only the pool's own workloads tolerate this taint.
            taints.append({"key": self.conventions.dedicated_taint, "value": pool_name, "effect": "NoSchedule"})
        self._call(self.core.patch_node, node_name, {
            "metadata": {"labels": {self.conventions.pool_label: pool_name}}, "spec": {"taints": taints},
        })

    def release_node(self, *, node_name: str) -> None:
        node = self._call(self.core.read_node, node_name, missing_ok=True, _preload_content=False)
        if node is None:
            return
        taints = [t for t in (json.loads(node.data).get("spec") or {}).get("taints") or []
                  if t.get("key") != self.conventions.dedicated_taint]
        self._call(self.core.patch_node, node_name, {
            "metadata": {"labels": {self.conventions.pool_label: None}}, "spec": {"taints": taints},
        })


# --- reading what the cluster says ---------------------------------------------------------------


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _replica(pod: dict) -> str:
    meta = pod["metadata"]
    labels = meta.get("labels") or {}
    index = labels.get(INDEX_LABEL) or (meta.get("annotations") or {}).get(INDEX_LABEL)
    if index is not None and ROLE_LABEL in labels:
        return f"{labels[ROLE_LABEL]}-{index}"
    return meta["name"]


def _condition(obj: dict, kind: str) -> dict | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def _judge(observation: Observation, jobs: list, deployments: list, pods: list) -> None:
    """Job conditions, Deployment replica counts and pod phases → the workload's state, with
    container troubles as events in plain words."""
    observation.events = _pod_events(pods)
    _observe_times(observation, jobs)
    failed = [c for job in jobs if (c := _condition(job, "Failed"))]
    if failed:
        observation.state = FAILED
        observation.reason, observation.message = _failure(failed[0], jobs, observation.events)
    elif jobs and all(_condition(job, "Complete") for job in jobs):
        observation.state = SUCCEEDED
    elif deployments:
        for d in deployments:
            available = (d.get("status") or {}).get("availableReplicas", 0)
            wanted = (d.get("spec") or {}).get("replicas", 1)
            if available < wanted:
                role = ((d.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL, d["metadata"]["name"])
                observation.unready.append(f"{role}: {available} of {wanted} instances ready")
        observation.state = PENDING if observation.unready else RUNNING
    elif jobs:
        wanted = sum((job.get("spec") or {}).get("parallelism", 1) for job in jobs)
        started = {_replica(p) for p in pods if (p.get("status") or {}).get("phase") in ("Running", "Succeeded")}
        observation.state = RUNNING if len(started) >= wanted else PENDING
    else:
        observation.state = GONE


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _observe_times(observation: Observation, jobs: list) -> None:
    """A run-to-completion workload's start (its Jobs' startTime) and, once every Job has ended,
    its end (completionTime, or when the Failed condition was set)."""
    starts = [t for job in jobs if (t := _time((job.get("status") or {}).get("startTime")))]
    ends = [_time((job.get("status") or {}).get("completionTime")
                  or (_condition(job, "Failed") or {}).get("lastTransitionTime")) for job in jobs]
    observation.started_at = min(starts, default=None)
    if ends and all(ends):
        observation.finished_at = max(ends)


def _failure(condition: dict, jobs: list, events: list[BackendEvent]) -> tuple[str, str]:
    reason = condition.get("reason") or "Failed"
    if reason == "DeadlineExceeded":
        seconds = next(((j.get("spec") or {}).get("activeDeadlineSeconds") for j in jobs), None)
        return "DeadlineExceeded", f"It ran longer than its max runtime of {seconds} s and was stopped."
    for wanted in ("OOMKilled", "ReplicaExited", "ImagePullBackOff", "ContainerConfigError"):
        for event in events:
            if event.reason == wanted:
                return ("OOMKilled" if wanted == "OOMKilled" else "ReplicaFailed"), event.message
    detail = condition.get("message") or "a replica failed"
    return "ReplicaFailed", f"Kubernetes reports the job failed ({reason}): {detail}."


def _pod_events(pods: list) -> list[BackendEvent]:
    events = []
    for pod in sorted(pods, key=_replica):
        replica = _replica(pod)
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
                events.append(BackendEvent("Unschedulable", f"Replica {replica} cannot be placed on any node: "
                                                            f"{condition.get('message') or 'no node fits'}."))
        for container in status.get("containerStatuses") or []:
            events += _container_events(replica, container)
    return events


def _container_events(replica: str, container: dict) -> list[BackendEvent]:
    state = container.get("state") or {}
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated") or (container.get("lastState") or {}).get("terminated") or {}
    events = []
    if waiting.get("reason") in PULL_FAILURES:
        events.append(BackendEvent("ImagePullBackOff", f"Replica {replica} cannot pull its image "
                                                       f"{container.get('image', '')}; check the name and "
                                                       "the registry's credentials."))
    elif waiting.get("reason") in CONFIG_FAILURES:
        events.append(BackendEvent("ContainerConfigError", f"Replica {replica} cannot start: "
                                                           f"{waiting.get('message') or waiting['reason']}."))
    elif waiting.get("reason") == "CrashLoopBackOff":
        events.append(BackendEvent("CrashLoopBackOff", f"Replica {replica} keeps crashing and being restarted; "
                                                       "see its logs."))
    if terminated.get("reason") == "OOMKilled":
        events.append(BackendEvent("OOMKilled", f"Replica {replica} ran out of memory and was killed (OOMKilled); "
                                                "ask for more memory or use less."))
    elif terminated.get("exitCode"):
        events.append(BackendEvent("ReplicaExited", f"Replica {replica} exited with code "
                                                    f"{terminated['exitCode']}."))
    return events

"""The compute backend interface: what the platform asks of whatever runs its workloads.

The rest of the platform talks to `get_compute_backend()` only; the concrete backends live in
their own modules and are chosen by the COMPUTE_BACKEND setting."""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import import_module

from django.conf import settings

from aiplatform.storage import StorageBinding

# Labels on every object the platform creates; the reconciler lists by the first one.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "aiplatform"
WORKLOAD_LABEL = "aiplatform.io/workload-id"
WORKSPACE_LABEL = "aiplatform.io/workspace-id"
ROLE_LABEL = "aiplatform.io/role"
KIND_LABEL = "aiplatform.io/workload-kind"

# Observed states, in the platform's words.
PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED = "pending", "running", "succeeded", "failed", "stopped"
# Only leftovers remain (e.g. a Service): whatever ran the workload is missing.
GONE = "gone"
# States in which the backend still spends resources on the workload.
LIVE_STATES = (PENDING, RUNNING)


@dataclass(frozen=True)
class PodSetSpec:
    name: str
    replicas: int
    vcpus: int
    memory_gib: int
    accelerators: int
    accelerator_kind: str  # resourcepools.models.AcceleratorKind value
    # This role's own command and extra environment (e.g. prefill, decode, router); empty: the
    # workload's.
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    # Autoscaling bounds of a serving role; None: a fixed replica count.
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_concurrency: int | None = None


@dataclass(frozen=True)
class VolumeSpec:
    """A persistent volume of the workspace that outlives the workload (a notebook's storage):
    its replicas' working folder. On Kubernetes a PersistentVolumeClaim, locally a folder."""

    name: str
    size_gib: int


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything a backend needs to run a workload; built from the database by services."""

    id: str
    workspace_id: str
    name: str
    kind: str
    pool_name: str
    dedicated_pool: bool
    image: str
    command: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    max_runtime_seconds: int | None
    pod_sets: tuple[PodSetSpec, ...]
    # Every storage location its replicas may reach (aiplatform.storage.workload_bindings).
    storage: tuple[StorageBinding, ...] = ()
    # Values only its replicas may read (job tokens, credentials), by env name: filled at submit
    # by k8s.runtime_secrets, never stored or shown.
    secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # Its persistent working folder (k8s.volumes), or None.
    volume: VolumeSpec | None = None

    @property
    def serves(self) -> bool:
        """Inference, visualization (TensorBoard) and notebooks (JupyterLab) serve until stopped;
        everything else runs to completion."""
        return self.kind in ("inference", "visualization", "notebook")

    def command_for(self, pod_set: PodSetSpec) -> tuple[str, ...]:
        return pod_set.command or self.command

    def env_for(self, pod_set: PodSetSpec) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({**dict(self.env), **dict(pod_set.env)}.items()))


@dataclass(frozen=True)
class BackendEvent:
    reason: str
    message: str


@dataclass
class Observation:
    """What a backend sees of one workload: its state, a reason in plain words when it ended
    badly, noteworthy events, the replicas whose logs can be read and the objects it owns."""

    workload_id: str
    state: str = PENDING
    reason: str = ""
    message: str = ""
    events: list[BackendEvent] = field(default_factory=list)
    replicas: list[str] = field(default_factory=list)
    objects: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, namespace, name)
    # Serving roles short of ready instances, in words ("decode: 1 of 2 instances ready").
    unready: list[str] = field(default_factory=list)
    # When the backend saw its replicas start and, once it ended, finish (UTC; None: not seen).
    # They bound what it is billed for, whenever the reconciler happens to pass.
    started_at: datetime | None = None
    finished_at: datetime | None = None


class SubmitError(Exception):
    """The backend refused the workload itself (not a passing outage): it fails the workload."""


class BackendUnavailable(Exception):
    """A passing outage (connection refused, 5xx): the operation is retried later."""


class UnknownReplica(Exception):
    def __init__(self, replicas):
        super().__init__(f"Unknown replica; choose one of: {', '.join(replicas) or 'none yet'}.")
        self.replicas = replicas


class ComputeBackend(ABC):
    name: str

    @abstractmethod
    def submit(self, spec: WorkloadSpec) -> bool:
        """Start the workload; idempotent. True when this call created it, False when it
        found its own objects already there."""

    @abstractmethod
    def cancel(self, spec: WorkloadSpec) -> None:
        """Stop the workload and delete what it owns; idempotent."""

    @abstractmethod
    def status(self, spec: WorkloadSpec) -> Observation | None:
        """The workload's observation, or None when the backend has nothing of it."""

    def events(self, spec: WorkloadSpec) -> list[BackendEvent]:
        observation = self.status(spec)
        return observation.events if observation else []

    @abstractmethod
    def replicas(self, spec: WorkloadSpec) -> list[str]:
        """The names of the workload's replicas whose logs can be read (e.g. worker-0)."""

    @abstractmethod
    def logs(self, spec: WorkloadSpec, *, replica: str | None = None, tail: int | None = None,
             follow: bool = False) -> Iterator[str]:
        """Log lines of one replica (the first when not named): the last `tail` lines, then,
        with `follow`, new lines as they come until the replica ends."""

    @abstractmethod
    def endpoints(self, spec: WorkloadSpec, role: str) -> list[str]:
        """Base URLs (http://host:port) where the role's serving replicas answer."""

    @abstractmethod
    def list_owned(self) -> dict[str, Observation]:
        """Everything the platform owns in the backend, by workload id (for the reconciler),
        read with a fixed number of requests."""

    @abstractmethod
    def remove(self, observation: Observation) -> None:
        """Delete the objects of an observation (orphans whose workload ended or is gone)."""

    @abstractmethod
    def watch(self, on_change, *, stop) -> None:
        """Call `on_change()` (from background threads) whenever something the platform owns
        changes, until the `stop` event is set, for lower latency than the periodic pass;
        backends without change notifications do nothing and leave it to the periodic pass."""

    @abstractmethod
    def delete_volume(self, *, workspace_id: str, name: str) -> None:
        """Delete a persistent volume and what it holds; idempotent."""

    @abstractmethod
    def place_node(self, *, node_name: str, pool_name: str, dedicated: bool) -> None:
        """Mark a node as part of a pool (label, and taint when the pool is dedicated)."""

    @abstractmethod
    def release_node(self, *, node_name: str) -> None:
        """Undo `place_node` when the node leaves its pool."""


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


BACKENDS = {
    "local": "k8s.local_backend.LocalBackend",
    "kubernetes": "k8s.kubernetes_backend.KubernetesBackend",
}


@lru_cache(maxsize=4)
def _backend(name: str) -> ComputeBackend:
    if name not in BACKENDS:
        raise ValueError(f"COMPUTE_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}.")
    module, cls = BACKENDS[name].rsplit(".", 1)
    return getattr(import_module(module), cls)()


def get_compute_backend() -> ComputeBackend:
    """The configured backend, one per process (it keeps its API client or state directory)."""
    return _backend(settings.COMPUTE_BACKEND)


def clear_backend_cache() -> None:
    """Forget the backends built so far (after a settings change: tests, management commands)."""
    _backend.cache_clear()

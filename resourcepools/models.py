"""Flavors, resource pools, nodes, quotas and workloads: what the scheduler decides over."""

import re
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from aiplatform.models import Account, Workspace


class AcceleratorKind(models.TextChoices):
    NONE = "none", "None"
    NVIDIA_GPU = "nvidia_gpu", "NVIDIA GPU"
    ASCEND_NPU = "ascend_npu", "Ascend NPU"


class Flavor(models.Model):
    """A node shape: what one node of a pool offers."""

    name = models.CharField(
        max_length=64, unique=True, help_text="e.g. cpu.8u32g, gpu.a100.1, npu.910b.8",
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9.-]*$", "Use lower-case letters, digits, dots and hyphens.")],
    )
    family = models.CharField(
        max_length=64, blank=True, help_text="Flavors priced and packaged together; defaults to the name without its "
        "last segment (npu.910b.8 → npu.910b)."
    )
    vcpus = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    memory_gib = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    accelerator_kind = models.CharField(max_length=20, choices=AcceleratorKind.choices, default=AcceleratorKind.NONE)
    accelerator_model = models.CharField(max_length=64, blank=True, default="")
    accelerators = models.PositiveIntegerField(default=0, help_text="Accelerator cards per node.")
    accelerator_memory_gib = models.PositiveIntegerField(default=0, help_text="Memory of one card.")
    is_active = models.BooleanField(default=True, help_text="Retired flavors take no new work.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if not self.family:
            self.family = self.name.rsplit(".", 1)[0] if "." in self.name else self.name
        has_cards = self.accelerator_kind != AcceleratorKind.NONE
        if has_cards and self.accelerators < 1:
            raise ValidationError({"accelerators": "A flavor with accelerators needs at least one card per node."})
        if has_cards and self.accelerator_memory_gib < 1:
            raise ValidationError({"accelerator_memory_gib": "Give the memory of one card in GiB."})
        if not has_cards and self.accelerators:
            raise ValidationError({"accelerators": "Set accelerator_kind, or leave accelerators at 0."})


class PoolKind(models.TextChoices):
    PUBLIC = "public", "Public"
    DEDICATED = "dedicated", "Dedicated"


class PoolStatus(models.TextChoices):
    CREATING = "creating"
    RUNNING = "running"
    SCALING = "scaling"
    ABNORMAL = "abnormal"
    FROZEN = "frozen"
    DELETING = "deleting"


# Pools in these states admit new work.
ADMITTING_POOL_STATUSES = (PoolStatus.RUNNING, PoolStatus.SCALING)


class ResourcePool(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Unique among public pools, and per account among dedicated ones; never equal across the two
    # kinds, so that every caller's view (public pools and its own) names each pool once.
    name = models.SlugField(max_length=63)
    placement_label = models.CharField(
        max_length=63, unique=True, editable=False,
        help_text="The value of the node label (and dedicated taint) that places work: the name of a public pool, "
                  "the name and a unique suffix of a dedicated one; never changes.",
    )
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=20, choices=PoolKind.choices)
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="dedicated_pools",
        help_text="The owner of a dedicated pool; empty for public pools.",
    )
    region = models.CharField(max_length=64, default="local")
    availability_zone = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=20, choices=PoolStatus.choices, default=PoolStatus.RUNNING)
    status_message = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="public", account__isnull=True) | models.Q(kind="dedicated", account__isnull=False)
                ),
                name="pool_dedicated_has_account",
            ),
            models.UniqueConstraint(fields=["name"], condition=models.Q(kind="public"),
                                    name="pool_public_name_unique",
                                    violation_error_message="A public pool with this name exists already."),
            models.UniqueConstraint(fields=["account", "name"], condition=models.Q(kind="dedicated"),
                                    name="pool_dedicated_name_unique_per_account",
                                    violation_error_message="This account has a dedicated pool with this name "
                                                            "already."),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.placement_label:
            self.placement_label = self.derive_placement_label()
        super().save(*args, **kwargs)

    def derive_placement_label(self) -> str:
        """Dedicated pools' names repeat across accounts, so their label carries part of the
        pool's id; a label is a Kubernetes label value (at most 63 characters)."""
        if self.kind == PoolKind.PUBLIC:
            return self.name
        stem = re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-")[:50].rstrip("-") or "pool"
        return f"{stem}-{self.pk.hex[:12]}"

    def clean(self):
        if self.kind == PoolKind.DEDICATED and self.account_id is None:
            raise ValidationError({"account": "A dedicated pool belongs to an account; name it."})
        if self.kind == PoolKind.PUBLIC and self.account_id is not None:
            raise ValidationError({"account": "Public pools belong to no account; leave it empty."})


class NodeHealth(models.TextChoices):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class Node(models.Model):
    pool = models.ForeignKey(ResourcePool, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=253, unique=True, help_text="The Kubernetes node name.")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="nodes")
    schedulable = models.BooleanField(default=True, help_text="False when cordoned: no new work is placed here.")
    health = models.CharField(max_length=20, choices=NodeHealth.choices, default=NodeHealth.HEALTHY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


# The resources a queue shares in its cohort, each with a nominal share, a borrowing and a lending limit.
SHARED_RESOURCES = ("accelerators", "vcpus", "memory_gib")


class PreemptionPolicy(models.TextChoices):
    """Which of its own queue's admitted work a queued workload may preempt."""

    NEVER = "never", "Never"
    LOWER_PRIORITY = "lower_priority", "Lower priority"
    LOWER_OR_NEWER_EQUAL_PRIORITY = "lower_or_newer_equal_priority", "Lower, or equal priority queued later"


class Quota(models.Model):
    """A workspace's queue in one pool. `max_*` are its nominal (guaranteed) share; an absent
    (null) share is no limit. The queues of a pool form its cohort: a queue may use idle capacity
    of the cohort up to `borrowing_limit_*` above its nominal share, and lends at most
    `lending_limit_*` of its unused nominal share to others (null: all of it)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="quotas")
    pool = models.ForeignKey(ResourcePool, on_delete=models.CASCADE, related_name="quotas")
    max_accelerators = models.PositiveIntegerField(null=True, blank=True, help_text="Nominal share of accelerators.")
    max_vcpus = models.PositiveIntegerField(null=True, blank=True, help_text="Nominal share of vCPUs.")
    max_memory_gib = models.PositiveIntegerField(null=True, blank=True, help_text="Nominal share of memory (GiB).")
    max_workloads = models.PositiveIntegerField(null=True, blank=True, help_text="Concurrently admitted workloads.")
    borrowing_limit_accelerators = models.PositiveIntegerField(null=True, blank=True, default=0)
    borrowing_limit_vcpus = models.PositiveIntegerField(null=True, blank=True, default=0)
    borrowing_limit_memory_gib = models.PositiveIntegerField(null=True, blank=True, default=0)
    lending_limit_accelerators = models.PositiveIntegerField(null=True, blank=True)
    lending_limit_vcpus = models.PositiveIntegerField(null=True, blank=True)
    lending_limit_memory_gib = models.PositiveIntegerField(null=True, blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"),
                                 validators=[MinValueValidator(Decimal("0.01"))],
                                 help_text="Share of idle capacity among borrowing queues (higher gets more).")
    preemption_policy = models.CharField(
        max_length=40, choices=PreemptionPolicy.choices, default=PreemptionPolicy.NEVER,
        help_text="Which of this queue's own admitted work its queued work may preempt.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "pool"], name="quota_unique_per_pool")]

    def __str__(self):
        return f"{self.workspace} in {self.pool}"

    def clean(self):
        check_share_limits(self)


def check_share_limits(share) -> None:
    """A borrowing or lending limit needs a nominal share, and a queue lends at most its share."""
    errors = {}
    for resource in SHARED_RESOURCES:
        nominal = getattr(share, f"max_{resource}")
        borrowing = getattr(share, f"borrowing_limit_{resource}")
        lending = getattr(share, f"lending_limit_{resource}")
        if nominal is None and borrowing != 0:
            errors[f"borrowing_limit_{resource}"] = (
                f"max_{resource} is unlimited, so there is nothing to borrow above it; set max_{resource} or "
                "leave the borrowing limit at 0.")
        if lending is not None and nominal is None:
            errors[f"lending_limit_{resource}"] = (
                f"max_{resource} is unlimited, so there is no nominal share to lend; set max_{resource} or "
                "leave the lending limit empty.")
        elif lending is not None and lending > nominal:
            errors[f"lending_limit_{resource}"] = (
                f"A queue lends at most its nominal share ({nominal}); set at most {nominal}.")
    if errors:
        raise ValidationError(errors)


class QuotaFlavor(models.Model):
    """A queue's share of one flavor's nodes, where its pool has several flavors: nominal,
    borrowing and lending limits as on the queue, counted on that flavor's nodes only. Both apply:
    the queue's own over the whole pool, these per flavor."""

    quota = models.ForeignKey(Quota, on_delete=models.CASCADE, related_name="flavor_shares")
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    max_accelerators = models.PositiveIntegerField(null=True, blank=True)
    max_vcpus = models.PositiveIntegerField(null=True, blank=True)
    max_memory_gib = models.PositiveIntegerField(null=True, blank=True)
    borrowing_limit_accelerators = models.PositiveIntegerField(null=True, blank=True, default=0)
    borrowing_limit_vcpus = models.PositiveIntegerField(null=True, blank=True, default=0)
    borrowing_limit_memory_gib = models.PositiveIntegerField(null=True, blank=True, default=0)
    lending_limit_accelerators = models.PositiveIntegerField(null=True, blank=True)
    lending_limit_vcpus = models.PositiveIntegerField(null=True, blank=True)
    lending_limit_memory_gib = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["quota", "flavor"], name="quota_flavor_unique")]

    def __str__(self):
        return f"{self.quota} on {self.flavor}"

    def clean(self):
        check_share_limits(self)


class Phase(models.TextChoices):
    PENDING = "pending"
    QUEUED = "queued"
    ADMITTED = "admitted"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


TERMINAL_PHASES = (Phase.SUCCEEDED, Phase.FAILED, Phase.STOPPED)

# The lifecycle (DESIGN.md §3). A finished workload never changes again.
TRANSITIONS = {
    Phase.PENDING: {Phase.QUEUED, Phase.STOPPED, Phase.FAILED},
    Phase.QUEUED: {Phase.ADMITTED, Phase.STOPPED, Phase.FAILED},
    Phase.ADMITTED: {Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED, Phase.STOPPING, Phase.STOPPED},
    Phase.RUNNING: {Phase.SUCCEEDED, Phase.FAILED, Phase.STOPPING},
    # A preempted workload goes back to the queue once its backend objects are gone.
    Phase.STOPPING: {Phase.STOPPED, Phase.SUCCEEDED, Phase.FAILED, Phase.QUEUED},
    Phase.SUCCEEDED: set(),
    Phase.FAILED: set(),
    Phase.STOPPED: set(),
}


class WorkloadKind(models.TextChoices):
    TRAINING = "training"
    INFERENCE = "inference"
    BENCHMARK = "benchmark"
    VISUALIZATION = "visualization"
    NOTEBOOK = "notebook"
    CUSTOM = "custom"


class Workload(models.Model):
    """Anything that consumes pool capacity. Its phase is the single source of truth."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="workloads")
    pool = models.ForeignKey(ResourcePool, on_delete=models.PROTECT, related_name="workloads")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=WorkloadKind.choices, default=WorkloadKind.CUSTOM)
    priority = models.IntegerField(default=0, help_text="Higher goes first; FIFO within a priority.")
    image = models.CharField(max_length=500, blank=True, default="")
    command = models.JSONField(default=list, blank=True)
    env = models.JSONField(default=dict, blank=True)
    max_runtime_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Database defaults too: rows inserted by code that predates a column (older migrations' models) stay valid.
    preemptible = models.BooleanField(default=True, db_default=True, help_text="False: admission never preempts it.")
    phase = models.CharField(max_length=20, choices=Phase.choices, default=Phase.PENDING)
    reason = models.CharField(max_length=100, blank=True, default="")
    message = models.TextField(blank=True, default="")
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    # Admission's hold of capacity for this queued workload (resourcepools.admission).
    holding_since = models.DateTimeField(null=True, blank=True,
                                         help_text="Since when it holds its flavors' nodes, blocked for capacity.")
    hold_paused_until = models.DateTimeField(null=True, blank=True,
                                             help_text="It held for the longest allowed; it holds again after this.")
    evictions = models.PositiveIntegerField(default=0, db_default=0,
                                            help_text="Times it was admitted but did not start in time.")
    not_before = models.DateTimeField(null=True, blank=True,
                                      help_text="Evicted: it is not admitted again before this (backoff).")
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["pool", "-priority", "queued_at", "id"],
                condition=models.Q(phase="queued"),
                name="workload_queue_order",
            ),
            models.Index(fields=["workspace", "phase"], name="workload_workspace_phase"),
        ]

    def __str__(self):
        return f"{self.name} ({self.phase})"

    @property
    def is_finished(self):
        return self.phase in TERMINAL_PHASES


class PodSet(models.Model):
    """A role of a workload: replicas of one flavor, each asking for the same resources."""

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="pod_sets")
    name = models.SlugField(max_length=63, help_text="The role, e.g. worker, prefill, decode.")
    replicas = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    vcpus = models.PositiveIntegerField()
    memory_gib = models.PositiveIntegerField()
    accelerators = models.PositiveIntegerField(default=0)
    command = models.JSONField(default=list, blank=True, help_text="This role's command, when it differs from the "
                               "workload's (e.g. prefill and decode servers, their router).")
    env = models.JSONField(default=dict, blank=True, help_text="Extra environment for this role.")
    # Autoscaling bounds of a serving role (a HorizontalPodAutoscaler on Kubernetes); none: fixed replicas.
    min_replicas = models.PositiveIntegerField(null=True, blank=True)
    max_replicas = models.PositiveIntegerField(null=True, blank=True)
    target_concurrency = models.PositiveIntegerField(null=True, blank=True,
                                                     help_text="Concurrent requests per replica to scale at.")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["workload", "name"], name="podset_unique_role")]

    def __str__(self):
        return f"{self.name} × {self.replicas} ({self.flavor_id})"

    @property
    def flavors(self) -> list:
        """Its flavors in order of preference, where it names several (PodSetFlavor)."""
        return [option.flavor for option in self.flavor_options.all()]


class PodSetFlavor(models.Model):
    """Where a pod set names several flavors: one of them, in order of preference (rank 0 is its
    first choice), with what a replica asks for on that flavor. Admission takes the first that
    fits, and the pod set's own flavor and amounts become that one's."""

    pod_set = models.ForeignKey(PodSet, on_delete=models.CASCADE, related_name="flavor_options")
    rank = models.PositiveSmallIntegerField()
    flavor = models.ForeignKey(Flavor, on_delete=models.PROTECT, related_name="+")
    vcpus = models.PositiveIntegerField()
    memory_gib = models.PositiveIntegerField()
    accelerators = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pod_set", "rank"]
        constraints = [models.UniqueConstraint(fields=["pod_set", "rank"], name="podset_flavor_unique_rank")]

    def __str__(self):
        return f"{self.pod_set_id} #{self.rank}: {self.flavor_id}"


class Allocation(models.Model):
    """One replica of an admitted workload placed on one node. Deleted when the workload ends,
    which frees the capacity at once."""

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="allocations")
    pod_set = models.ForeignKey(PodSet, on_delete=models.CASCADE, related_name="allocations")
    replica = models.PositiveIntegerField()
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="allocations")
    pool = models.ForeignKey(ResourcePool, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    vcpus = models.PositiveIntegerField()
    memory_gib = models.PositiveIntegerField()
    accelerators = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pod_set", "replica"], name="allocation_unique_replica")]

    def __str__(self):
        return f"{self.pod_set_id}/{self.replica} on {self.node_id}"


class WorkloadRun(models.Model):
    """A run of a workload that preemption ended; the workload was queued again and its later
    run is its started_at. Billing meters each run."""

    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.workload_id}: {self.started_at} – {self.ended_at}"


class WorkloadEvent(models.Model):
    workload = models.ForeignKey(Workload, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True)
    from_phase = models.CharField(max_length=20, choices=Phase.choices, blank=True, default="")
    to_phase = models.CharField(max_length=20, choices=Phase.choices, blank=True, default="")
    reason = models.CharField(max_length=100)
    message = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.reason}: {self.from_phase or '-'} → {self.to_phase or '-'}"

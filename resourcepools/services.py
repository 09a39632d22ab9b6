"""Operations on flavors, pools, nodes, quotas and workloads. Workload phases change only
through `transition_workloads`, which locks the rows, refuses illegal moves and leaves events."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.dispatch import Signal
from django.utils import timezone
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.relations import PrimaryKeyRelatedField

from aiplatform.celery import app as celery_app
from aiplatform.celery import enqueue_on_commit
from aiplatform.errors import Conflict, IllegalTransition
from aiplatform.services import save_changes

from .models import (
    ADMITTING_POOL_STATUSES,
    SHARED_RESOURCES,
    TERMINAL_PHASES,
    TRANSITIONS,
    Allocation,
    Flavor,
    Node,
    Phase,
    PodSet,
    PodSetFlavor,
    PoolKind,
    Quota,
    QuotaFlavor,
    ResourcePool,
    Workload,
    WorkloadEvent,
    WorkloadRun,
)
from .packing import UNITS, NodeState, PodSetDemand, pack

# Sent (after commit) with `workload_ids` and `phase` whenever workloads change phase; the compute
# backend submits admitted work and cancels stopping work, billing meters running intervals.
workload_phase_changed = Signal()

ADMISSION_TASK = "resourcepools.tasks.admit_workloads"

# Phases in which a workload holds its allocations; leaving them frees its capacity at once.
HOLDING_PHASES = (Phase.ADMITTED, Phase.RUNNING)
# Serialises pool creation on PostgreSQL: the rule that public and dedicated names differ spans rows
# no single constraint covers.
POOL_NAMES_LOCK_ID = 0x706F6F6C


# --- flavors ------------------------------------------------------------------------------------


@transaction.atomic
def save_flavor(*, flavor: Flavor | None = None, **fields) -> Flavor:
    family = fields.get("family")
    if flavor is not None and family not in (None, flavor.family) and PodSet.objects.filter(flavor=flavor).exists():
        # Usage is metered and matched to packages by family: a flavor that ran work keeps its own.
        raise ValidationError({"family": f"Workloads use flavor '{flavor.name}', so its family "
                                         f"'{flavor.family}' cannot change; create a new flavor instead."})
    return save_changes(flavor or Flavor(), fields)


@transaction.atomic
def delete_flavor(*, flavor: Flavor) -> None:
    flavor.delete()  # PROTECT refuses while nodes or pod sets use it (answered as 409)


# --- pools and nodes ----------------------------------------------------------------------------


def check_pool_name_available(*, name: str, kind: str, account=None, field: str = "name") -> None:
    """A public pool's name is unique among public pools, a dedicated pool's within its account,
    and no dedicated pool shares a public pool's name, so each caller (who sees the public pools
    and its account's) finds one pool per name. Another account's names are never revealed."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POOL_NAMES_LOCK_ID])
    public = ResourcePool.objects.filter(kind=PoolKind.PUBLIC, name=name)
    if kind == PoolKind.PUBLIC:
        if public.exists():
            raise ValidationError({field: f"A public pool named '{name}' exists already; choose another name."})
        owner = ResourcePool.objects.filter(kind=PoolKind.DEDICATED, name=name).values_list(
            "account__name", flat=True).first()
        if owner is not None:
            # Only operators create public pools, and they see every account's pools.
            raise ValidationError({field: f"Account '{owner}' has a dedicated pool named '{name}'; choose another "
                                          "name, so that its members see one pool by each name."})
        if ResourcePool.objects.filter(placement_label=name).exists():
            raise ValidationError({field: f"'{name}' is the placement label of another pool; choose another name."})
        return
    if public.exists():
        raise ValidationError({field: f"A public pool is named '{name}'; choose another name, so that your "
                                      "account's pools and the public ones never share one."})
    if account is not None and ResourcePool.objects.filter(kind=PoolKind.DEDICATED, account=account,
                                                           name=name).exists():
        raise ValidationError({field: f"Your account has a dedicated pool named '{name}' already; choose another "
                                      "name."})


@transaction.atomic
def create_pool(*, name: str, kind: str, account=None, region: str = "local", availability_zone: str = "",
                description: str = "", nodes: list[dict] | None = None) -> ResourcePool:
    pool = ResourcePool(
        name=name, kind=kind, account=account, region=region, availability_zone=availability_zone,
        description=description,
    )
    pool.placement_label = pool.derive_placement_label()
    pool.full_clean(exclude=["placement_label"], validate_constraints=False)
    check_pool_name_available(name=name, kind=kind, account=account)
    pool.save()
    for node in nodes or []:
        add_node(pool=pool, **node)
    return pool


@transaction.atomic
def update_pool(*, pool: ResourcePool, **fields) -> ResourcePool:
    pool = ResourcePool.objects.select_for_update().get(pk=pool.pk)
    save_changes(pool, fields)
    if pool.status in ADMITTING_POOL_STATUSES:
        enqueue_admission(pool_id=pool.pk)
    return pool


@transaction.atomic
def delete_pool(*, pool: ResourcePool) -> None:
    pool = ResourcePool.objects.select_for_update().get(pk=pool.pk)
    live = pool.workloads.exclude(phase__in=TERMINAL_PHASES).count()
    if live:
        raise Conflict(f"Pool '{pool.name}' still has {live} unfinished workload(s); stop them first.", code="in_use")
    pool.workloads.all().delete()
    pool.delete()


@transaction.atomic
def add_node(*, pool: ResourcePool, name: str, flavor: Flavor) -> Node:
    if not flavor.is_active:
        raise ValidationError({"flavor": f"Flavor '{flavor.name}' is retired; choose an active flavor."})
    node = Node(pool=pool, name=name, flavor=flavor)
    node.full_clean()
    node.save()
    enqueue_admission(pool_id=pool.pk)
    return node


@transaction.atomic
def update_node(*, node: Node, **fields) -> Node:
    node = Node.objects.select_for_update().get(pk=node.pk)
    save_changes(node, fields)
    enqueue_admission(pool_id=node.pool_id)
    return node


@transaction.atomic
def remove_node(*, node: Node) -> None:
    """Removing a node shrinks its pool; a node that carries admitted work is refused."""
    ResourcePool.objects.select_for_update().filter(pk=node.pool_id).first()
    holders = list(
        Workload.objects.filter(allocations__node=node).distinct().values_list("name", flat=True)[:5]
    )
    if holders:
        raise Conflict(
            f"Node '{node.name}' runs workload(s) {', '.join(holders)}; cordon it (schedulable=false) "
            "and wait for them to finish, or stop them, before removing it.",
            code="node_in_use",
        )
    node.delete()


# --- quotas -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    accelerators: int = 0
    vcpus: int = 0
    memory_gib: int = 0
    workloads: int = 0


def workspace_usage(*, workspace_id, pool_id) -> Usage:
    totals = Allocation.objects.filter(workspace_id=workspace_id, pool_id=pool_id).aggregate(
        accelerators=Sum("accelerators"), vcpus=Sum("vcpus"), memory_gib=Sum("memory_gib"),
        workloads=Count("workload_id", distinct=True),
    )
    return Usage(**{k: v or 0 for k, v in totals.items()})


QUOTA_LIMITS = {
    "max_accelerators": "accelerators",
    "max_vcpus": "vcpus",
    "max_memory_gib": "memory_gib",
    "max_workloads": "workloads",
}
# What else a queue sets: its borrowing and lending limits per resource and its fair-share weight.
QUEUE_SETTINGS = (
    *(f"{kind}_limit_{r}" for kind in ("borrowing", "lending") for r in SHARED_RESOURCES), "weight",
    "preemption_policy",
)


def check_nominal_fits_pool(*, pool: ResourcePool, quota: Quota, before: dict) -> None:
    """The nominal shares of a pool's queues are guaranteed, so together they fit the pool's
    capacity (every node, cordoned ones too). Only a share that grows is checked (`before`: the
    queue's shares as they were), so a queue made when quotas could exceed the pool still takes
    changes that do not make it larger."""
    capacity = Node.objects.filter(pool=pool).aggregate(
        **{r: Sum(f"flavor__{r}") for r in SHARED_RESOURCES})
    others = Quota.objects.filter(pool=pool).exclude(workspace_id=quota.workspace_id).aggregate(
        **{r: Sum(f"max_{r}") for r in SHARED_RESOURCES})
    errors = {}
    for resource in SHARED_RESOURCES:
        nominal, was = getattr(quota, f"max_{resource}"), before.get(f"max_{resource}")
        has, taken = capacity[resource] or 0, others[resource] or 0
        if nominal is not None and (was is None or nominal > was) and nominal + taken > has:
            name = resource.replace("_", " ")
            errors[f"max_{resource}"] = (
                f"The queues of pool '{pool.name}' would be guaranteed {nominal + taken} {name} in sum (this one "
                f"{nominal}, the others {taken}) but the pool has {has}; set at most {max(has - taken, 0)}.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def set_quota(*, workspace, pool: ResourcePool, **limits) -> Quota:
    """Set a workspace's queue in a pool: its nominal shares (`max_*`), borrowing and lending
    limits and weight; what is not given keeps its value (a new queue: no limit, no borrowing)."""
    # The pool lock orders this against admission, which reads quotas under the same lock.
    ResourcePool.objects.select_for_update().get(pk=pool.pk)
    check_pool_available(workspace=workspace, pool=pool, field="pool")
    usage = workspace_usage(workspace_id=workspace.pk, pool_id=pool.pk)
    quota = Quota.objects.filter(workspace=workspace, pool=pool).first() or Quota(workspace=workspace, pool=pool)
    before = {f"max_{r}": getattr(quota, f"max_{r}") if quota.pk else None for r in SHARED_RESOURCES}
    for name in (*QUOTA_LIMITS, *QUEUE_SETTINGS):
        if name in limits:
            setattr(quota, name, limits[name])
    errors = {}
    for limit, used_field in QUOTA_LIMITS.items():
        value = getattr(quota, limit)
        used = getattr(usage, used_field)
        borrowing = getattr(quota, f"borrowing_limit_{used_field}", 0)
        if value is not None and borrowing is not None and value + borrowing < used:
            at_least = f"{used}" if not borrowing else f"{used - borrowing} (with a borrowing limit of {borrowing})"
            errors[limit] = f"{used} {used_field.replace('_', ' ')} are in use in this pool now; set at least " \
                            f"{at_least}."
    if errors:
        raise ValidationError(errors)
    quota.full_clean()
    check_nominal_fits_pool(pool=pool, quota=quota, before=before)
    quota.save()
    if "flavors" in limits:
        _set_flavor_shares(quota=quota, pool=pool, shares=limits["flavors"])
    enqueue_admission(pool_id=pool.pk)
    return quota


FLAVOR_SHARE_FIELDS = (
    *(f"max_{r}" for r in SHARED_RESOURCES),
    *(f"{kind}_limit_{r}" for kind in ("borrowing", "lending") for r in SHARED_RESOURCES),
)


def _set_flavor_shares(*, quota: Quota, pool: ResourcePool, shares: list[dict]) -> None:
    """Replace the queue's per-flavor shares (each: a flavor of the pool's nodes and its nominal,
    borrowing and lending limits). Checked as the queue's own are: consistent limits, not below
    what the queue uses on that flavor now, and nominal shares that fit the flavor's nodes."""
    flavor_ids = [share["flavor"].pk for share in shares]
    if len(set(flavor_ids)) != len(flavor_ids):
        raise ValidationError({"flavors": "Name each flavor once."})
    capacity = {row["flavor_id"]: row for row in Node.objects.filter(pool=pool).values("flavor_id").annotate(
        **{r: Sum(f"flavor__{r}") for r in SHARED_RESOURCES})}
    others = {row["flavor_id"]: row for row in QuotaFlavor.objects.filter(quota__pool=pool).exclude(
        quota=quota).values("flavor_id").annotate(**{r: Sum(f"max_{r}") for r in SHARED_RESOURCES})}
    used = {row["node__flavor_id"]: row for row in Allocation.objects.filter(
        pool=pool, workspace_id=quota.workspace_id).values("node__flavor_id").annotate(
        **{r: Sum(r) for r in SHARED_RESOURCES})}
    rows = []
    for index, spec in enumerate(shares):
        field, flavor = f"flavors.{index}", spec["flavor"]
        if flavor.pk not in capacity:
            offered = sorted(set(Node.objects.filter(pool=pool).values_list("flavor__name", flat=True)))
            raise ValidationError({f"{field}.flavor": f"Pool '{pool.name}' has no '{flavor.name}' nodes; it offers: "
                                                      f"{', '.join(offered) or 'no nodes yet'}."})
        row = QuotaFlavor(quota=quota, flavor=flavor, **{k: spec[k] for k in FLAVOR_SHARE_FIELDS if k in spec})
        try:
            row.full_clean(exclude=["quota"], validate_constraints=False)
        except DjangoValidationError as exc:
            raise ValidationError({f"{field}.{name}": messages for name, messages in exc.message_dict.items()}) \
                from None
        errors = {}
        for r in SHARED_RESOURCES:
            nominal, borrowing = getattr(row, f"max_{r}"), getattr(row, f"borrowing_limit_{r}")
            name = f"{r.replace('_', ' ')} on {flavor.name} nodes"
            in_use = (used.get(flavor.pk) or {}).get(r) or 0
            if nominal is not None and borrowing is not None and nominal + borrowing < in_use:
                errors[f"{field}.max_{r}"] = f"{in_use} {name} are in use now; set at least {in_use - borrowing}."
                continue
            has, taken = capacity[flavor.pk][r] or 0, (others.get(flavor.pk) or {}).get(r) or 0
            if nominal is not None and nominal + taken > has:
                errors[f"{field}.max_{r}"] = (
                    f"The queues of pool '{pool.name}' would be guaranteed {nominal + taken} {name} in sum (this "
                    f"one {nominal}, the others {taken}) but those nodes have {has}; set at most "
                    f"{max(has - taken, 0)}.")
        if errors:
            raise ValidationError(errors)
        rows.append(row)
    quota.flavor_shares.all().delete()
    QuotaFlavor.objects.bulk_create(rows)


@transaction.atomic
def delete_quota(*, quota: Quota) -> None:
    pool_id = quota.pool_id
    quota.delete()
    enqueue_admission(pool_id=pool_id)


# --- workloads ----------------------------------------------------------------------------------


def check_pool_available(*, workspace, pool: ResourcePool, field: str = "pool") -> None:
    """Another account's dedicated pool is refused exactly as a pool id that does not exist (the
    serializers' own answer), so that the refusal does not tell that it exists."""
    if pool.kind == PoolKind.DEDICATED and pool.account_id != workspace.account_id:
        message = PrimaryKeyRelatedField.default_error_messages["does_not_exist"].format(pk_value=pool.pk)
        raise ValidationError({field: ErrorDetail(message, code="does_not_exist")})


def check_pod_set_fits_pool(*, pool: ResourcePool, flavor: Flavor, replicas: int, vcpus: int, memory_gib: int,
                            accelerators: int, field: str, flavor_field: str | None = None) -> None:
    """Refuse what this pool could never run, even empty (`flavor_field`: where the flavor was
    given, when not `<field>.flavor`)."""
    flavor_field = flavor_field or f"{field}.flavor"
    if not flavor.is_active:
        raise ValidationError({flavor_field: f"Flavor '{flavor.name}' is retired; choose an active flavor."})
    nodes = Node.objects.filter(pool=pool, flavor=flavor).count()
    if nodes == 0:
        offered = sorted(set(Node.objects.filter(pool=pool).values_list("flavor__name", flat=True)))
        raise ValidationError({flavor_field: f"Pool '{pool.name}' has no '{flavor.name}' nodes; it offers: "
                                             f"{', '.join(offered) or 'no nodes yet'}."})
    for name, asked, offered in (
        ("accelerators", accelerators, flavor.accelerators), ("vcpus", vcpus, flavor.vcpus),
        ("memory_gib", memory_gib, flavor.memory_gib),
    ):
        if asked > offered:
            raise ValidationError({f"{field}.{name}": f"A replica asks for {asked} but one '{flavor.name}' node has "
                                                      f"{offered}; ask for at most {offered} or use more replicas."})
    per_node = min(
        flavor.vcpus // max(vcpus, 1),
        flavor.memory_gib // max(memory_gib, 1),
        flavor.accelerators // accelerators if accelerators else 10**9,
    )
    if replicas > per_node * nodes:
        raise ValidationError({f"{field}.replicas": f"Pool '{pool.name}' could hold at most {per_node * nodes} such "
                                                    f"replicas ({nodes} '{flavor.name}' node(s)); ask for fewer."})


def _amounts(vcpus: int, memory_gib: int, accelerators: int, flavor: Flavor) -> str:
    cards = f"{accelerators} {UNITS.get(flavor.accelerator_kind, 'accelerators')}, " if accelerators else ""
    return f"{cards}{vcpus} vCPUs, {memory_gib} GiB"


def check_gang_fits_pool(*, pool: ResourcePool, pod_sets: list[PodSet]) -> None:
    """Refuse a gang whose pod sets together could never run on this pool, even empty: its
    replicas packed on the pool's nodes (cordoned ones too) as admission packs them. Each pod set
    alone fits (check_pod_set_fits_pool); together they may not, and a gang that never fits would
    wait, and hold its flavors, for ever."""
    nodes = list(Node.objects.filter(pool=pool).values_list(
        "id", "flavor_id", "flavor__vcpus", "flavor__memory_gib", "flavor__accelerators"))
    problems = []
    for flavor_id in dict.fromkeys(p.flavor_id for p in pod_sets):
        mine = [p for p in pod_sets if p.flavor_id == flavor_id]
        flavor = mine[0].flavor
        states = [NodeState(*node) for node in nodes if node[1] == flavor_id]
        taken, complete = pack([PodSetDemand(index, p.name, p.replicas, flavor_id, flavor.name, flavor.accelerator_kind,
                                             p.vcpus, p.memory_gib, p.accelerators)
                                for index, p in enumerate(mine)], states)
        if complete:
            continue
        asked = " + ".join(f"{p.name} {p.replicas} × ({_amounts(p.vcpus, p.memory_gib, p.accelerators, flavor)})"
                           for p in mine)
        total = _amounts(*(sum(p.replicas * getattr(p, name) for p in mine)
                           for name in ("vcpus", "memory_gib", "accelerators")), flavor)
        has = _amounts(*(len(states) * getattr(flavor, name) for name in ("vcpus", "memory_gib", "accelerators")),
                       flavor)
        problems.append(
            f"on {flavor.name} nodes they ask for {asked} = {total}; pool '{pool.name}' has {len(states)} such "
            f"node(s) ({has}), on which only {len(taken)} of the {sum(p.replicas for p in mine)} replicas fit "
            "(each replica runs on one node)"
        )
    if problems:
        raise ValidationError({"pod_sets": f"The pod sets together never fit this pool: {'; '.join(problems)}. "
                                           "Ask for fewer or smaller replicas, or choose a larger pool."})


def priority_range(*, account, operator: bool) -> tuple[int, int]:
    """The priorities work of this account may have: from the platform's floor to its plan's top
    (the platform default when the plan sets none); operators up to the hard cap."""
    cap = settings.WORKLOAD_OPERATOR_MAX_PRIORITY
    if operator:
        return settings.WORKLOAD_MIN_PRIORITY, cap
    top = settings.WORKLOAD_MAX_PRIORITY if account.max_priority is None else account.max_priority
    return settings.WORKLOAD_MIN_PRIORITY, min(top, cap)


def check_priority(*, priority: int, workspace, created_by) -> None:
    operator = created_by is not None and created_by.is_staff
    low, high = priority_range(account=workspace.account, operator=operator)
    if low <= priority <= high:
        return
    if operator:
        raise ValidationError({"priority": f"Priority {priority} is outside the platform's range; use {low} to "
                                           f"{high}."})
    raise ValidationError({"priority": f"Priority {priority} is outside what account '{workspace.account.name}' "
                                       f"may use; choose {low} to {high} (higher is admitted first). A platform "
                                       "operator can raise your plan's limit."})


# Env values written `secret://<secret name>/<key>` are read from a secret of the workspace (a
# Secret in its Kubernetes namespace, a folder of the local backend's), never stored inline. Names
# and keys follow Kubernetes' rules (a DNS-1123 subdomain; a key of [-._A-Za-z0-9]).
SECRET_SCHEME = "secret://"
SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
SECRET_KEY = re.compile(r"[-._A-Za-z0-9]+")
# The platform's own Secrets (a workload's runtime secrets, wl-<id>-runtime) hold other workloads'
# tokens: no env value may name them.
PLATFORM_SECRET_PREFIX = "wl-"


def secret_reference(value: str) -> tuple[str, str] | None:
    """The (secret name, key) an env value refers to, or None for a plain value; ValueError says
    what to fix."""
    if not value.startswith(SECRET_SCHEME):
        return None
    secret, slash, key = value[len(SECRET_SCHEME):].partition("/")
    if not (slash and SECRET_NAME.fullmatch(secret) and len(secret) <= 253 and SECRET_KEY.fullmatch(key)
            and len(key) <= 253 and not key.startswith("..") and key != "."):
        raise ValueError("Write a secret reference as secret://<secret name>/<key>: the name in lower-case letters, "
                         "digits, '-' and '.' (a DNS name), the key in letters, digits, '-', '_' and '.'.")
    if secret.startswith(PLATFORM_SECRET_PREFIX):
        raise ValueError(f"Secrets named '{PLATFORM_SECRET_PREFIX}…' are the platform's own; name one of your "
                         "workspace's secrets.")
    return secret, key


# Names the platform sets in a workload's environment itself (a notebook's id, a job's token, health
# paths): a caller who could set them would claim what the platform gives only its own runs.
PLATFORM_ENV_PREFIX = "AIP_"


def platform_env_refusal(env: dict) -> str | None:
    """What to tell a caller whose env names one of the platform's variables, or None."""
    taken = sorted(name for name in env if name.startswith(PLATFORM_ENV_PREFIX))
    if taken:
        return f"{', '.join(taken)}: names starting with {PLATFORM_ENV_PREFIX} are the platform's; choose another."
    return None


def check_env(*, env: dict, field: str) -> None:
    """Refuse env values that refer to a secret other than `<secret name>/<key>` of the workspace."""
    for name, value in env.items():
        try:
            secret_reference(str(value))
        except ValueError as exc:
            raise ValidationError({f"{field}.{name}": str(exc)}) from None


@transaction.atomic
def create_workload(*, workspace, pool: ResourcePool, name: str, pod_sets: list[dict], created_by=None,
                    kind: str = "custom", priority: int = 0, image: str = "", command: list | None = None,
                    env: dict | None = None, max_runtime_seconds: int | None = None, queue: bool = True,
                    preemptible: bool = True) -> Workload:
    """Create a workload with its pod sets (each: name, replicas, flavor, optional per-replica
    vcpus/memory_gib/accelerators; by default a replica takes a whole node, or the share of
    it that matches the cards it asks for) and queue it. Every kind of work comes through here,
    so the priority range and the fit of the gang are checked here."""
    check_pool_available(workspace=workspace, pool=pool)
    check_priority(priority=priority, workspace=workspace, created_by=created_by)
    if not pod_sets:
        raise ValidationError({"pod_sets": "A workload needs at least one pod set."})
    names = [p["name"] for p in pod_sets]
    if len(set(names)) != len(names):
        raise ValidationError({"pod_sets": "Pod set names must be distinct."})
    check_env(env=env or {}, field="env")
    for index, spec in enumerate(pod_sets):
        check_env(env=spec.get("env") or {}, field=f"pod_sets.{index}.env")
    workload = Workload(
        workspace=workspace, pool=pool, name=name, kind=kind, priority=priority, image=image,
        command=command or [], env=env or {}, max_runtime_seconds=max_runtime_seconds, created_by=created_by,
        preemptible=preemptible,
    )
    workload.full_clean()
    workload.save()
    rows, options = [], []
    for index, spec in enumerate(pod_sets):
        field = f"pod_sets.{index}"
        choices = _flavor_choices(spec, field=field)
        amounts = [_replica_amounts(spec, flavor) for flavor in choices]
        for rank, (flavor, (vcpus, memory_gib, accelerators)) in enumerate(zip(choices, amounts, strict=True)):
            check_pod_set_fits_pool(
                pool=pool, flavor=flavor, replicas=spec["replicas"], vcpus=vcpus, memory_gib=memory_gib,
                accelerators=accelerators, field=field,
                flavor_field=f"{field}.flavors.{rank}" if "flavors" in spec else None,
            )
        (vcpus, memory_gib, accelerators) = amounts[0]
        pod_set = PodSet(
            workload=workload, name=spec["name"], replicas=spec["replicas"], flavor=choices[0],
            vcpus=vcpus, memory_gib=memory_gib, accelerators=accelerators, command=spec.get("command") or [],
            env=spec.get("env") or {}, min_replicas=spec.get("min_replicas"), max_replicas=spec.get("max_replicas"),
            target_concurrency=spec.get("target_concurrency"),
        )
        pod_set.full_clean(exclude=["workload"])
        rows.append(pod_set)
        if len(choices) > 1:
            options.append((pod_set, choices, amounts))
    # The gang must fit on its first choices; a fallback is for when those are busy.
    check_gang_fits_pool(pool=pool, pod_sets=rows)
    PodSet.objects.bulk_create(rows)
    PodSetFlavor.objects.bulk_create(
        PodSetFlavor(pod_set=pod_set, rank=rank, flavor=flavor, vcpus=v, memory_gib=m, accelerators=a)
        for pod_set, choices, amounts in options
        for rank, (flavor, (v, m, a)) in enumerate(zip(choices, amounts, strict=True)))
    WorkloadEvent.objects.create(workload=workload, to_phase=Phase.PENDING, reason="Created",
                                 message=f"Created by {created_by or 'the platform'}.")
    if queue:
        transition_workloads(workload_ids=[workload.pk], to=Phase.QUEUED, reason="Queued",
                             message=f"Waiting for admission to pool {pool.name}.")
        workload.refresh_from_db()
    return workload


MAX_FLAVOR_CHOICES = 4


def _flavor_choices(spec: dict, *, field: str) -> list[Flavor]:
    """A pod set's flavors in order of preference: `flavor`, or `flavors` (up to four, each once)."""
    if spec.get("flavors") and spec.get("flavor"):
        raise ValidationError({f"{field}.flavors": "Give either flavor or flavors (in order of preference), not "
                                                   "both."})
    choices = list(spec.get("flavors") or ([spec["flavor"]] if spec.get("flavor") else []))
    if not choices:
        raise ValidationError({f"{field}.flavor": "Name the flavor its replicas run on, or flavors in order of "
                                                  "preference."})
    if len(choices) > MAX_FLAVOR_CHOICES:
        raise ValidationError({f"{field}.flavors": f"Name at most {MAX_FLAVOR_CHOICES} flavors."})
    names = [flavor.name for flavor in choices]
    if len(set(names)) != len(names):
        raise ValidationError({f"{field}.flavors": "Name each flavor once."})
    return choices


def _replica_amounts(spec: dict, flavor: Flavor) -> tuple[int, int, int]:
    """What a replica asks for on this flavor: by default a whole node, or, asking for part of a
    node's cards, the same share of its CPU and memory."""
    accelerators = flavor.accelerators if spec.get("accelerators") is None else spec["accelerators"]
    share = accelerators / flavor.accelerators if flavor.accelerators and accelerators else 1
    return (spec.get("vcpus") or max(1, int(flavor.vcpus * share)),
            spec.get("memory_gib") or max(1, int(flavor.memory_gib * share)), accelerators)


# What only a queued workload has.
LEFT_QUEUE = {"queue_position": None, "holding_since": None, "hold_paused_until": None}


def _timestamps_for(phase: str, now) -> dict:
    return {
        Phase.QUEUED: {"queued_at": now},
        Phase.ADMITTED: {"admitted_at": now, **LEFT_QUEUE},
        Phase.RUNNING: {"started_at": now},
    }.get(phase, {"finished_at": now, **LEFT_QUEUE} if phase in TERMINAL_PHASES else {})


@transaction.atomic
def transition_workloads(*, workload_ids, to: str, reason: str, message: str = "",
                         skip_illegal: bool = False, observed_at: dict | None = None) -> list:
    """Move workloads to phase `to`. Locks the rows, refuses (or, with `skip_illegal`, skips)
    moves the lifecycle forbids, records an event per workload, frees capacity of workloads that
    stop holding it, and announces the change after commit. Returns the ids that moved.
    `observed_at` (workload id → moment) gives the time the backend saw the change happen, kept
    as its started_at/finished_at instead of now (billing is bounded by them)."""
    rows = list(
        Workload.objects.select_for_update().filter(pk__in=list(workload_ids)).values_list("pk", "phase", "pool_id")
    )
    moved, pools = [], set()
    for pk, phase, pool_id in rows:
        if to in TRANSITIONS[phase]:
            moved.append(pk)
            pools.add(pool_id)
            continue
        if not skip_illegal:
            raise IllegalTransition(f"A {phase} workload cannot become {to}.")
    if not moved:
        return []
    now = timezone.now()
    by_from = defaultdict(list)
    for pk, phase, _ in rows:
        if pk in moved:
            by_from[phase].append(pk)
    moments = defaultdict(list)
    for pk in moved:
        moments[min((observed_at or {}).get(str(pk)) or now, now)].append(pk)
    # A preempted workload goes back to the queue with its original queue time, admitted afresh.
    requeued = set(by_from[Phase.STOPPING]) if to == Phase.QUEUED else set()
    for moment, pks in moments.items():
        Workload.objects.filter(pk__in=[pk for pk in pks if pk not in requeued]).update(
            phase=to, reason=reason, message=message, **_timestamps_for(to, moment))
    if requeued:
        Workload.objects.filter(pk__in=requeued).update(phase=to, reason=reason, message=message, admitted_at=None,
                                                        started_at=None, finished_at=None)
    WorkloadEvent.objects.bulk_create(
        WorkloadEvent(workload_id=pk, from_phase=from_phase, to_phase=to, reason=reason, message=message)
        for from_phase, pks in by_from.items() for pk in pks
    )
    if to not in HOLDING_PHASES:
        freed = Allocation.objects.filter(workload_id__in=moved).delete()[0]
        if freed or to == Phase.QUEUED:
            for pool_id in pools:
                enqueue_admission(pool_id=pool_id)
    transaction.on_commit(lambda: workload_phase_changed.send(sender=Workload, workload_ids=moved, phase=to))
    return moved


# The reasons of workloads stopped to be queued again, not STOPPED: preempted, or admitted but not
# started in time (evicted).
PREEMPTED = "Preempted"
EVICTED = "AdmissionTimeout"
REQUEUED_REASONS = (PREEMPTED, EVICTED)


@transaction.atomic
def preempt_workloads(*, workload_ids, message: str) -> list:
    """Stop admitted or running work to make room for other work (admission decides which): it
    moves to STOPPING with reason Preempted, its capacity is free at once, and the compute backend
    cancels it and queues it again (`finish_stops`). A run it had is kept as a WorkloadRun, so
    that billing meters that run and the next one apart. Returns the ids that moved."""
    running = dict(Workload.objects.select_for_update().filter(
        pk__in=list(workload_ids), phase=Phase.RUNNING, started_at__isnull=False).values_list("pk", "started_at"))
    moved = transition_workloads(workload_ids=workload_ids, to=Phase.STOPPING, reason=PREEMPTED, message=message,
                                 skip_illegal=True)
    now = timezone.now()
    ran = [pk for pk in moved if pk in running]
    WorkloadRun.objects.bulk_create(WorkloadRun(workload_id=pk, started_at=running[pk], ended_at=now) for pk in ran)
    Workload.objects.filter(pk__in=ran).update(started_at=None)
    return moved


@transaction.atomic
def finish_stops(*, workload_ids, stopped_by: str) -> tuple[list, list]:
    """The backend stopped these workloads: preempted ones go back to the queue, keeping their
    queue time; the others are STOPPED. Returns (stopped ids, requeued ids)."""
    rows = Workload.objects.select_for_update().filter(pk__in=list(workload_ids), phase=Phase.STOPPING)
    by_reason = defaultdict(list)
    for pk, reason in rows.values_list("pk", "reason"):
        if reason in REQUEUED_REASONS:
            by_reason[reason].append(pk)
    requeued = []
    for reason, pks in by_reason.items():
        why = "Preempted" if reason == PREEMPTED else "Evicted, as it did not start in time"
        requeued += transition_workloads(
            workload_ids=pks, to=Phase.QUEUED, reason="Requeued",
            message=f"{why}, and its replicas were stopped by the {stopped_by} backend; back in the queue with its "
                    "original queue time.", skip_illegal=True)
    requeued_ids = {str(pk) for pks in by_reason.values() for pk in pks}
    stopped = transition_workloads(
        workload_ids=[pk for pk in workload_ids if str(pk) not in requeued_ids],
        to=Phase.STOPPED, reason="Stopped", message=f"Its replicas were stopped by the {stopped_by} backend.",
        skip_illegal=True)
    return stopped, requeued


@transaction.atomic
def evict_unstarted_workloads(*, now=None) -> tuple[list, list]:
    """Admitted work not running ADMISSION_START_TIMEOUT_SECONDS after its admission (an image
    that does not pull, node trouble) is evicted: stopped the platform's way and queued again with
    its queue time, admitted no sooner than a backoff that doubles with each eviction. Admitted
    ADMISSION_MAX_TRIES times without starting, it fails with the reason. Returns (evicted,
    failed) ids."""
    now = now or timezone.now()
    timeout = settings.ADMISSION_START_TIMEOUT_SECONDS
    rows = list(Workload.objects.select_for_update(skip_locked=True).filter(
        phase=Phase.ADMITTED, admitted_at__lt=now - timedelta(seconds=timeout)).values_list("pk", "evictions"))
    tries, late = settings.ADMISSION_MAX_TRIES, f"{round(timeout)} s"
    failed = transition_workloads(
        workload_ids=[pk for pk, evictions in rows if evictions + 1 >= tries], to=Phase.FAILED, reason=EVICTED,
        message=f"Admitted {tries} time(s) and never running within {late} of its admission (an image that does "
                "not pull, or node trouble): it failed. See its events for what the backend reported.",
        skip_illegal=True)
    evicted = []
    by_count = defaultdict(list)
    for pk, evictions in rows:
        if evictions + 1 < tries:
            by_count[evictions].append(pk)
    for evictions, pks in by_count.items():
        not_before = now + timedelta(seconds=settings.ADMISSION_EVICTION_BACKOFF_SECONDS * 2 ** evictions)
        moved = transition_workloads(
            workload_ids=pks, to=Phase.STOPPING, reason=EVICTED, skip_illegal=True,
            message=f"Not running {late} after its admission (an image that does not pull, or node trouble): "
                    f"evicted (try {evictions + 1} of {tries}) and queued again, to be admitted no sooner than "
                    f"{not_before:%Y-%m-%d %H:%M:%S} UTC.")
        Workload.objects.filter(pk__in=moved).update(evictions=F("evictions") + 1, not_before=not_before)
        evicted += moved
    return evicted, failed


def transition_workload(*, workload: Workload, to: str, reason: str, message: str = "") -> Workload:
    transition_workloads(workload_ids=[workload.pk], to=to, reason=reason, message=message)
    return Workload.objects.get(pk=workload.pk)


@transaction.atomic
def note_workload_condition(*, workload_id, reason: str, message: str) -> bool:
    """A running workload's condition changed without a phase change (some serving instances
    unhealthy, or healthy again): its reason and message say so, and an event records it."""
    workload = Workload.objects.select_for_update().filter(pk=workload_id, phase=Phase.RUNNING).first()
    if workload is None or (workload.reason, workload.message) == (reason, message):
        return False
    Workload.objects.filter(pk=workload.pk).update(reason=reason, message=message)
    WorkloadEvent.objects.create(workload=workload, reason=reason, message=message)
    return True


def record_workload_event(*, workload_id, reason: str, message: str = "") -> WorkloadEvent:
    """An event that does not change the phase (e.g. an image pull failing and retrying)."""
    return WorkloadEvent.objects.create(workload_id=workload_id, reason=reason, message=message)


@transaction.atomic
def stop_workload(*, workload: Workload, stopped_by) -> Workload:
    """Queued work stops at once; admitted or running work moves to STOPPING and the compute
    backend finishes the stop. Either way its capacity is free at once."""
    workload = Workload.objects.select_for_update().get(pk=workload.pk)
    who = getattr(stopped_by, "username", None) or "the platform"
    if workload.phase in (Phase.PENDING, Phase.QUEUED):
        return transition_workload(workload=workload, to=Phase.STOPPED, reason="Stopped", message=f"Stopped by {who}.")
    if workload.phase in HOLDING_PHASES:
        return transition_workload(
            workload=workload, to=Phase.STOPPING, reason="StopRequested", message=f"Stop requested by {who}."
        )
    if workload.phase == Phase.STOPPING and workload.reason in REQUEUED_REASONS:
        # Stopped for good once the backend is done, instead of queued again.
        message = f"Stop requested by {who} while it was being stopped to be queued again."
        Workload.objects.filter(pk=workload.pk).update(reason="StopRequested", message=message)
        WorkloadEvent.objects.create(workload=workload, reason="StopRequested", message=message)
        return Workload.objects.get(pk=workload.pk)
    if workload.phase == Phase.STOPPING:
        return workload
    raise Conflict(f"The workload has already {workload.phase}; there is nothing to stop.", code="already_finished")


def enqueue_admission(*, pool_id) -> None:
    """Kick an admission pass for the pool once this transaction commits (beat runs one anyway
    every few seconds; the kick makes queued and freed capacity act at once)."""
    enqueue_on_commit(celery_app.signature(ADMISSION_TASK, args=(str(pool_id),)))

"""Training operations: algorithms, jobs (each runs as a workload), metrics and throughput."""

from django.conf import settings
from django.core import signing
from django.db import transaction
from rest_framework.exceptions import ValidationError

from aiplatform import locations
from aiplatform.errors import Conflict
from aiplatform.services import save_changes
from aiplatform.storage import StorageError
from datasets.models import DatasetVersion
from resourcepools import services as pool_services
from resourcepools.models import TERMINAL_PHASES, AcceleratorKind, WorkloadKind

from . import hyperparameters as hyperparameter_schema
from . import selectors, throughput
from .models import Algorithm, MetricPoint, TrainingJob

JOB_TOKEN_SALT = "training.job-token"
WORKLOAD_TO_JOB_FIELDS = {"pod_sets.0.replicas": "node_count", "pod_sets.0.flavor": "flavor"}


# --- algorithms ---------------------------------------------------------------------------------


def _check_algorithm_fields(fields: dict) -> None:
    problems = hyperparameter_schema.check_spec(fields.get("hyperparameters", []))
    kinds = set(fields.get("accelerator_kinds") or [])
    unknown = kinds - set(AcceleratorKind.values)
    if unknown:
        problems["accelerator_kinds"] = f"Unknown kinds {sorted(unknown)}; use {AcceleratorKind.values}."
    command = fields.get("command")
    if command is not None and (not isinstance(command, list) or not command
                                or not all(isinstance(c, str) for c in command)):
        problems["command"] = "Give the boot command as a non-empty list of strings, e.g. [\"python\", \"train.py\"]."
    for key in ("input_channels", "output_channels"):
        names = fields.get(key) or []
        if len(set(names)) != len(names):
            problems[key] = "Channel names must be distinct."
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def save_algorithm(*, workspace, algorithm: Algorithm | None = None, **fields) -> Algorithm:
    """Create (or update) a workspace's algorithm; `workspace=None` saves a platform preset."""
    _check_algorithm_fields(fields)
    algorithm = algorithm or Algorithm(workspace=workspace)
    name = fields.get("name", algorithm.name)
    clash = Algorithm.objects.filter(workspace=workspace, name=name).exclude(pk=algorithm.pk)
    if clash.exists():
        raise ValidationError({"name": f"An algorithm named '{name}' already exists here; choose another name."})
    return save_changes(algorithm, fields)


@transaction.atomic
def delete_algorithm(*, algorithm: Algorithm) -> None:
    algorithm.delete()  # PROTECT keeps algorithms that jobs still name (answered as 409)


# --- jobs ---------------------------------------------------------------------------------------


def job_token(job: TrainingJob) -> str:
    """A token for the job's runtime to report metrics with; useless anywhere else."""
    return signing.dumps({"job": str(job.pk)}, salt=JOB_TOKEN_SALT)


def job_secrets(workload) -> dict[str, str]:
    """The runtime secrets of a training job's workload (registered with k8s in apps.py): its
    token, signed when it is submitted, never kept in the workload's env."""
    job = TrainingJob.objects.filter(workload=workload).first()
    return {"AIP_JOB_TOKEN": job_token(job)} if job else {}


def job_for_token(token: str) -> TrainingJob | None:
    """The still-running job a token belongs to, or None (bad, expired, or the job has ended)."""
    try:
        payload = signing.loads(token, salt=JOB_TOKEN_SALT, max_age=settings.TRAINING_JOB_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    job = TrainingJob.objects.select_related("workload").filter(pk=payload.get("job")).first()
    if job is None or job.workload.phase in TERMINAL_PHASES:
        return None
    return job


def _resolve_inputs(inputs, algorithm, workspace) -> list[dict]:
    """Each input as {channel, uri}: a dataset version of this workspace gives its manifest; a
    location must be one the platform can read."""
    channels = algorithm.input_channels if algorithm else None
    resolved = []
    for i, item in enumerate(inputs):
        has_source = isinstance(item, dict) and (item.get("uri") or item.get("dataset_version"))
        if not has_source or not item.get("channel"):
            raise ValidationError({f"inputs.{i}": "Each input needs a channel and a uri or a dataset_version."})
        if channels is not None and item["channel"] not in channels:
            raise ValidationError({f"inputs.{i}.channel": f"Unknown channel '{item['channel']}'; this algorithm "
                                                          f"reads: {', '.join(channels) or 'no inputs'}."})
        if item.get("dataset_version"):
            version = DatasetVersion.objects.filter(pk=item["dataset_version"], dataset__workspace=workspace).first()
            if version is None:
                raise ValidationError({f"inputs.{i}.dataset_version": "No such dataset version in this workspace."})
            if version.status != DatasetVersion.Status.READY:
                raise ValidationError({f"inputs.{i}.dataset_version": f"The version is {version.status}; wait until "
                                                                      "it is ready."})
            resolved.append({"channel": item["channel"], "uri": version.manifest_uri,
                             "dataset_version": str(version.pk)})
            continue
        try:
            first = next(iter(locations.storage_at(workspace=workspace, uri=item["uri"]).list(item["uri"])), None)
        except StorageError as exc:
            raise ValidationError({f"inputs.{i}.uri": str(exc)}) from None
        if first is None:
            raise ValidationError({f"inputs.{i}.uri": f"There is nothing at {item['uri']}; upload the data first "
                                                      "or fix the location."})
        resolved.append({"channel": item["channel"], "uri": item["uri"]})
    return resolved


def _command(*, algorithm, command, inputs, output_uri, values) -> list[str]:
    if algorithm is None:
        return list(command)
    args = list(algorithm.command)
    args += [f"--{item['channel']}={item['uri']}" for item in inputs]
    args += [f"--{channel}={output_uri}" for channel in algorithm.output_channels]
    args += [f"--{name}={value}" for name, value in values.items()]
    return args


@transaction.atomic
def create_training_job(*, workspace, created_by, name: str, flavor, pool, output_uri: str = "",
                        algorithm: Algorithm | None = None, image: str = "", command: list | None = None,
                        inputs: list | None = None, hyperparameters: dict | None = None, node_count: int = 1,
                        env: dict | None = None, max_runtime_seconds: int | None = None, priority: int = 0,
                        tags: list | None = None, description: str = "", copied_from=None) -> TrainingJob:
    """Validate the job, create its workload (pod set worker × node count) and queue it."""
    inputs = inputs or []
    if algorithm is not None and algorithm.workspace_id not in (None, workspace.pk):
        raise ValidationError({"algorithm": "No such algorithm in this workspace or among the presets."})
    if algorithm is None and (not image or not command):
        raise ValidationError({"algorithm": "Choose an algorithm, or give a custom image and command."})
    values, problems = ({}, {}) if algorithm is None else hyperparameter_schema.resolve(
        algorithm.hyperparameters, hyperparameters or {})
    if problems:
        raise ValidationError(problems)
    if algorithm is not None:
        if algorithm.accelerator_kinds and flavor.accelerator_kind not in algorithm.accelerator_kinds:
            raise ValidationError({"flavor": f"'{algorithm.name}' runs on {', '.join(algorithm.accelerator_kinds)}; "
                                             f"flavor '{flavor.name}' has {flavor.accelerator_kind}. Pick a matching "
                                             "flavor."})
        if node_count > 1 and not algorithm.distributed:
            raise ValidationError({"node_count": f"'{algorithm.name}' cannot run distributed; use node_count 1."})
    if node_count < 1:
        raise ValidationError({"node_count": "Use at least one node."})
    inputs = _resolve_inputs(inputs, algorithm, workspace)
    job = TrainingJob(
        workspace=workspace, name=name, description=description, algorithm=algorithm, image=image,
        command=command or [], inputs=inputs, output_uri=output_uri, hyperparameters=values, flavor=flavor,
        pool=pool, node_count=node_count, env=env or {}, max_runtime_seconds=max_runtime_seconds,
        priority=priority, tags=tags or [], created_by=created_by, copied_from=copied_from,
    )
    # Without a location the job writes to one of its own in the workspace's storage.
    job.output_uri = output_uri = locations.check(
        workspace=workspace, field="output_uri", write=True,
        uri=output_uri or locations.default_location(workspace=workspace, path=f"training-jobs/{job.pk}/"))
    runtime_env = {
        **job.env,
        "AIP_JOB_ID": str(job.pk),
        "AIP_OUTPUT_URI": output_uri,
        "AIP_METRICS_URL": f"{settings.PLATFORM_URL}/api/v1/training-jobs/{job.pk}/metrics/",
        **{f"AIP_INPUT_{item['channel'].upper()}": item["uri"] for item in inputs},
    }
    try:
        job.workload = pool_services.create_workload(
            workspace=workspace, pool=pool, name=name, kind=WorkloadKind.TRAINING, priority=priority,
            pod_sets=[{"name": "worker", "replicas": node_count, "flavor": flavor}],
            image=algorithm.image if algorithm else image,
            command=_command(algorithm=algorithm, command=command or [], inputs=inputs, output_uri=output_uri,
                             values=values),
            env=runtime_env, max_runtime_seconds=max_runtime_seconds, created_by=created_by,
        )
    except ValidationError as exc:
        # Name the job's own fields, not its workload's pod set.
        raise ValidationError({WORKLOAD_TO_JOB_FIELDS.get(k, k): v for k, v in exc.detail.items()}) from None
    job.full_clean()
    job.save()
    return job


@transaction.atomic
def copy_training_job(*, job: TrainingJob, created_by, **changes) -> TrainingJob:
    """Re-run with changes: the same settings, overridden by `changes`, as a new job."""
    fields = {
        "name": f"{job.name}-copy", "description": job.description, "algorithm": job.algorithm, "image": job.image,
        "command": job.command, "inputs": job.inputs, "output_uri": job.output_uri,
        "hyperparameters": job.hyperparameters, "flavor": job.flavor, "pool": job.pool,
        "node_count": job.node_count, "env": job.env, "max_runtime_seconds": job.max_runtime_seconds,
        "priority": job.priority, "tags": job.tags,
    }
    fields.update(changes)
    return create_training_job(workspace=job.workspace, created_by=created_by, copied_from=job, **fields)


def stop_training_job(*, job: TrainingJob, stopped_by) -> TrainingJob:
    pool_services.stop_workload(workload=job.workload, stopped_by=stopped_by)
    return TrainingJob.objects.select_related("workload").get(pk=job.pk)


@transaction.atomic
def delete_training_job(*, job: TrainingJob) -> None:
    if job.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"The job is {job.workload.phase}; stop it first, then delete it.", code="job_not_finished")
    workload = job.workload
    job.delete()
    workload.delete()


# --- metrics ------------------------------------------------------------------------------------


def record_metrics(*, job: TrainingJob, points: list[dict]) -> int:
    """Store reported points; a point already stored (same name and step) is kept as it was."""
    rows = [MetricPoint(job=job, name=p["name"], step=p["step"], value=p["value"]) for p in points]
    created = MetricPoint.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


def ingest_trainer_log(*, job: TrainingJob, lines) -> dict | None:
    """Read the trainer's log: its metrics become time series and its token counts the
    throughput summary (stored on the job)."""
    entries = [entry for line in lines if (entry := throughput.parse_line(line))]
    points = [{"name": name, "step": e.step, "value": value} for e in entries for name, value in e.values.items()]
    points += [{"name": "total_tokens", "step": e.step, "value": e.total_tokens}
               for e in entries if e.total_tokens is not None]
    record_metrics(job=job, points=points)
    devices = job.node_count * max(job.flavor.accelerators, 1)
    summary = throughput.summarise(entries, devices=devices, warmup=settings.TRAINING_THROUGHPUT_WARMUP,
                                   tail=settings.TRAINING_THROUGHPUT_TAIL)
    TrainingJob.objects.filter(pk=job.pk).update(throughput=summary)
    return summary


def trainer_log_lines(*, job: TrainingJob) -> list[str]:
    """The lines of the job's trainer_log.jsonl, or none while it has not written one."""
    uri = job.output_uri.rstrip("/") + "/trainer_log.jsonl"
    try:
        return [line.decode() for line in locations.storage_at(workspace=job.workspace, uri=uri).read_lines(uri)]
    except StorageError:
        return []


def read_trainer_logs(*, job_ids=None) -> int:
    """Ingest the trainer logs of the given jobs (default: every job still running)."""
    jobs = selectors.running_jobs() if job_ids is None else TrainingJob.objects.filter(
        pk__in=job_ids).select_related("flavor", "workspace")
    read = 0
    for job in jobs:
        lines = trainer_log_lines(job=job)
        if lines:
            ingest_trainer_log(job=job, lines=lines)
            read += 1
    return read

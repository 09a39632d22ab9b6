"""Training operations: algorithms, jobs (each runs as a workload, again after an infrastructure
failure), metrics and throughput, run comparison, TensorBoard visualization jobs."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform import locations
from aiplatform.errors import Conflict
from aiplatform.services import save_changes
from aiplatform.storage import StorageError
from datasets.models import DatasetVersion
from resourcepools import services as pool_services
from resourcepools.models import TERMINAL_PHASES, AcceleratorKind, Phase, Workload, WorkloadKind

from . import comparison, selectors, throughput
from . import hyperparameters as hyperparameter_schema
from .models import Algorithm, MetricPoint, TrainingJob, TrainingJobAttempt, VisualizationJob
from .presets import LLM_RECIPE
from .recipes.llm_finetune import arguments as recipe_arguments
from .recipes.llm_finetune import layout

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
    job = TrainingJob.objects.filter(attempts__workload=workload).first()
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
            places = locations.WorkspaceLocations(workspace)
            first = next((found for found in places.storage_at(item["uri"]).list(item["uri"])
                          if places.refusal(found.uri) is None), None)
        except StorageError as exc:
            raise ValidationError({f"inputs.{i}.uri": str(exc)}) from None
        if first is None:
            raise ValidationError({f"inputs.{i}.uri": f"There is nothing at {item['uri']}; upload the data first "
                                                      "or fix the location."})
        resolved.append({"channel": item["channel"], "uri": item["uri"]})
    return resolved


def runs_llm_recipe(algorithm: Algorithm | None) -> bool:
    """Whether the algorithm runs the LLM fine-tuning recipe (a preset, or a workspace's copy)."""
    return algorithm is not None and LLM_RECIPE in algorithm.command


def data_parallel_size(*, node_count: int, flavor) -> int:
    """Processes that each hold a copy of the model: one per device (one per node on CPU)."""
    return node_count * max(flavor.accelerators, 1)


def batch_arithmetic(job: TrainingJob) -> dict | None:
    """The global batch of an LLM job and what it is made of; None for other jobs."""
    if not runs_llm_recipe(job.algorithm):
        return None
    values = job.hyperparameters
    return recipe_arguments.Batch(values.get("per_device_train_batch_size", 1),
                                  values.get("gradient_accumulation_steps", 1),
                                  data_parallel_size(node_count=job.node_count, flavor=job.flavor)).as_dict()


def _holds(*, workspace, uri: str, field: str) -> bool:
    """Whether an object's key starts with `uri`, in a location the workspace may read."""
    try:
        return next(iter(locations.storage_at(workspace=workspace, uri=uri).list(uri)), None) is not None
    except StorageError as exc:
        raise ValidationError({field: str(exc)}) from None


def _check_llm_job(*, workspace, values: dict, node_count: int, flavor) -> dict:
    """The recipe's own checks (seq_length = cutoff_len, the global batch), with the locations it
    reads and writes; fills in the workspace's cache when the job names none."""
    problems = {f"hyperparameters.{name}": problem for name, problem in recipe_arguments.check(
        values, data_parallel_size=data_parallel_size(node_count=node_count, flavor=flavor)).items()}
    if problems:
        raise ValidationError(problems)
    values = {**values, "cache_uri": values.get("cache_uri") or locations.default_location(
        workspace=workspace, path=settings.TRAINING_LLM_CACHE_PATH)}
    locations.check(workspace=workspace, uri=values["cache_uri"], field="hyperparameters.cache_uri", write=True)
    for name, marker in (("model_name_or_path", "config.json"), ("tokenizer_name_or_path", "tokenizer")):
        if values.get(name) and not _holds(workspace=workspace, uri=values[name].rstrip("/") + f"/{marker}",
                                           field=f"hyperparameters.{name}"):
            raise ValidationError({f"hyperparameters.{name}": f"There is no Hugging Face model folder at "
                                                              f"{values[name]} (no {marker}…); upload it there first."})
    return values


def _command(*, algorithm, command, inputs, output_uri, values) -> list[str]:
    if algorithm is None:
        return list(command)
    args = list(algorithm.command)
    args += [f"--{item['channel']}={item['uri']}" for item in inputs]
    args += [f"--{channel}={output_uri}" for channel in algorithm.output_channels]
    args += [f"--{name}={value}" for name, value in values.items()]
    return args


def create_training_job(*, workspace, created_by, name: str, flavor, pool, output_uri: str = "",
                        algorithm: Algorithm | None = None, image: str = "", command: list | None = None,
                        inputs: list | None = None, hyperparameters: dict | None = None, node_count: int = 1,
                        env: dict | None = None, max_runtime_seconds: int | None = None, priority: int = 0,
                        tags: list | None = None, description: str = "", copied_from=None,
                        max_retries: int = 0) -> TrainingJob:
    """Validate the job, create its workload (pod set worker × node count) and queue it. The
    storage it names is read (listed) first, outside any transaction, and the rows are written
    after in one."""
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
    if max_retries > settings.TRAINING_MAX_RETRIES:
        raise ValidationError({"max_retries": f"At most {settings.TRAINING_MAX_RETRIES} retries."})
    if runs_llm_recipe(algorithm):
        values = _check_llm_job(workspace=workspace, values=values, node_count=node_count, flavor=flavor)
    inputs = _resolve_inputs(inputs, algorithm, workspace)
    job = TrainingJob(
        workspace=workspace, name=name, description=description, algorithm=algorithm, image=image,
        command=command or [], inputs=inputs, output_uri=output_uri, hyperparameters=values, flavor=flavor,
        pool=pool, node_count=node_count, env=env or {}, max_runtime_seconds=max_runtime_seconds,
        priority=priority, tags=tags or [], created_by=created_by, copied_from=copied_from, max_retries=max_retries,
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
    with transaction.atomic():
        _save_training_job(job=job, node_count=node_count, runtime_env=runtime_env, values=values)
    return job


def _save_training_job(*, job: TrainingJob, node_count: int, runtime_env: dict, values: dict) -> None:
    workspace, algorithm, inputs, output_uri = job.workspace, job.algorithm, job.inputs, job.output_uri
    try:
        job.workload = pool_services.create_workload(
            workspace=workspace, pool=job.pool, name=job.name, kind=WorkloadKind.TRAINING, priority=job.priority,
            pod_sets=[{"name": "worker", "replicas": node_count, "flavor": job.flavor}],
            image=algorithm.image if algorithm else job.image,
            command=_command(algorithm=algorithm, command=job.command, inputs=inputs, output_uri=output_uri,
                             values=values),
            env=runtime_env, max_runtime_seconds=job.max_runtime_seconds, created_by=job.created_by,
        )
    except ValidationError as exc:
        # Name the job's own fields, not its workload's pod set.
        raise ValidationError({WORKLOAD_TO_JOB_FIELDS.get(k, k): v for k, v in exc.detail.items()}) from None
    job.full_clean()
    job.save()
    TrainingJobAttempt.objects.create(job=job, number=1, workload=job.workload)


def copy_training_job(*, job: TrainingJob, created_by, **changes) -> TrainingJob:
    """Re-run with changes: the same settings, overridden by `changes`, as a new job."""
    fields = {
        "name": f"{job.name}-copy", "description": job.description, "algorithm": job.algorithm, "image": job.image,
        "command": job.command, "inputs": job.inputs, "output_uri": job.output_uri,
        "hyperparameters": job.hyperparameters, "flavor": job.flavor, "pool": job.pool,
        "node_count": job.node_count, "env": job.env, "max_runtime_seconds": job.max_runtime_seconds,
        "priority": job.priority, "tags": job.tags, "max_retries": job.max_retries,
    }
    if runs_llm_recipe(job.algorithm) and job.hyperparameters.get("cache_uri") == locations.default_location(
            workspace=job.workspace, path=settings.TRAINING_LLM_CACHE_PATH):
        fields["hyperparameters"] = {k: v for k, v in job.hyperparameters.items() if k != "cache_uri"}
    fields.update(changes)
    return create_training_job(workspace=job.workspace, created_by=created_by, copied_from=job, **fields)


def stop_training_job(*, job: TrainingJob, stopped_by) -> TrainingJob:
    pool_services.stop_workload(workload=job.workload, stopped_by=stopped_by)
    return TrainingJob.objects.select_related("workload").get(pk=job.pk)


@transaction.atomic
def delete_training_job(*, job: TrainingJob) -> None:
    if job.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"The job is {job.workload.phase}; stop it first, then delete it.", code="job_not_finished")
    workloads = [attempt.workload for attempt in job.attempts.select_related("workload")] or [job.workload]
    job.delete()
    for workload in workloads:
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


# --- retries --------------------------------------------------------------------------------------


def latest_checkpoint(*, job: TrainingJob) -> tuple[str, int] | None:
    """The newest complete checkpoint under the job's output (the recipe's own rule), or None."""
    prefix = job.output_uri.rstrip("/") + "/" + layout.CHECKPOINTS
    try:
        files = [info.uri[len(prefix):] for info in locations.storage_at(workspace=job.workspace, uri=prefix)
                 .list(prefix) if info.uri.endswith(layout.CHECKPOINT_DONE)]
    except StorageError:
        return None
    return layout.latest_checkpoint(files)


def retry_failed_jobs(*, workload_ids) -> list[TrainingJob]:
    """Run again the jobs whose latest attempt just failed for an infrastructure reason (a lost node
    or replica, an eviction), while they have retries left: a new attempt, with a workload of its
    own that goes through admission like any other, continues from the latest checkpoint. Safe to
    run twice: a job is retried only from the attempt that failed."""
    retried = []
    for job_id in TrainingJob.objects.filter(workload_id__in=list(workload_ids)).values_list("pk", flat=True):
        job = _retry(job_id=job_id)
        if job is not None:
            retried.append(job)
    return retried


@transaction.atomic
def _retry(*, job_id) -> TrainingJob | None:
    job = TrainingJob.objects.select_for_update().select_related("workload", "workspace", "pool").get(pk=job_id)
    failed = job.workload
    if failed.phase != Phase.FAILED or failed.reason not in settings.TRAINING_RETRY_REASONS:
        return None
    total = job.max_retries + 1
    if job.attempt >= total:
        pool_services.record_workload_event(
            workload_id=failed.pk, reason="RetriesExhausted",
            message=f"Attempt {job.attempt} of {total} failed ({failed.reason}); the job has no retries left.")
        return None
    checkpoint = latest_checkpoint(job=job)
    pod_sets = [{"name": p.name, "replicas": p.replicas, "flavor": p.flavor, "vcpus": p.vcpus,
                 "memory_gib": p.memory_gib, "accelerators": p.accelerators, "command": p.command, "env": p.env}
                for p in failed.pod_sets.select_related("flavor")]
    workload = pool_services.create_workload(
        workspace=job.workspace, pool=job.pool, name=job.name, kind=WorkloadKind.TRAINING, priority=failed.priority,
        pod_sets=pod_sets, image=failed.image, command=failed.command, env=failed.env,
        max_runtime_seconds=failed.max_runtime_seconds, created_by=failed.created_by, queue=False)
    number = job.attempt + 1
    TrainingJobAttempt.objects.create(job=job, number=number, workload=workload, retry_reason=failed.reason,
                                      resumed_from_step=checkpoint[1] if checkpoint else None)
    job.workload, job.attempt = workload, number
    job.save(update_fields=["workload", "attempt"])
    where = (f"resumes from step {checkpoint[1]} ({layout.CHECKPOINTS}{checkpoint[0]})" if checkpoint
             else "starts from step 0 (no complete checkpoint was saved)")
    pool_services.record_workload_event(
        workload_id=failed.pk, reason="RetryScheduled",
        message=f"Attempt {job.attempt - 1} of {total} failed ({failed.reason}); attempt {number} runs as workload "
                f"{workload.pk}.")
    pool_services.record_workload_event(
        workload_id=workload.pk, reason="Retry",
        message=f"Attempt {number} of {total} after {failed.reason}: {failed.message} It {where}.")
    if checkpoint:
        # The steps after the checkpoint run again; what the failed attempt logged of them goes.
        MetricPoint.objects.filter(job=job, step__gt=checkpoint[1]).delete()
    pool_services.transition_workloads(workload_ids=[workload.pk], to=Phase.QUEUED, reason="Queued",
                                       message=f"Waiting for admission to pool {job.pool.name}.")
    return job


# --- the model handoff ----------------------------------------------------------------------------


def servable_model_uri(*, job: TrainingJob) -> str:
    """Where a finished job's model is, for a service: an LLM job's model/ folder (full SFT, or the
    LoRA adapter merged into its base); other jobs' whole output."""
    if not runs_llm_recipe(job.algorithm):
        return job.output_uri
    uri = job.output_uri.rstrip("/") + "/" + layout.MODEL
    if not _holds(workspace=job.workspace, uri=uri + "config.json", field="training_job"):
        adapter = job.output_uri.rstrip("/") + "/" + layout.ADAPTER
        adapter = (" The job wrote a LoRA adapter only; run it again with merge_lora true to deploy it."
                   if _holds(workspace=job.workspace, uri=adapter, field="training_job") else "")
        raise ValidationError({"training_job": f"There is no model at {uri} (no config.json).{adapter}"})
    return uri


# --- comparison -----------------------------------------------------------------------------------


def compare_jobs(*, jobs: list[TrainingJob], metric: str, tolerance: float, step_from: int | None = None,
                 step_to: int | None = None) -> dict:
    """The jobs' series of `metric` aligned by step, each compared with the first."""
    runs = []
    for job in jobs:
        points = selectors.metric_points(job=job, name=metric, step_from=step_from, step_to=step_to)
        runs.append(comparison.Run(id=str(job.pk), name=job.name, series=dict(points.values_list("step", "value"))))
    empty = [run.name for run in runs if not run.series]
    if empty:
        raise ValidationError({"jobs": f"No '{metric}' points for {', '.join(empty)} in the steps asked; compare "
                                       "jobs that have logged the metric."})
    return {"metric": metric, **comparison.compare(runs, tolerance=tolerance)}


# --- visualization (TensorBoard) ------------------------------------------------------------------


def _small_cpu_flavor(*, pool, flavor):
    """The flavor a visualization job runs on: the one given (a CPU flavor of the pool), else the
    pool's CPU flavor with the fewest vCPUs."""
    from resourcepools.models import Flavor

    if flavor is not None:
        if flavor.accelerator_kind != AcceleratorKind.NONE:
            raise ValidationError({"flavor": f"TensorBoard needs no accelerator; '{flavor.name}' has "
                                             f"{flavor.accelerator_kind}. Choose a CPU flavor."})
        return flavor
    flavor = Flavor.objects.filter(nodes__pool=pool, accelerator_kind=AcceleratorKind.NONE,
                                   is_active=True).order_by("vcpus", "memory_gib").first()
    if flavor is None:
        raise ValidationError({"pool": f"Pool '{pool.name}' has no CPU nodes for TensorBoard; choose a pool that "
                                       "has some."})
    return flavor


def tensorboard_command(jobs: list[TrainingJob], *, path_prefix: str) -> list[str]:
    return ["python", "-m", "training.recipes.tensorboard", f"--path_prefix={path_prefix}",
            *[f"--run={job.name}-{str(job.pk)[:8]}={job.output_uri.rstrip('/')}/{layout.TENSORBOARD}"
              for job in jobs]]


def proxy_path(visualization: VisualizationJob) -> str:
    return f"/api/v1/workspaces/{visualization.workspace_id}/visualizations/{visualization.pk}/tensorboard"


@transaction.atomic
def create_visualization(*, workspace, created_by, name: str, training_jobs: list[TrainingJob], pool,
                         flavor=None, idle_timeout_seconds: int | None = None) -> VisualizationJob:
    """TensorBoard over the jobs' TensorBoard logs, as a small CPU workload (1 vCPU, 2 GiB)."""
    if not training_jobs:
        raise ValidationError({"training_jobs": "Name at least one training job."})
    flavor = _small_cpu_flavor(pool=pool, flavor=flavor)
    visualization = VisualizationJob(
        workspace=workspace, name=name, created_by=created_by,
        idle_timeout_seconds=idle_timeout_seconds or settings.VISUALIZATION_IDLE_TIMEOUT_SECONDS)
    try:
        visualization.workload = pool_services.create_workload(
            workspace=workspace, pool=pool, name=name, kind=WorkloadKind.VISUALIZATION, created_by=created_by,
            pod_sets=[{"name": "tensorboard", "replicas": 1, "flavor": flavor,
                       "vcpus": min(flavor.vcpus, settings.VISUALIZATION_VCPUS),
                       "memory_gib": min(flavor.memory_gib, settings.VISUALIZATION_MEMORY_GIB)}],
            image=settings.VISUALIZATION_IMAGE,
            command=tensorboard_command(training_jobs, path_prefix=proxy_path(visualization)))
    except ValidationError as exc:
        raise ValidationError({"flavor" if k.startswith("pod_sets") else k: v for k, v in exc.detail.items()}) \
            from None
    visualization.full_clean()
    visualization.save()
    visualization.training_jobs.set(training_jobs)
    return visualization


def stop_visualization(*, visualization: VisualizationJob, stopped_by) -> VisualizationJob:
    pool_services.stop_workload(workload=visualization.workload, stopped_by=stopped_by)
    return visualization


@transaction.atomic
def delete_visualization(*, visualization: VisualizationJob) -> None:
    if visualization.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"It is {visualization.workload.phase}; stop it first, then delete it.",
                       code="visualization_not_finished")
    workload = visualization.workload
    visualization.delete()
    workload.delete()


ACCESS_WRITE_INTERVAL = timedelta(seconds=30)


def note_visualization_access(*, visualization: VisualizationJob) -> None:
    """Someone opened it: its idle time starts again (written at most every 30 s)."""
    now = timezone.now()
    if visualization.last_accessed_at is None or now - visualization.last_accessed_at > ACCESS_WRITE_INTERVAL:
        VisualizationJob.objects.filter(pk=visualization.pk).update(last_accessed_at=now)


def stop_idle_visualizations(*, now=None) -> list[str]:
    """Stop running visualization jobs nobody opened for their idle time (counted from their start
    when nobody opened them yet)."""
    now = now or timezone.now()
    stopped = []
    for visualization in VisualizationJob.objects.filter(workload__phase=Phase.RUNNING).select_related("workload"):
        since = max(filter(None, (visualization.last_accessed_at, visualization.workload.started_at)))
        if now - since < timedelta(seconds=visualization.idle_timeout_seconds):
            continue
        with transaction.atomic():
            workload = Workload.objects.select_for_update().get(pk=visualization.workload_id)
            if workload.phase != Phase.RUNNING:
                continue
            pool_services.transition_workload(
                workload=workload, to=Phase.STOPPING, reason="IdleTimeout",
                message=f"Nobody opened it for {visualization.idle_timeout_seconds} s; stopped.")
        stopped.append(str(visualization.pk))
    return stopped

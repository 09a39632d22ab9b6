"""Notebook operations: create, start, stop, restart, delete (with its storage), access tokens,
and stopping idle notebooks from Jupyter's own activity API. Each run is a workload of kind
`notebook`; phases change only through resourcepools' transition service."""

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from aiplatform.errors import Conflict
from k8s import services as compute
from k8s.backend import BackendUnavailable, VolumeSpec, get_compute_backend, is_uuid
from resourcepools import services as pool_services
from resourcepools.models import TERMINAL_PHASES, Phase, Workload, WorkloadKind

from . import selectors
from .catalogue import IMAGES
from .models import Notebook

NOTEBOOK_KIND = "notebook"
ROLE = "notebook"
NOTEBOOK_ID_ENV = "AIP_NOTEBOOK_ID"
TOKEN_ENV = "AIP_NOTEBOOK_TOKEN"
# A run's workload errors name the notebook's own fields.
WORKLOAD_TO_NOTEBOOK_FIELDS = {"pod_sets": "flavor", "pod_sets.0.flavor": "flavor",
                               "pod_sets.0.replicas": "flavor", "pod_sets.0.vcpus": "flavor",
                               "pod_sets.0.memory_gib": "flavor", "pod_sets.0.accelerators": "flavor"}


def proxy_path(notebook: Notebook) -> str:
    """Where the platform serves its JupyterLab (Jupyter's base URL, so its links stay under it)."""
    return f"/api/v1/workspaces/{notebook.workspace_id}/notebooks/{notebook.pk}/lab/"


def notebook_token(notebook_id) -> str:
    """The Jupyter server's token: derived from the platform's key, given to the server as a
    runtime secret and sent by the platform's proxy; never shown to a user."""
    return hmac.new(settings.SECRET_KEY.encode(), f"notebook-token:{notebook_id}".encode(), hashlib.sha256).hexdigest()


def _notebook_of(workload: Workload) -> str | None:
    return (workload.env or {}).get(NOTEBOOK_ID_ENV)


def notebook_secrets(workload: Workload) -> dict[str, str]:
    notebook_id = _notebook_of(workload)
    return {TOKEN_ENV: notebook_token(notebook_id)} if notebook_id else {}


def notebook_volume(workload: Workload) -> VolumeSpec | None:
    """The storage of the notebook a workload runs (a notebook's run, or a training job started
    from it), only a notebook of the workload's own workspace."""
    notebook_id = _notebook_of(workload)
    if not notebook_id or not is_uuid(str(notebook_id)):
        return None
    notebook = Notebook.objects.filter(pk=notebook_id, workspace_id=workload.workspace_id).only(
        "id", "storage_gib").first()
    return VolumeSpec(name=notebook.volume_name, size_gib=notebook.storage_gib) if notebook else None


def _volume_users(notebook: Notebook):
    """Training jobs started from the notebook that have not ended: they work on its storage."""
    return Workload.objects.filter(kind=WorkloadKind.TRAINING, workspace_id=notebook.workspace_id,
                                   **{f"env__{NOTEBOOK_ID_ENV}": str(notebook.pk)}).exclude(phase__in=TERMINAL_PHASES)


def _check_env_names(env: dict) -> None:
    for name in env:
        if refusal := pool_services.platform_env_refusal({name: env[name]}):
            raise ValidationError({f"env.{name}": refusal})


def _check_range(field: str, value: int | None, low: int, high: int, unit: str = "s") -> None:
    if value is not None and not low <= value <= high:
        raise ValidationError({field: f"Use {low} to {high} {unit}; {value} is out of range."})


def _resolve_image(*, image_name: str, custom_image: str, flavor) -> str:
    if bool(image_name) == bool(custom_image):
        raise ValidationError({"image_name": f"Choose one of the catalogue's images ({', '.join(IMAGES)}) or give a "
                                             "custom_image, not both."})
    if custom_image:
        return custom_image
    image = IMAGES.get(image_name)
    if image is None:
        raise ValidationError({"image_name": f"No image '{image_name}' in the catalogue; choose one of: "
                                             f"{', '.join(IMAGES)}."})
    if image.accelerator_kind != flavor.accelerator_kind:
        fits = [i.name for i in IMAGES.values() if i.accelerator_kind == flavor.accelerator_kind]
        raise ValidationError({"flavor": f"Image '{image_name}' runs on {image.accelerator_kind} flavors; "
                                         f"'{flavor.name}' has {flavor.accelerator_kind}. Choose a matching flavor"
                                         + (f" or the image {', '.join(fits)}." if fits else ".")})
    return image.image


def _new_run(notebook: Notebook, *, created_by) -> Workload:
    """A workload for the notebook's next run, queued for admission."""
    base = proxy_path(notebook)
    env = {**notebook.env, NOTEBOOK_ID_ENV: str(notebook.pk), "AIP_HEALTH_PATH": f"{base}api"}
    try:
        return pool_services.create_workload(
            workspace=notebook.workspace, pool=notebook.pool, name=notebook.name, kind=NOTEBOOK_KIND,
            created_by=created_by, pod_sets=[{"name": ROLE, "replicas": 1, "flavor": notebook.flavor}],
            image=notebook.image, command=["python", "-m", "notebooks.runtime.lab", f"--base-url={base}"],
            env=env, max_runtime_seconds=notebook.max_lifetime_seconds)
    except ValidationError as exc:
        raise ValidationError({WORKLOAD_TO_NOTEBOOK_FIELDS.get(k, k): v for k, v in exc.detail.items()}) from None


@transaction.atomic
def create_notebook(*, workspace, created_by, name: str, pool, flavor, storage_gib: int, image_name: str = "",
                    custom_image: str = "", env: dict | None = None, idle_timeout_seconds: int | None = None,
                    max_lifetime_seconds: int | None = None) -> Notebook:
    """Validate the notebook and queue its first run."""
    image = _resolve_image(image_name=image_name, custom_image=custom_image, flavor=flavor)
    _check_range("storage_gib", storage_gib, 1, settings.NOTEBOOK_MAX_STORAGE_GIB, "GiB")
    idle_timeout_seconds = idle_timeout_seconds or settings.NOTEBOOK_IDLE_TIMEOUT_SECONDS
    _check_range("idle_timeout_seconds", idle_timeout_seconds, *settings.NOTEBOOK_IDLE_TIMEOUT_RANGE)
    _check_range("max_lifetime_seconds", max_lifetime_seconds, *settings.NOTEBOOK_MAX_LIFETIME_RANGE)
    _check_env_names(env or {})
    if Notebook.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError({"name": f"A notebook named '{name}' exists here already; choose another name."})
    notebook = Notebook(
        workspace=workspace, name=name, image_name=image_name, custom_image=custom_image, image=image,
        flavor=flavor, pool=pool, storage_gib=storage_gib, env=env or {}, idle_timeout_seconds=idle_timeout_seconds,
        max_lifetime_seconds=max_lifetime_seconds, created_by=created_by)
    notebook.workload = _new_run(notebook, created_by=created_by)
    notebook.full_clean()
    notebook.save()
    return notebook


def _locked(notebook: Notebook) -> Notebook:
    return Notebook.objects.select_for_update().select_related("workload", "workspace", "flavor", "pool").get(
        pk=notebook.pk)


@transaction.atomic
def start_notebook(*, notebook: Notebook, started_by) -> Notebook:
    """A new run on the same storage; refused while a run is still under way."""
    notebook = _locked(notebook)
    if notebook.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"The notebook is {notebook.workload.phase}; stop it first, or restart it.",
                       code="notebook_not_stopped")
    return _start(notebook, started_by=started_by)


def _start(notebook: Notebook, *, started_by) -> Notebook:
    busy = _volume_users(notebook).values_list("name", flat=True).first()
    if busy is not None:
        raise Conflict(f"Training job '{busy}' works on the notebook's storage; start the notebook once it ends.",
                       code="notebook_storage_in_use")
    notebook.workload = _new_run(notebook, created_by=started_by)
    notebook.runs += 1
    notebook.last_activity_at = None
    notebook.save(update_fields=["workload", "runs", "last_activity_at"])
    return notebook


@transaction.atomic
def stop_notebook(*, notebook: Notebook, stopped_by) -> Notebook:
    notebook = _locked(notebook)
    pool_services.stop_workload(workload=notebook.workload, stopped_by=stopped_by)
    return notebook


@transaction.atomic
def restart_notebook(*, notebook: Notebook, restarted_by) -> Notebook:
    """Stop the current run (if any) and queue a new one on the same storage."""
    notebook = _locked(notebook)
    if notebook.workload.phase not in TERMINAL_PHASES:
        pool_services.stop_workload(workload=notebook.workload, stopped_by=restarted_by)
    return _start(notebook, started_by=restarted_by)


def start_training_job(*, notebook: Notebook, created_by, name: str, command: list, flavor, pool,
                       env: dict | None = None, max_runtime_seconds: int | None = None, priority: int = 0):
    """A training job with the notebook's image whose working folder is the notebook's storage, so
    the code debugged there runs as a job. The notebook must be stopped (its storage takes one user
    at a time) and stays so until the job ends."""
    from training.services import create_training_job  # training sits beside notebooks, both on k8s

    notebook = Notebook.objects.select_related("workload", "workspace").get(pk=notebook.pk)
    pool_services.check_pool_available(workspace=notebook.workspace, pool=pool)
    if notebook.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"The notebook is {notebook.workload.phase}; stop it first, so that the job alone works on "
                       "its storage.", code="notebook_not_stopped")
    _check_env_names(env or {})
    return create_training_job(workspace=notebook.workspace, created_by=created_by, name=name, flavor=flavor,
                               pool=pool, image=notebook.image, command=command, priority=priority,
                               env={**(env or {}), NOTEBOOK_ID_ENV: str(notebook.pk)},
                               max_runtime_seconds=max_runtime_seconds,
                               description=f"Started from notebook '{notebook.name}'.")


@transaction.atomic
def delete_notebook(*, notebook: Notebook, confirm: str) -> None:
    """Delete a stopped notebook and its storage, once `confirm` repeats its name. Its runs'
    workloads stay (their history and what they were billed)."""
    notebook = _locked(notebook)
    if confirm != notebook.name:
        raise ValidationError({"confirm": f"Deleting the notebook deletes its storage and every file on it; repeat "
                                          f"its name ('{notebook.name}') in confirm to go ahead."})
    if notebook.workload.phase not in TERMINAL_PHASES:
        raise Conflict(f"The notebook is {notebook.workload.phase}; stop it first, then delete it.",
                       code="notebook_not_stopped")
    if _volume_users(notebook).exists():
        raise Conflict("A training job works on the notebook's storage; delete the notebook once it ends.",
                       code="notebook_storage_in_use")
    workspace_id, volume = notebook.workspace_id, notebook.volume_name
    notebook.delete()
    transaction.on_commit(lambda: compute.delete_volume(workspace_id=workspace_id, name=volume))


# --- access and activity ------------------------------------------------------------------------


def endpoint(notebook: Notebook) -> str | None:
    """The base URL where its Jupyter server answers (http://host:port), or None while it does not."""
    bases = get_compute_backend().endpoints(compute.workload_spec(notebook.workload), ROLE)
    return bases[0] if bases else None


def jupyter_status(notebook: Notebook) -> dict | None:
    """Jupyter's own /api/status (last_activity, kernels, connections), or None when it does not answer."""
    try:
        base = endpoint(notebook)
    except BackendUnavailable:
        return None
    if base is None:
        return None
    request = urllib.request.Request(f"{base}{proxy_path(notebook)}api/status",
                                     headers={"Authorization": f"token {notebook_token(notebook.pk)}"})
    try:
        with urllib.request.urlopen(request, timeout=settings.NOTEBOOK_STATUS_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def stop_idle_notebooks(*, now=None) -> list[str]:
    """Stop running notebooks whose Jupyter reports no kernel or terminal activity for their idle
    timeout (counted from the run's start when Jupyter cannot be asked)."""
    now = now or timezone.now()
    stopped = []
    for notebook in selectors.running_notebooks():
        status = jupyter_status(notebook)
        activity = status and status.get("last_activity")
        last = datetime.fromisoformat(activity.replace("Z", "+00:00")) if activity else None
        if last and last != notebook.last_activity_at:
            Notebook.objects.filter(pk=notebook.pk).update(last_activity_at=last)
        since = max(filter(None, (last, notebook.workload.started_at)))
        if now - since < timedelta(seconds=notebook.idle_timeout_seconds):
            continue
        with transaction.atomic():
            workload = Workload.objects.select_for_update().get(pk=notebook.workload_id)
            if workload.phase != Phase.RUNNING:
                continue
            pool_services.transition_workload(
                workload=workload, to=Phase.STOPPING, reason="IdleTimeout",
                message=f"No kernel or terminal activity for {notebook.idle_timeout_seconds} s; stopped.")
        stopped.append(str(notebook.pk))
    return stopped


@dataclass(frozen=True)
class ProxyTarget:
    """What the gateway needs to pass a request to a notebook's Jupyter server."""

    workload_id: str  # its current run's (a phase change of it drops the gateway's cached copy)
    phase: str
    message: str
    base: str | None  # http://host:port, None while it does not answer
    token: str = field(repr=False)


def proxy_target(*, workspace_id: str, notebook_id: str) -> ProxyTarget | None:
    """The notebook of this workspace (None: no such notebook here, whatever the reason)."""
    if not (is_uuid(workspace_id) and is_uuid(notebook_id)):
        return None
    notebook = Notebook.objects.filter(pk=notebook_id, workspace_id=workspace_id).select_related("workload").first()
    if notebook is None:
        return None
    base = None
    if notebook.workload.phase == Phase.RUNNING:
        try:
            base = endpoint(notebook)
        except BackendUnavailable:
            base = None
    return ProxyTarget(workload_id=str(notebook.workload_id), phase=notebook.workload.phase,
                       message=notebook.workload.message, base=base, token=notebook_token(notebook.pk))

import time
import urllib.request

import pytest

from aiplatform.celery import app as celery_app
from k8s import services as compute
from notebooks import services
from notebooks.models import Notebook
from resourcepools.admission import admit_workloads
from resourcepools.models import TERMINAL_PHASES, Phase, Workload
from tests.factories import cpu_flavor, make_pool
from tests.k8s.conftest import cluster, kube_backend  # noqa: F401  (the Kubernetes API emulator, the backend on it)


@pytest.fixture
def pool(db):
    return make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """What commits sends its tasks (submits, cancels), which run at once, in this process."""
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = False


def url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.pk}/notebooks/{suffix}"


def body(pool, **changes):
    return {"name": "lab", "image_name": "jupyterlab-cpu", "flavor": "cpu.8u32g", "pool": str(pool.pk),
            "storage_gib": 5, "idle_timeout_seconds": 600, **changes}


def drive(eager, notebook_id, *, until=(Phase.RUNNING, *TERMINAL_PHASES), timeout=120) -> Workload:
    """Admission, submits and reconcile passes until the notebook's current run is in `until`
    (the bound only stops a hung test)."""
    give_up = time.monotonic() + timeout
    while True:
        workload = Notebook.objects.select_related("workload").get(pk=notebook_id).workload
        if workload.phase in until:
            return workload
        assert time.monotonic() < give_up, (workload.phase, workload.message)
        with eager():
            admit_workloads()
            if workload.phase == Phase.ADMITTED:
                compute.submit_workload(workload_id=workload.pk)
            compute.reconcile()
        time.sleep(0.2)


def drive_workload(eager, workload_id, *, timeout=120) -> Workload:
    """Admission, submits and reconcile passes until the workload (a job's) has ended."""
    give_up = time.monotonic() + timeout
    while True:
        workload = Workload.objects.get(pk=workload_id)
        if workload.phase in TERMINAL_PHASES:
            return workload
        assert time.monotonic() < give_up, (workload.phase, workload.message)
        with eager():
            admit_workloads()
            if workload.phase == Phase.ADMITTED:
                compute.submit_workload(workload_id=workload.pk)
            compute.reconcile()
        time.sleep(0.2)


def wait_ready(notebook_id, timeout=120) -> str:
    """The notebook's Jupyter base URL once it answers its health path."""
    give_up = time.monotonic() + timeout
    while True:
        notebook = Notebook.objects.select_related("workload").get(pk=notebook_id)
        base = services.endpoint(notebook)
        if base:
            return base + services.proxy_path(notebook)
        assert time.monotonic() < give_up, "Jupyter did not answer"
        time.sleep(0.3)


def jupyter(base: str, notebook_id, path: str, *, method="GET", data: bytes | None = None):
    request = urllib.request.Request(base + path, method=method, data=data, headers={
        "Authorization": f"token {services.notebook_token(notebook_id)}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()

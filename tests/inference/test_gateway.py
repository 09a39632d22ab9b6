"""A real service on the local backend — the model the CPU preset trained, served by the built-in
runtime in a child process — invoked through the platform's gateway."""

import json
import time
import urllib.request

import pytest

from aiplatform.models import Role
from inference.models import ServiceTraffic
from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, cpu_flavor, make_pool, member_of, write_text_manifest
from training.runtime import text_classifier

pytestmark = pytest.mark.django_db


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
    (local_root / "work").mkdir()
    manifest = local_root / "work" / "manifest.jsonl"
    write_text_manifest(manifest)
    text_classifier.main([f"--data=file://{manifest}", f"--output_dir=file://{local_root / 'work' / 'out'}",
                          "--epochs=4"])
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    base = f"/api/v1/workspaces/{workspace.id}"
    model = developer_client.post(f"{base}/models/", {"name": "news", "source": "storage", "uri": "file://work/out",
                                                       "runtime": "builtin"}, format="json").json()
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


def sse_content(response) -> str:
    body = b"".join(response.streaming_content).decode()
    events = [line[len("data: "):] for line in body.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    return "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])


def test_chat_through_the_gateway_streams_and_is_counted(developer_client, running_service, workspace):
    url, workload = running_service
    response = developer_client.post(f"{url}/v1/chat/completions", {
        "model": "news", "stream": True, "messages": [{"role": "user", "content": "the team won the match"}]},
        format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert sse_content(response) == "sport"
    predicted = developer_client.post(f"{url}/invoke/predict", {"text": "cold wind and rain"}, format="json")
    assert json.loads(b"".join(predicted.streaming_content))["label"] == "weather"
    traffic = developer_client.get(f"{url}/traffic/").json()["results"]
    assert traffic[0]["requests"] == 2 and traffic[0]["errors"] == 0
    assert traffic[0]["latency_ms_mean"] > 0
    # A viewer may call it; another tenant may not even see it.
    viewer = client_for(member_of(workspace, Role.VIEWER))
    assert viewer.post(f"{url}/invoke/predict", {"text": "goal"}, format="json").status_code == 200
    stranger = client_for(member_of(WorkspaceFactory(), Role.OWNER))
    assert stranger.post(f"{url}/invoke/predict", {"text": "goal"}, format="json").status_code == 404


def test_a_stopped_service_answers_503_in_the_error_shape(developer_client, running_service):
    url, workload = running_service
    developer_client.post(f"{url}/stop/")
    compute.cancel_workload(workload_id=workload.pk)
    # A 5xx is reported to Django's error signal, which the test client would raise.
    developer_client.raise_request_exception = False
    response = developer_client.post(f"{url}/v1/chat/completions", {"messages": []}, format="json")
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "service_unavailable"
    assert not ServiceTraffic.objects.filter(errors__gt=0).exists()

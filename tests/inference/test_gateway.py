"""A real service on the local backend — the model the CPU preset trained, served by the built-in
runtime in a child process — invoked through the platform's gateway."""

import json

import pytest

from aiplatform.models import Role
from inference.models import ServiceTraffic
from k8s import services as compute
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db


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

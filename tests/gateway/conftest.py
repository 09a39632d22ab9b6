"""The gateway served for real (uvicorn on loopback, in a thread of the test process) in front of
real upstream servers (bench/upstream.py: a paced token streamer that can hang, reset or fail),
against the test database (committed: the gateway's own threads read it) and Redis.

Services here are real rows with a running workload; which upstreams serve them is the test's
choice (`gateway.endpoints[workload id]`), given to the gateway as its `endpoints(spec, role)`
in place of the compute backend's. tests/gateway/test_processes.py runs real gateway processes
against a service the local backend runs."""

import asyncio
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import uvicorn
from rest_framework.test import APIClient

from aiplatform.models import Role
from gateway.app import Gateway
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from resourcepools.services import transition_workload
from tests.factories import WorkspaceFactory, api_token, cpu_flavor, make_pool, member_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from upstream import Options, Running  # noqa: E402

GATEWAY_REDIS_DB = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServedGateway:
    """A Gateway under uvicorn in a thread; `url`, `app`, `endpoints` (workload id → upstream
    URLs) and `call(coroutine function)` to run something on its loop."""

    def __init__(self):
        self.endpoints: dict[str, list[str]] = {}
        self.app = Gateway(endpoints=lambda spec, role: list(self.endpoints.get(spec.id, [])))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="on",
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="gateway")
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.02)

    def call(self, make):
        return asyncio.run_coroutine_threadsafe(make(), self.app.loop).result(30)

    def wait_idle(self, timeout=5.0):
        """Until no request is in flight (streams ended, cancelled ones included)."""
        deadline = time.monotonic() + timeout
        while self.app.in_flight or self.app.followers:
            assert time.monotonic() < deadline, f"still in flight: {self.app.in_flight} requests, " \
                                                f"{self.app.followers} log follows"
            time.sleep(0.02)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def gateway_settings(settings):
    settings.GATEWAY_REDIS_URL = f"redis://127.0.0.1:6379/{GATEWAY_REDIS_DB}"
    settings.GATEWAY_CACHE_SECONDS = 1
    settings.GATEWAY_METER_PUSH_SECONDS = 3600  # tests push and flush when they mean to
    settings.GATEWAY_METER_FLUSH_SECONDS = 3600
    settings.GATEWAY_READ_TIMEOUT_SECONDS = 1.5
    settings.GATEWAY_API_URL = ""
    redis.Redis.from_url(settings.GATEWAY_REDIS_URL).flushdb()
    return settings


@pytest.fixture
def gateway(transactional_db, gateway_settings):
    served = ServedGateway()
    yield served
    served.stop()


@pytest.fixture
def upstream():
    """A paced token streamer (10 ms a token)."""
    running = Running(Options(interval_ms=10))
    yield running
    running.stop()


class Tenant:
    def __init__(self):
        self.workspace = WorkspaceFactory()
        self.developer = member_of(self.workspace, Role.DEVELOPER)
        self.token = api_token(self.developer)
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        self.base = f"/api/v1/workspaces/{self.workspace.pk}"

    def service(self, name="chat", *, running=True):
        """A service of a custom runtime whose workload is running (its instances: the test's)."""
        pool = make_pool(name=f"pool-{name}-{self.workspace.pk.hex[:6]}", flavor=cpu_flavor(), nodes=2)
        model = self.client.post(f"{self.base}/models/", {
            "name": name, "source": "image", "runtime": "custom", "image": "example/runtime:1",
            "command": ["serve"]}, format="json")
        assert model.status_code == 201, model.json()
        created = self.client.post(f"{self.base}/services/", {
            "name": name, "model": model.json()["id"], "pool": str(pool.pk), "flavor": "cpu.8u32g"}, format="json")
        assert created.status_code == 201, created.json()
        service = created.json()
        workload = Workload.objects.get(pk=service["workload"])
        if running:
            admit_workloads()
            workload = transition_workload(workload=Workload.objects.get(pk=workload.pk), to=Phase.RUNNING,
                                           reason="Started", message="Running (test).")
        return service, workload

    def url(self, gateway, service, path="v1/chat/completions"):
        return f"{gateway.url}{self.base}/services/{service['id']}/{path}"


@pytest.fixture
def tenant(transactional_db):
    return Tenant()

"""Real gateway processes (`python -m gateway`) in front of a service the local backend runs in
its sandbox (bench/upstream.py as a custom runtime): the instances come from the compute backend,
two processes share their limits and write their metering once, logs are followed through the
gateway, and what the gateway does not serve goes to the API behind it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bench.upstream import Options, Running
from gateway.models import MeterBatch, TrafficMinute
from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.factories import cpu_flavor, make_pool
from tests.gateway.conftest import GATEWAY_REDIS_DB, Tenant, free_port

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def start_gateway(settings, **env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    database = settings.DATABASES["default"]
    process = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env={
        **os.environ, "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
                                      f"{database['NAME']}",
        "COMPUTE_BACKEND": "local", "LOCAL_BACKEND_DIR": str(settings.LOCAL_BACKEND_DIR),
        "LOCAL_STORAGE_ROOT": str(settings.LOCAL_STORAGE_ROOT), "GATEWAY_BIND": f"127.0.0.1:{port}",
        "GATEWAY_REDIS_URL": f"redis://127.0.0.1:6379/{GATEWAY_REDIS_DB}", "GATEWAY_CACHE_SECONDS": "1",
        "GATEWAY_METER_PUSH_SECONDS": "0.2", "GATEWAY_METER_FLUSH_SECONDS": "0.5", "LOG_LEVEL": "WARNING", **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/gateway/healthz", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "the gateway process did not start"
        time.sleep(0.1)


def running_on_the_local_backend(tenant, backend, body):
    created = tenant.client.post(f"{tenant.base}/workloads/" if "pod_sets" in body else f"{tenant.base}/services/",
                                 body, format="json")
    assert created.status_code == 201, created.json()
    workload = Workload.objects.get(pk=created.json().get("workload") or created.json()["id"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    return created.json(), workload


def test_gateway_processes_share_limits_and_meter_once_follow_logs_and_pass_the_rest_on(
        gateway_settings, local_backend, local_root, settings):
    tenant = Tenant()
    pool = make_pool(name="local", flavor=cpu_flavor(), nodes=3)
    model = tenant.client.post(f"{tenant.base}/models/", {
        "name": "fake", "source": "image", "runtime": "custom", "image": "bench/upstream:1",
        "command": ["python", str(ROOT / "bench/upstream.py"), "--interval-ms", "5"]}, format="json").json()
    service, workload = running_on_the_local_backend(tenant, local_backend, {
        "name": "fake", "model": model["id"], "pool": str(pool.pk), "flavor": "cpu.8u32g"})
    deadline = time.monotonic() + 30
    while not local_backend.endpoints(workload_spec(workload), "server") or compute.reconcile() is None or \
            Workload.objects.get(pk=workload.pk).phase != Phase.RUNNING:
        assert time.monotonic() < deadline, "the service did not come up"
        time.sleep(0.2)
    api = Running(Options())  # stands for the API behind the front door
    first, first_url = start_gateway(settings, GATEWAY_KEY_REQUESTS_PER_MINUTE="5")
    second, second_url = start_gateway(settings, GATEWAY_KEY_REQUESTS_PER_MINUTE="5", GATEWAY_API_URL=api.url)
    try:
        path = f"{tenant.base}/services/{service['id']}/v1/chat/completions"
        body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
        headers = {"Authorization": f"Bearer {tenant.token}"}
        deadline = time.monotonic() + 15  # the sandboxed runtime is listening once the first call passes
        while requests.post(first_url + path, json=body, headers=headers, timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the service never answered through the gateway"
            time.sleep(0.3)
        statuses = [requests.post(url + path, json=body, headers=headers, timeout=10).status_code
                    for url in [second_url, first_url] * 4]
        # One key, five requests a minute, whichever process takes them (the first call counted too).
        assert sorted(statuses) == [200] * 4 + [429] * 4
        deadline = time.monotonic() + 10
        while (TrafficMinute.objects.filter(service_id=service["id"]).values_list("requests", flat=True).first()
               or 0) < 5:
            assert time.monotonic() < deadline, "the metering was not written"
            time.sleep(0.2)
        time.sleep(1.5)  # more flushes of both processes: nothing is written twice
        assert TrafficMinute.objects.get(service_id=service["id"]).requests == 5
        assert TrafficMinute.objects.get(service_id=service["id"]).completion_tokens == 15
        assert MeterBatch.objects.exists()

        # A log followed through the gateway, until its replica ends.
        job, job_workload = running_on_the_local_backend(tenant, local_backend, {
            "name": "talker", "pool": str(pool.pk), "image": "python:3.11-slim",
            "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"],
            "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "cpu.8u32g"}]})
        followed = requests.get(f"{first_url}{tenant.base}/workloads/{job['id']}/logs/?follow=true", headers=headers,
                                timeout=30, stream=True)
        assert followed.status_code == 200 and followed.headers["Content-Type"].startswith("text/plain")
        assert followed.text.splitlines() == [f"line {i}" for i in range(1, 6)]
        assert requests.get(f"{first_url}/gateway/healthz", timeout=5).json()["log_followers"] == 0
        stranger = Tenant()
        other = requests.get(f"{first_url}{tenant.base}/workloads/{job['id']}/logs/?follow=true", timeout=10,
                             headers={"Authorization": f"Bearer {stranger.token}"})
        assert other.status_code == 404 and other.json()["errors"][0]["code"] == "not_found"

        # Everything else goes to the API behind, as it came; the first process serves no API.
        passed = requests.get(f"{second_url}/v1/models", timeout=5)
        assert passed.status_code == 200 and passed.json()["data"][0]["id"] == "fake"
        assert passed.headers["X-Request-Id"]
        assert requests.get(f"{first_url}/v1/models", timeout=5).json()["errors"][0]["code"] == "not_found"
        metrics = requests.get(f"{first_url}/metrics", timeout=5).text
        assert f'aip_gateway_requests_total{{code="200",service="{service["id"]}"}}' in metrics
    finally:
        for process in (first, second):
            process.terminate()
            process.wait(15)
        api.stop()

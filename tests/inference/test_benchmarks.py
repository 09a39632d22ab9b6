"""Benchmark runs: the platform's load generator as a workload against a running service, its
result posted back with a run-scoped token."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from inference import services
from inference.models import BenchmarkRun
from k8s import services as compute
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.factories import FlavorFactory, WorkspaceFactory, cpu_flavor, make_pool, member_of

pytestmark = pytest.mark.django_db

STATIC = {"input_len": 8, "output_len": 4, "concurrencies": [1, 2], "requests_per_level": 3}
DYNAMIC = {"concurrency_range": [1, 4, 1], "input_len_range": [4, 16], "output_len_range": [2, 8],
           "requests_per_level": 4, "targets": {"ttft_seconds": 0.5, "tpot_seconds": 0.05}}
RESULT = {"mode": "static", "levels": [{"concurrency": 1, "requests": 3, "errors": 0, "error_samples": [],
                                        "wall_seconds": 0.3, "output_tokens_per_second": 40.0,
                                        "requests_per_second": 10.0, "latency_seconds": {}}]}


@pytest.fixture
def cpu_pool(db):
    return make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)


def builtin_service(workspace, pool, *, name="news", running=True):
    """A built-in-runtime service whose workload the test moves along by hand (no instance runs)."""
    creator = member_of(workspace)
    model = services.create_model(workspace=workspace, created_by=creator, name=name, source="storage",
                                  uri=f"file://ws-{workspace.pk}/models/none", runtime="builtin")
    flavor = pool.nodes.first().flavor
    service = services.create_service(workspace=workspace, created_by=creator, model=model, pool=pool, flavor=flavor,
                                      name=name)
    admit_workloads()
    if running:
        pool_services.transition_workload(workload=service.workload, to=Phase.RUNNING, reason="Running")
    return service


def benchmarks_url(service, suffix=""):
    return f"/api/v1/workspaces/{service.workspace_id}/services/{service.pk}/benchmarks/{suffix}"


def make_run(service, pool) -> BenchmarkRun:
    """A run whose workload is queued, as create_benchmark_run leaves it (without an instance to aim at)."""
    run = BenchmarkRun.objects.create(workspace=service.workspace, service=service, mode="static", config=STATIC)
    run.workload = pool_services.create_workload(
        workspace=service.workspace, pool=pool, name="bench", kind="benchmark",
        pod_sets=[{"name": "client", "replicas": 1, "flavor": pool.nodes.first().flavor, "vcpus": 2,
                   "memory_gib": 4}])
    run.save()
    return run


def post_result(client, run_id, token, body=None):
    return client.post(f"/api/v1/benchmark-runs/{run_id}/result/", {"result": body or RESULT}, format="json",
                       HTTP_AUTHORIZATION=f"Benchmark {token}")


@pytest.mark.parametrize(
    ("mode", "config", "attr", "words"),
    [
        ("static", {**STATIC, "concurrencies": []}, "config.concurrencies", "at least one concurrency"),
        ("static", {**STATIC, "concurrencies": [1, 0]}, "config.concurrencies.1", "from 1 to 1024"),
        ("static", {**STATIC, "concurrencies": list(range(1, 40))}, "config.concurrencies", "at most 32"),
        ("static", {**STATIC, "requests_per_level": 0}, "config.requests_per_level", "from 1 to 10000"),
        ("static", {**STATIC, "input_len": 4096}, "config.input_len", "from 1 to 4095"),
        ("static", {**STATIC, "input_len": 4000, "output_len": 200}, "config.output_len", "from 1 to 96"),
        ("static", {k: v for k, v in STATIC.items() if k != "output_len"}, "config.output_len", "whole number"),
        ("dynamic", {**DYNAMIC, "concurrency_range": [8, 2, 1]}, "config.concurrency_range", "inverted"),
        ("dynamic", {**DYNAMIC, "concurrency_range": [1, 1000, 1]}, "config.concurrency_range", "larger step"),
        ("dynamic", {**DYNAMIC, "input_len_range": [64, 16]}, "config.input_len_range", "inverted"),
        ("dynamic", {**DYNAMIC, "output_len_range": [2]}, "config.output_len_range", "[low, high]"),
        ("dynamic", {**DYNAMIC, "targets": {}}, "config.targets", "ttft_seconds"),
        ("dynamic", {**DYNAMIC, "targets": {"ttft_seconds": -1}}, "config.targets.ttft_seconds", "positive"),
        ("dynamic", {**DYNAMIC, "concurrency_range": [1, 8, 1], "requests_per_level": 10_000},
         "config.requests_per_level", "exceed 50000"),
        ("sweep", STATIC, "mode", "valid choice"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(workspace, developer_client, cpu_pool, local_root, mode, config,
                                                  attr, words):
    service = builtin_service(workspace, cpu_pool)
    response = developer_client.post(benchmarks_url(service), {"mode": mode, "config": config}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    assert words in error["detail"]
    assert not BenchmarkRun.objects.exists()


def test_a_service_that_is_not_running_or_has_no_instance_answers_409(workspace, developer_client, cpu_pool,
                                                                       local_root, local_backend):
    deploying = builtin_service(workspace, cpu_pool, running=False)
    response = developer_client.post(benchmarks_url(deploying), {"mode": "static", "config": STATIC}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["detail"] == "The service is admitted; benchmark it once it is running."
    # Running by the database, but nothing answers on the local backend.
    running = builtin_service(workspace, make_pool(name="cpu-2", flavor=cpu_pool.nodes.first().flavor), name="b")
    response = developer_client.post(benchmarks_url(running), {"mode": "dynamic", "config": DYNAMIC}, format="json")
    assert response.status_code == 409
    assert "No instance of the service is up" in response.json()["errors"][0]["detail"]
    assert not BenchmarkRun.objects.exists()


def test_a_pool_without_a_cpu_node_is_refused(workspace, developer_client, local_root):
    gpu_pool = make_pool(name="gpu", flavor=FlavorFactory(), nodes=1)
    service = builtin_service(workspace, gpu_pool)
    response = developer_client.post(benchmarks_url(service), {"mode": "static", "config": STATIC}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "service" and "no CPU node" in error["detail"]


def test_viewers_read_and_another_tenant_gets_404(workspace, developer_client, cpu_pool, local_root):
    service = builtin_service(workspace, cpu_pool)
    run = make_run(service, cpu_pool)
    viewer = client_for(member_of(workspace, Role.VIEWER))
    assert viewer.get(benchmarks_url(service, f"{run.pk}/")).status_code == 200
    assert viewer.post(benchmarks_url(service), {"mode": "static", "config": STATIC}, format="json").status_code == 403
    stranger = client_for(member_of(WorkspaceFactory(), Role.OWNER))
    assert stranger.get(benchmarks_url(service)).status_code == 404
    assert stranger.post(benchmarks_url(service), {"mode": "static", "config": STATIC},
                         format="json").status_code == 404
    assert stranger.get(benchmarks_url(service, f"{run.pk}/")).status_code == 404
    assert stranger.post(benchmarks_url(service, f"{run.pk}/stop/")).status_code == 404
    assert developer_client.get(benchmarks_url(service, "not-a-uuid/")).status_code == 404
    other = f"/api/v1/workspaces/{workspace.pk}/services/00000000-0000-0000-0000-000000000000/benchmarks/"
    assert developer_client.get(other).status_code == 404


def test_runs_are_listed_per_service_without_more_queries_per_run(workspace, developer_client, cpu_pool,
                                                                   local_root):
    service = builtin_service(workspace, cpu_pool)
    other = builtin_service(workspace, cpu_pool, name="other")
    make_run(other, cpu_pool)

    def listed():
        with CaptureQueriesContext(connection) as queries:
            response = developer_client.get(benchmarks_url(service))
        assert response.status_code == 200
        return response.json(), len(queries)

    listed()  # the API key's first use of the test records it, once
    make_run(service, cpu_pool)
    body, few = listed()
    assert body["count"] == 1
    for _ in range(4):
        make_run(service, cpu_pool)
    body, many = listed()
    assert body["count"] == 5 and many == few
    assert {r["state"]["status"] for r in body["results"]} == {"queued"}
    assert body["results"][0]["result"] is None


def test_the_token_posts_the_result_once_for_its_run_only(workspace, developer_client, cpu_pool, local_root,
                                                          anonymous_client):
    service = builtin_service(workspace, cpu_pool)
    run, other = make_run(service, cpu_pool), make_run(service, cpu_pool)
    token = services.benchmark_token(run)
    # Elsewhere the token is nothing: not for another run, not as an API key, not for a job's metrics.
    assert post_result(anonymous_client, other.pk, token).status_code == 403
    assert anonymous_client.get(benchmarks_url(service), HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert anonymous_client.post(f"/api/v1/training-jobs/{run.pk}/metrics/", {"metrics": []}, format="json",
                                 HTTP_AUTHORIZATION=f"Job {token}").status_code == 401
    assert post_result(anonymous_client, run.pk, token + "x").status_code == 401
    assert post_result(developer_client, run.pk, "").status_code == 401
    # The API key of a workspace member does not post results either.
    assert developer_client.post(f"/api/v1/benchmark-runs/{run.pk}/result/", {"result": RESULT},
                                 format="json").status_code == 401
    wrong = post_result(anonymous_client, run.pk, token, {**RESULT, "mode": "dynamic"})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["attr"] == "result.mode"

    ok = post_result(anonymous_client, run.pk, token)
    assert ok.status_code == 202, ok.json()
    stored = developer_client.get(benchmarks_url(service, f"{run.pk}/")).json()
    assert stored["result"] == RESULT and stored["result_received_at"]
    assert stored["state"]["status"] == "succeeded"
    assert post_result(anonymous_client, run.pk, token).status_code == 409


def test_the_token_dies_when_the_runs_workload_ends(workspace, developer_client, cpu_pool, local_root,
                                                    anonymous_client):
    service = builtin_service(workspace, cpu_pool)
    run = make_run(service, cpu_pool)
    token = services.benchmark_token(run)
    stopped = developer_client.post(benchmarks_url(service, f"{run.pk}/stop/"))
    assert stopped.status_code == 200 and stopped.json()["state"]["status"] == "stopped"
    response = post_result(anonymous_client, run.pk, token)
    assert response.status_code == 401
    assert "has ended" in response.json()["errors"][0]["detail"]


class Receiver(BaseHTTPRequestHandler):
    """Stands in for the platform's address: keeps what the load generator reports."""

    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Authorization"], json.loads(body)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.PLATFORM_URL = f"http://127.0.0.1:{server.server_port}"
    yield Receiver.received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "config"), [
    ("static", {"input_len": 6, "output_len": 4, "concurrencies": [1, 2], "requests_per_level": 4}),
    ("dynamic", {"concurrency_range": [1, 2, 1], "input_len_range": [2, 8], "output_len_range": [1, 4],
                 "requests_per_level": 4, "targets": {"ttft_seconds": 10}}),
])
def test_a_real_load_generator_benchmarks_a_real_service(developer_client, anonymous_client, running_service,
                                                         local_backend, receiver, mode, config):
    url, service_workload = running_service
    response = developer_client.post(f"{url}/benchmarks/", {"mode": mode, "config": config}, format="json")
    assert response.status_code == 201, response.json()
    run = response.json()
    assert run["state"]["status"] == "queued" and run["result"] is None
    workload = Workload.objects.get(pk=run["workload"])
    assert workload.kind == "benchmark"
    assert [(p.name, p.replicas, p.accelerators, p.flavor.name) for p in workload.pod_sets.all()] == [
        ("client", 1, 0, "cpu.8u32g")]
    assert workload.command[:3] == ["python", "-m", "inference.loadgen"]
    assert workload.env["AIP_BENCHMARK_TARGET"].endswith("/v1/chat/completions")
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    for _ in range(150):
        if receiver:
            break
        time.sleep(0.1)
    assert receiver, "the load generator reported nothing"
    path, authorization, body = receiver[0]
    # What reached the stand-in is posted to the platform as it would have been.
    assert path == f"/api/v1/benchmark-runs/{run['id']}/result/"
    posted = anonymous_client.post(path, body, format="json", HTTP_AUTHORIZATION=authorization)
    assert posted.status_code == 202, posted.json()
    for _ in range(100):
        compute.reconcile()
        workload.refresh_from_db()
        if workload.phase == Phase.SUCCEEDED:
            break
        time.sleep(0.1)
    assert workload.phase == Phase.SUCCEEDED
    listed = developer_client.get(f"{url}/benchmarks/").json()["results"]
    assert [r["id"] for r in listed] == [run["id"]]
    result = listed[0]["result"]
    assert listed[0]["state"]["status"] == "succeeded"
    assert result["mode"] == mode
    if mode == "dynamic":
        assert result["targets"] == {"ttft_seconds": 10}
        assert result["highest_concurrency_meeting_targets"] == 2
    assert [level["concurrency"] for level in result["levels"]] == [1, 2]
    for level in result["levels"]:
        assert level["requests"] == 4 and level["errors"] == 0, level["error_samples"]
        assert level["requests_per_second"] > 0
        assert level["latency_seconds"]["ttft"]["p50"] > 0
    # The run has ended: its token is worth nothing now.
    assert anonymous_client.post(path, body, format="json", HTTP_AUTHORIZATION=authorization).status_code == 401


def test_a_service_is_deleted_with_its_runs_once_none_runs(workspace, developer_client, cpu_pool, local_root):
    service = builtin_service(workspace, cpu_pool)
    run = make_run(service, cpu_pool)
    for phase in (Phase.STOPPING, Phase.STOPPED):
        pool_services.transition_workload(workload=service.workload, to=phase, reason="Stopped")
    url = f"/api/v1/workspaces/{workspace.pk}/services/{service.pk}/"
    response = developer_client.delete(url)
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "benchmark_running"
    developer_client.post(benchmarks_url(service, f"{run.pk}/stop/"))
    assert developer_client.delete(url).status_code == 204
    assert not BenchmarkRun.objects.exists()
    assert not Workload.objects.filter(kind="benchmark").exists()

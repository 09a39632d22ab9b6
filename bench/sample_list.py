"""Serves the sample list API with gunicorn (2 workers) on PostgreSQL and loads it with 4
concurrent clients for 15 s: a page of 100 samples of the 100,000-sample dataset of
bench/dataset_import.py, filtered by label. Prints p50/p99 latency, requests/s, and the SQL
queries per request for pages of 10 and of 100.

The load comes from wrk (Debian's package `wrk`; `make bench` installs it), which takes little of
the two cores it shares with the server; without wrk, from a bounded Python client, which takes
about half a millisecond of CPU per request more.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_datasets .venv/bin/python bench/sample_list.py
"""

import http.client
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

from common import ROOT, cpu_seconds, ensure_database, free_port, host_speed, load_average

CLIENTS = 4
SECONDS = 15


def load_with_wrk(port: int, path: str, token: str, seconds: float) -> dict:
    """Latency percentiles and throughput that wrk measures (each request on a new connection,
    as gunicorn's sync workers close every one)."""
    output = subprocess.run(
        ["wrk", f"-t{CLIENTS}", f"-c{CLIENTS}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout

    def milliseconds(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    requests = int(re.search(r"^\s+(\d+) requests in", output, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"p50": milliseconds("50"), "p99": milliseconds("99"), "requests": requests,
            "failed": int(errors.group(1)) if errors else 0, "client": "wrk"}


def load_with_python(port: int, path: str, token: str, seconds: float) -> dict:
    latencies, failed = load(port, path, token, seconds)
    latencies.sort()
    return {"p50": statistics.median(latencies) * 1000, "p99": latencies[int(len(latencies) * 0.99)] * 1000,
            "requests": len(latencies), "failed": failed, "client": "Python client"}


def load(port: int, path: str, token: str, seconds: float) -> tuple[list[float], int]:
    latencies, failures = [], []
    deadline = time.perf_counter() + seconds

    def client():
        mine = []
        while (started := time.perf_counter()) < deadline:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", path, headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1"})
            response = connection.getresponse()
            response.read()
            connection.close()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(response.status)
        latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, len(failures)


def main():
    ensure_database()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from aiplatform import services as platform
    from datasets.models import Dataset

    dataset = Dataset.objects.filter(name="import-100000", sample_count=100_000).order_by("-created_at").first()
    assert dataset is not None, "run bench/dataset_import.py first: it builds the 100,000-sample dataset"
    owner = dataset.workspace.memberships.get(role="owner").user
    token = platform.create_api_key(user=owner, name="bench").token
    path = f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/samples/?label=cat&page_size="

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    client.get(path + "10")  # the key's first use records its last-used time once
    queries = {}
    for size in (10, 100):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path + str(size))
        assert response.status_code == 200 and len(response.json()["results"]) == size, response.content[:300]
        queries[size] = len(captured.captured_queries)

    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "aiplatform.wsgi", "--workers", "2", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env={**os.environ, "ALLOWED_HOSTS": "127.0.0.1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        measure = load_with_wrk if shutil.which("wrk") else load_with_python
        measure(port, path + "100", token, 2)  # warms both workers' connections and caches
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        cpu = sum(cpu_seconds(pid) for pid in workers)
        result = measure(port, path + "100", token, SECONDS)
        cpu = sum(cpu_seconds(pid) for pid in workers) - cpu
    finally:
        server.terminate()
        server.wait()
    print(
        f"sample list, page of 100 filtered by label, {CLIENTS} clients ({result['client']}) for {SECONDS} s "
        f"on gunicorn (2 workers): p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
        f"{result['requests'] / SECONDS:.0f} requests/s, {result['failed']} failed; "
        f"{cpu / result['requests'] * 1000:.1f} ms of worker CPU per request; "
        f"SQL queries per request: {queries[10]} for a page of 10, {queries[100]} for a page of 100; "
        f"load average {load_average()}; host speed {host_speed()} (lower is faster)"
    )


if __name__ == "__main__":
    main()

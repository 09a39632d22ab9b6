"""The platform's load generator: an OpenAI-compatible streaming client that measures what a
service delivers.

Per request: TTFT (time to the first content token), inter-token latencies, TPOT (time per
output token after the first = (end-to-end − TTFT) ÷ (output tokens − 1)) and end-to-end
latency. Per load level: output tokens/s and requests/s over the level's wall time, p50/p90/p99
of each latency, and the errors.

  static  — fixed input and output lengths, a list of concurrencies, N requests each;
  dynamic — concurrency stepping through a range, lengths drawn from ranges; reports each level
            and the highest concurrency whose p90 TTFT and p90 TPOT meet the targets. With
            `arrival_rates` instead, each level is an open loop: requests arrive as a Poisson process
            at that many per second (exponential gaps, seeded), however many are in flight, and the
            answer names the highest rate that meets the targets.

Run as a workload: `python -m inference.loadgen --config '<json>'`; the result is printed as
JSON and, with AIP_BENCHMARK_URL and AIP_BENCHMARK_TOKEN, posted to the platform."""

import argparse
import http.client
import json
import os
import random
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field


@dataclass
class RequestResult:
    ok: bool
    ttft: float = 0.0
    e2e: float = 0.0
    output_tokens: int = 0
    itls: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def tpot(self) -> float | None:
        if self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def prompt_of(tokens: int, rng: random.Random) -> str:
    words = ("alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta")
    return " ".join(rng.choice(words) for _ in range(tokens))


def stream_request(url: str, *, model: str, prompt: str, max_tokens: int, headers: dict,
                   timeout: float = 120.0) -> RequestResult:
    parts = urllib.parse.urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                       "stream": True, "ignore_eos": True, "stream_options": {"include_usage": True}})
    start = time.perf_counter()
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path or "/", body=body,
                           headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        if response.status != 200:
            detail = response.read(300).decode(errors="replace")
            return RequestResult(ok=False, error=f"HTTP {response.status}: {detail}")
        result, last = RequestResult(ok=True), None
        usage_tokens = None
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            data = line[len("data:"):].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("usage"):
                usage_tokens = chunk["usage"].get("completion_tokens")
            choices = chunk.get("choices") or []
            if not choices or not choices[0].get("delta", {}).get("content"):
                continue
            now = time.perf_counter()
            if last is None:
                result.ttft = now - start
            else:
                result.itls.append(now - last)
            last = now
            result.output_tokens += 1
        result.e2e = time.perf_counter() - start
        if usage_tokens:
            result.output_tokens = max(result.output_tokens, usage_tokens)
        if last is None:
            return RequestResult(ok=False, e2e=result.e2e, error="The stream ended without a token.")
        return result
    except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        return RequestResult(ok=False, e2e=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def summarise(results: list[RequestResult], wall: float, concurrency: int) -> dict:
    good = [r for r in results if r.ok]
    stats = {}
    for name, values in (
        ("ttft", [r.ttft for r in good]),
        ("tpot", [t for r in good if (t := r.tpot) is not None]),
        ("itl", [x for r in good for x in r.itls]),
        ("e2e", [r.e2e for r in good]),
    ):
        stats[name] = {f"p{q}": percentile(values, q) for q in (50, 90, 99)}
    tokens = sum(r.output_tokens for r in good)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "errors": len(results) - len(good),
        "error_samples": sorted({r.error for r in results if not r.ok})[:3],
        "wall_seconds": wall,
        "output_tokens_per_second": tokens / wall if wall else 0.0,
        "requests_per_second": len(good) / wall if wall else 0.0,
        "latency_seconds": stats,
    }


def run_level(url: str, *, model: str, concurrency: int, requests: int, input_len, output_len, headers: dict,
              rng: random.Random) -> dict:
    """`input_len`/`output_len` are ints (static) or (low, high) ranges (dynamic)."""

    def draw(length):
        return rng.randint(*length) if isinstance(length, (list, tuple)) else length

    jobs = [(prompt_of(draw(input_len), rng), draw(output_len)) for _ in range(requests)]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda job: stream_request(url, model=model, prompt=job[0], max_tokens=job[1],
                                                           headers=headers), jobs))
    return summarise(results, time.perf_counter() - start, concurrency)


def run_poisson_level(url: str, *, model: str, rate: float, requests: int, input_len, output_len, headers: dict,
                      rng: random.Random, max_in_flight: int = 1024) -> dict:
    """An open-loop level: request i starts at the sum of i exponential gaps of mean 1/rate."""
    jobs, at = [], 0.0
    for _ in range(requests):
        at += rng.expovariate(rate)
        jobs.append((at, prompt_of(rng.randint(*input_len), rng), rng.randint(*output_len)))
    start = time.perf_counter()

    def send(job):
        delay = start + job[0] - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        return stream_request(url, model=model, prompt=job[1], max_tokens=job[2], headers=headers)

    with ThreadPoolExecutor(max_workers=min(requests, max_in_flight)) as pool:
        results = list(pool.map(send, jobs))
    level = summarise(results, time.perf_counter() - start, concurrency=0)
    del level["concurrency"]
    return {"arrival_rate": rate, **level}


def _meets(level: dict, targets: dict) -> bool:
    p90 = level["latency_seconds"]
    return level["errors"] == 0 and all(
        p90[name]["p90"] is not None and p90[name]["p90"] <= limit
        for name, limit in (("ttft", targets.get("ttft_seconds")), ("tpot", targets.get("tpot_seconds")))
        if limit is not None
    )


def run(config: dict, *, url: str, headers: dict | None = None) -> dict:
    """Run a static or dynamic benchmark described by `config` against a chat-completions URL."""
    headers = headers or {}
    rng = random.Random(config.get("seed", 0))
    model = config.get("model", "model")
    requests = config["requests_per_level"]
    if config["mode"] == "static":
        levels = [run_level(url, model=model, concurrency=c, requests=requests, input_len=config["input_len"],
                            output_len=config["output_len"], headers=headers, rng=rng)
                  for c in config["concurrencies"]]
        return {"mode": "static", "levels": levels}
    targets = config.get("targets", {})
    if config.get("arrival_rates"):
        levels, best = [], None
        for rate in config["arrival_rates"]:
            level = run_poisson_level(url, model=model, rate=rate, requests=requests,
                                      input_len=config["input_len_range"], output_len=config["output_len_range"],
                                      headers=headers, rng=rng)
            level["meets_targets"] = _meets(level, targets)
            levels.append(level)
            if level["meets_targets"]:
                best = rate
        return {"mode": "dynamic", "arrival": "poisson", "levels": levels, "targets": targets,
                "highest_arrival_rate_meeting_targets": best}
    low, high, step = config["concurrency_range"]
    levels, best = [], None
    for concurrency in range(low, high + 1, step):
        level = run_level(url, model=model, concurrency=concurrency, requests=requests,
                          input_len=config["input_len_range"], output_len=config["output_len_range"],
                          headers=headers, rng=rng)
        level["meets_targets"] = _meets(level, targets)
        levels.append(level)
        if level["meets_targets"]:
            best = concurrency
    return {"mode": "dynamic", "levels": levels, "targets": targets, "highest_concurrency_meeting_targets": best}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark an OpenAI-compatible chat endpoint.")
    parser.add_argument("--config", required=True, help="The benchmark as JSON (see inference.loadgen.run).")
    parser.add_argument("--url", default=os.environ.get("AIP_BENCHMARK_TARGET"))
    args = parser.parse_args(argv)
    headers = {}
    if os.environ.get("AIP_TARGET_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['AIP_TARGET_API_KEY']}"
    result = run(json.loads(args.config), url=args.url, headers=headers)
    print(json.dumps(result), flush=True)
    report_url, token = os.environ.get("AIP_BENCHMARK_URL"), os.environ.get("AIP_BENCHMARK_TOKEN")
    if report_url and token:
        request = urllib.request.Request(report_url, data=json.dumps({"result": result}).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Benchmark {token}"})
        try:
            urllib.request.urlopen(request, timeout=30).close()
        except OSError as exc:
            print(f"could not report the result: {exc}", file=sys.stderr)
            raise SystemExit(1) from exc


if __name__ == "__main__":
    main()

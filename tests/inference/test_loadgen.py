"""The load generator against a server that streams tokens at a known pace."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inference import loadgen

FIRST_TOKEN_DELAY = 0.05
TOKEN_INTERVAL = 0.01


class PacedServer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["messages"][0]["content"].startswith("fail"):
            self.send_response(503)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"busy")
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        time.sleep(FIRST_TOKEN_DELAY)
        for i in range(body["max_tokens"]):
            if i:
                time.sleep(TOKEN_INTERVAL)
            chunk = {"choices": [{"index": 0, "delta": {"content": f"t{i} "}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        usage = {"choices": [], "usage": {"completion_tokens": body["max_tokens"]}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        self.close_connection = True


@pytest.fixture(scope="module")
def paced_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), PacedServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/chat/completions"
    server.shutdown()


def test_percentiles_interpolate_like_numpy():
    assert loadgen.percentile([1, 2, 3, 4], 50) == 2.5
    assert loadgen.percentile([10], 99) == 10
    assert loadgen.percentile(list(range(1, 101)), 90) == pytest.approx(90.1)
    assert loadgen.percentile([], 50) is None


def test_static_benchmark_measures_the_known_pace(paced_url):
    result = loadgen.run({"mode": "static", "input_len": 16, "output_len": 10, "concurrencies": [1, 4],
                          "requests_per_level": 8}, url=paced_url)
    assert [level["concurrency"] for level in result["levels"]] == [1, 4]
    for level in result["levels"]:
        assert level["errors"] == 0 and level["requests"] == 8
        latency = level["latency_seconds"]
        # The server sleeps these amounts, so the client cannot see less; scheduling adds a little.
        assert FIRST_TOKEN_DELAY <= latency["ttft"]["p50"] < FIRST_TOKEN_DELAY * 4
        assert TOKEN_INTERVAL <= latency["tpot"]["p50"] < TOKEN_INTERVAL * 4
        assert TOKEN_INTERVAL * 0.9 <= latency["itl"]["p50"] < TOKEN_INTERVAL * 4
        expected_e2e = FIRST_TOKEN_DELAY + 9 * TOKEN_INTERVAL
        assert expected_e2e <= latency["e2e"]["p50"] < expected_e2e * 3
        assert level["output_tokens_per_second"] == pytest.approx(80 / level["wall_seconds"])
    # Four at a time finish the same eight requests in less wall time.
    assert result["levels"][1]["requests_per_second"] > result["levels"][0]["requests_per_second"]


def test_dynamic_benchmark_finds_the_highest_load_within_targets(paced_url):
    result = loadgen.run({"mode": "dynamic", "concurrency_range": [1, 3, 1], "input_len_range": [8, 32],
                          "output_len_range": [4, 8], "requests_per_level": 6,
                          "targets": {"ttft_seconds": 1.0, "tpot_seconds": 0.5}}, url=paced_url)
    assert [level["concurrency"] for level in result["levels"]] == [1, 2, 3]
    assert all(level["meets_targets"] for level in result["levels"])
    assert result["highest_concurrency_meeting_targets"] == 3
    strict = loadgen.run({"mode": "dynamic", "concurrency_range": [1, 1, 1], "input_len_range": [8, 8],
                          "output_len_range": [4, 4], "requests_per_level": 2,
                          "targets": {"ttft_seconds": 0.001}}, url=paced_url)
    assert strict["highest_concurrency_meeting_targets"] is None


def test_errors_are_counted_not_raised(paced_url):
    result = loadgen.stream_request(paced_url, model="m", prompt="fail please", max_tokens=3, headers={})
    assert not result.ok and result.error.startswith("HTTP 503")
    unreachable = loadgen.stream_request("http://127.0.0.1:1/v1/chat/completions", model="m", prompt="x",
                                         max_tokens=3, headers={})
    assert not unreachable.ok and "ConnectionRefusedError" in unreachable.error

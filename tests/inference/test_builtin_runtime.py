"""The built-in runtime serves what the CPU preset trained: a real server process, real HTTP."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.factories import write_text_manifest
from training.runtime import text_classifier

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def trained_model(tmp_path):
    manifest = tmp_path / "manifest.jsonl"
    write_text_manifest(manifest)
    text_classifier.main([f"--data=file://{manifest}", f"--output_dir=file://{tmp_path / 'out'}", "--epochs=4"])
    return tmp_path / "out"


@pytest.fixture
def server(trained_model):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIP_SERVE_HOST": "127.0.0.1", "AIP_SERVE_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "inference.runtime.builtin_server", "--model", f"file://{trained_model}",
         "--host", "0.0.0.0", "--port", "8000", "--served-model-name", "news"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=10)


def test_predict_and_models(server):
    with post(f"{server}/predict", {"text": "the team scored a goal in the match"}) as response:
        answer = json.loads(response.read())
    assert answer["label"] == "sport"
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-9
    with urllib.request.urlopen(f"{server}/v1/models") as response:
        assert json.loads(response.read())["data"][0]["id"] == "news"


def test_openai_compatible_chat_streams(server):
    body = {"model": "news", "stream": True, "messages": [{"role": "user", "content": "cold rain and wind"}]}
    with post(f"{server}/v1/chat/completions", body) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        events = [line[len("data: "):] for line in response.read().decode().splitlines() if line.startswith("data:")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "weather"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    with post(f"{server}/v1/chat/completions", {**body, "stream": False}) as response:
        assert json.loads(response.read())["choices"][0]["message"]["content"] == "weather"

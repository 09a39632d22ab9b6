"""The built-in Python runtime: serves the model the CPU training preset writes (`model.json`, a
hashed bag-of-words logistic regression) over HTTP, with an OpenAI-compatible chat endpoint so
the platform's gateway and benchmark client treat it like any LLM server.

    POST /predict               {"text": "..."} → {"label", "probabilities"}
    POST /v1/chat/completions   the last user message is classified; the answer is the label,
                                streamed word by word as server-sent events when "stream": true
    GET  /v1/models, /health

    python -m inference.runtime.builtin_server --model file:///…/out --port 8000
"""

import argparse
import json
import math
import os
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def load_model(uri: str) -> dict:
    """file://bucket/key is under the platform's local storage root (AIP_LOCAL_STORAGE_ROOT);
    file:///absolute/path and plain paths are taken as they are."""
    if uri.startswith("file:///") or "://" not in uri:
        path = Path(uri.removeprefix("file://"))
    else:
        path = Path(os.environ.get("AIP_LOCAL_STORAGE_ROOT", ".")) / uri.removeprefix("file://")
    if path.is_dir():
        path = path / "model.json"
    return json.loads(path.read_text())


def predict(model: dict, text: str) -> dict:
    size = model["features"]
    counts: dict[int, float] = {}
    for word in text.lower().split():
        index = zlib.crc32(word.encode()) % size
        counts[index] = counts.get(index, 0.0) + 1.0
    norm = math.sqrt(sum(v * v for v in counts.values())) or 1.0
    scores = [model["bias"][c] + sum(model["weights"][c][k] * v / norm for k, v in counts.items())
              for c in range(len(model["classes"]))]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    probabilities = {label: e / total for label, e in zip(model["classes"], exps, strict=True)}
    return {"label": max(probabilities, key=probabilities.get), "probabilities": probabilities}


def make_handler(model: dict, served_name: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            print(f"{self.address_string()} {fmt % args}", flush=True)

        def _json(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict | None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")
            except (ValueError, json.JSONDecodeError):
                self._json(400, {"error": {"message": "The body must be JSON.", "type": "invalid_request_error"}})
                return None

        def do_GET(self):
            if self.path == "/health":
                self._json(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": served_name, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": f"No route {self.path}.", "type": "not_found"}})

        def do_POST(self):
            body = self._body()
            if body is None:
                return
            if self.path == "/predict":
                if not isinstance(body.get("text"), str):
                    return self._json(400, {"error": {"message": "Give the text to classify as 'text'.",
                                                      "type": "invalid_request_error"}})
                return self._json(200, predict(model, body["text"]))
            if self.path == "/v1/chat/completions":
                return self._chat(body)
            self._json(404, {"error": {"message": f"No route {self.path}.", "type": "not_found"}})

        def _chat(self, body: dict):
            messages = body.get("messages")
            user = [m.get("content", "") for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
            if not user:
                return self._json(400, {"error": {"message": "Send at least one user message.",
                                                  "type": "invalid_request_error"}})
            answer = predict(model, str(user[-1]))["label"]
            created, ident = int(time.time()), f"chatcmpl-{uuid.uuid4().hex}"
            words = answer.split() or [answer]
            usage = {"prompt_tokens": len(str(user[-1]).split()), "completion_tokens": len(words),
                     "total_tokens": len(str(user[-1]).split()) + len(words)}
            if not body.get("stream"):
                return self._json(200, {
                    "id": ident, "object": "chat.completion", "created": created, "model": served_name,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                 "finish_reason": "stop"}],
                    "usage": usage,
                })
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for i, word in enumerate(words):
                chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": served_name,
                         "choices": [{"index": 0, "delta": {"content": word if i == 0 else f" {word}"},
                                      "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            last = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": served_name,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
            self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model.json, or the folder that holds it")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--served-model-name", default="model")
    args = parser.parse_args(argv)
    # The local compute backend gives each instance its own address on the machine.
    host = os.environ.get("AIP_SERVE_HOST", args.host)
    port = int(os.environ.get("AIP_SERVE_PORT", args.port))
    server = ThreadingHTTPServer((host, port), make_handler(load_model(args.model), args.served_model_name))
    print(f"serving {args.served_model_name} on {host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

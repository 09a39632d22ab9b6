"""The SDK and the CLI against a real platform: gunicorn serving the API and the gateway in front of
it (as `make run` starts them), on the test database, started once per test module; a Celery worker
with beat where a module needs background work; and small HTTP servers on loopback that misbehave
on purpose, for the faults a real server does not produce on demand."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from aiplatform.models import Role
from tests.factories import WorkspaceFactory, api_token, member_of
from tests.faults.conftest import drop_queue

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{url} did not come up:\n{log.read_text()[-4000:]}")
        time.sleep(0.1)


@dataclass
class Platform:
    """The running platform: `url` is the front door (the gateway), `api_url` the API behind it."""

    url: str
    api_url: str
    env: dict
    var: Path
    queue: str
    processes: list = field(default_factory=list)

    def start(self, name: str, args: list[str], **env: str) -> subprocess.Popen:
        log = self.var / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {log.name} ---\n{log.read_text()[-3000:]}" for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def start_platform(tmp_path_factory, *, worker: bool) -> Platform:
    var = tmp_path_factory.mktemp("platform")
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    api_port, front_port = free_port(), free_port()
    queue = f"sdk-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "aiplatform.settings",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "CELERY_TASK_DEFAULT_QUEUE": queue,
        "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "false", "AIP_VAR_DIR": str(var),
        "LOCAL_STORAGE_ROOT": str(var / "storage"), "LOCAL_BACKEND_DIR": str(var / "local-backend"),
        "COMPUTE_BACKEND": "local", "PLATFORM_URL": f"http://127.0.0.1:{api_port}",
        "ADMISSION_INTERVAL_SECONDS": "1", "RECONCILE_INTERVAL_SECONDS": "1", "OUTBOX_RELAY_INTERVAL_SECONDS": "2",
        "GATEWAY_CACHE_SECONDS": "1", "GATEWAY_ENDPOINTS_REFRESH_SECONDS": "1", "LOG_LEVEL": "WARNING",
    }
    platform = Platform(url=f"http://127.0.0.1:{front_port}", api_url=f"http://127.0.0.1:{api_port}", env=env,
                        var=var, queue=queue)
    try:
        api = platform.start("api", [str(BIN / "gunicorn"), "aiplatform.wsgi", "--bind", f"127.0.0.1:{api_port}",
                                     "--workers", "2", "--timeout", "120", "--graceful-timeout", "5"],
                             TRUSTED_PROXY_COUNT="1")
        wait_until_up(f"{platform.api_url}/healthz", api, var / "api.log")
        gateway = platform.start("gateway", [sys.executable, "-m", "gateway"], GATEWAY_BIND=f"127.0.0.1:{front_port}",
                                 GATEWAY_API_URL=platform.api_url)
        wait_until_up(f"{platform.url}/gateway/healthz", gateway, var / "gateway.log")
        if worker:
            platform.start("worker", [str(BIN / "celery"), "-A", "aiplatform", "worker", "--beat", "--pool", "solo",
                                      "--queues", queue, "--schedule", str(var / "beat-schedule"),
                                      "--without-gossip", "--without-mingle", "--without-heartbeat",
                                      "--loglevel", "WARNING"])
    except BaseException:
        platform.stop()
        raise
    return platform


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, tmp_path_factory):
    """The API and the gateway, on the test database; each test's rows are committed
    (transactional tests) so that the processes see them."""
    started = start_platform(tmp_path_factory, worker=False)
    yield started
    started.stop()


@pytest.fixture
def platform_with_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """The platform with a Celery worker running beat's schedule: background work and workloads
    on the local backend (sandboxed, under the worker) happen for real. One per test: it stops
    before the test's tables are emptied, which beat's passes, still writing, would deadlock."""
    started = start_platform(tmp_path_factory, worker=True)
    yield started
    started.stop()
    drop_queue(redis.Redis.from_url(settings.CELERY_BROKER_URL), started.queue)


@dataclass
class Tenant:
    workspace: object
    user: object
    token: str


@pytest.fixture
def tenant(transactional_db) -> Tenant:
    workspace = WorkspaceFactory()
    user = member_of(workspace, Role.DEVELOPER)
    return Tenant(workspace, user, api_token(user))


@pytest.fixture
def sdk_env(monkeypatch, tmp_path):
    """No settings leak in from the machine: no AIP_* variables, a config file of the test's own."""
    for name in list(os.environ):
        if name.startswith("AIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIP_CONFIG_FILE", str(tmp_path / "aip-config.json"))
    return tmp_path


# --- a server that misbehaves on purpose ------------------------------------------------------


Behaviour = Callable[[BaseHTTPRequestHandler, int], None]


class Misbehaving:
    """An HTTP server on loopback that answers each request with the next behaviour given (the last
    one repeats); it records what it was sent."""

    def __init__(self, behaviours: list[Behaviour]):
        self.behaviours = behaviours
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return None

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (ConnectionError, OSError):
                    self.close_connection = True

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                number = len(owner.requests)
                owner.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "body": body})
                self.body = body
                owner.behaviours[min(number, len(owner.behaviours) - 1)](self, number)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def misbehaving():
    servers = []

    def start(*behaviours: Behaviour) -> Misbehaving:
        servers.append(Misbehaving(list(behaviours)))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(status: int, body: bytes = b"", headers: dict | None = None) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler, number: int) -> None:
        handler.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return behave


def drop_connection(handler: BaseHTTPRequestHandler, number: int) -> None:
    """Closes the connection without a word, as a proxy or a crashed server does."""
    handler.close_connection = True
    handler.connection.shutdown(socket.SHUT_RDWR)


def forward_to(url: str, *, drop_answer: bool = False) -> Behaviour:
    """Passes the request to the real platform; with `drop_answer`, the platform acts on it but the
    client never hears back (the connection is cut before the answer)."""
    def behave(handler: BaseHTTPRequestHandler, number: int) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        reply = requests.request(handler.command, url + handler.path, headers=headers, data=handler.body,
                                 timeout=60)
        if drop_answer:
            drop_connection(handler, number)
            return
        kept = {k: v for k, v in reply.headers.items()
                if k.lower() in ("content-type", "x-request-id", "retry-after", "idempotent-replayed")}
        answer(reply.status_code, reply.content, kept)(handler, number)
    return behave

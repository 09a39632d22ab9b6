"""Real processes for fault tests: Celery workers and a gunicorn server on the test database (each
test's rows are committed: transactional tests), killed with SIGKILL where a test says so; a
queue of each test's own on the test broker, so that workers of parallel test processes never take
each other's messages; a Redis server of the test's own that it may stop and start."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
import redis
from django.db import connection

from aiplatform.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEADLINE = 60  # seconds a fault test waits for anything; none needs near that long


def wait_for(check, what: str, log: Path | None = None):
    """The first truthy result of `check`, polled until DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    tail = f"\n--- {log} ---\n{log.read_text()[-4000:]}" if log is not None and log.exists() else ""
    raise AssertionError(f"gave up waiting for {what}{tail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def blocker_connection():
    """A connection of the test's own, outside Django, to hold locks with."""
    db = connection.settings_dict
    return psycopg2.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db.get("PASSWORD") or None,
                            dbname=db["NAME"])


def query_one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@pytest.fixture
def queue(settings):
    """A queue of this test's own: its processes send to it and their workers take from it, and
    the test sends there what beat would. Afterwards its messages go, with any a killed worker left
    unacknowledged. (The in-process app keeps its default queue: Celery fixes its queues at first use.)"""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "fault tests need the Redis broker (make test)"
    name = f"faults-{uuid.uuid4().hex[:10]}"
    yield name
    drop_queue(redis.Redis.from_url(settings.CELERY_BROKER_URL), name)


def drop_queue(client: redis.Redis, name: str) -> None:
    for key in client.scan_iter(match=f"{name}*"):
        client.delete(key)
    for tag, value in client.hgetall("unacked").items():
        if json.loads(value)[-1] == name:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    for key in client.scan_iter(match="_kombu.binding.*"):
        for member in client.smembers(key):
            if name.encode() in member:
                client.srem(key, member)


def send_as_beat(task: str, queue: str) -> None:
    """Sends a periodic task to the test's queue, as beat does on its schedule."""
    celery_app.send_task(task, queue=queue)


@pytest.fixture
def process_env(transactional_db, settings, queue, local_root, tmp_path):
    """The environment of the test's processes: its database, broker, queue, keys and storage."""
    return {
        **os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue, "SECRET_KEY": settings.SECRET_KEY, "DEBUG": "false",
        "LOCAL_STORAGE_ROOT": str(settings.LOCAL_STORAGE_ROOT), "AIP_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "aiplatform.settings",
    }


@dataclass
class Process:
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        """SIGKILL to the process and every process it started: no shutdown, no acknowledgement."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_process(tmp_path):
    """Starts a process in a session of its own (so it and its children can be killed together);
    every one still running is stopped afterwards."""
    started = []

    def start(args: list, env: dict, name: str) -> Process:
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        started.append(Process(process, log))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_worker(start_process, process_env, queue):
    """A real `celery worker` on the test's queue (one task at a time, in its main process)."""
    def start(name: str, **env) -> Process:
        return start_process([str(BIN / "celery"), "-A", "aiplatform", "worker", "--pool", "solo", "--queues", queue,
                              "--hostname", f"{name}@%h", "--without-gossip", "--without-mingle",
                              "--without-heartbeat", "--loglevel", "INFO"],
                             {**process_env, **env}, name)
    return start


def run_python(code: str, env: dict) -> str:
    """Runs `code` in a fresh Django process; its output."""
    done = subprocess.run([sys.executable, "-c", f"import django; django.setup()\n{code}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@dataclass
class Answer:
    status: int
    headers: dict
    body: object


@dataclass
class Server:
    url: str
    process: Process

    def request(self, method: str, path: str, *, token: str, body=None, headers=None) -> Answer:
        request = urllib.request.Request(
            self.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:
                return Answer(response.status, dict(response.headers), json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), json.loads(error.read() or b"null"))


@pytest.fixture
def start_server(start_process, process_env):
    """gunicorn serving the platform on a free loopback port, as `make run` and production do."""
    def start(*, workers: int = 1, threads: int = 1, **env) -> Server:
        port = free_port()
        process = start_process([str(BIN / "gunicorn"), "aiplatform.wsgi", "--bind", f"127.0.0.1:{port}",
                                 "--workers", str(workers), "--threads", str(threads), "--timeout", "60",
                                 "--graceful-timeout", "5"], {**process_env, **env}, f"gunicorn-{port}")
        server = Server(f"http://127.0.0.1:{port}", process)

        def ready():
            try:
                with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(ready, "gunicorn to answer", process.log)
        return server
    return start


class PrivateRedis:
    """A Redis server of the test's own, to stop and start: the machine's Redis is shared."""

    def __init__(self, start_process, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._start_process, self._dir = start_process, tmp_path
        self.process = None

    def start(self) -> None:
        self.process = self._start_process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                            "--save", "", "--appendonly", "no", "--dir", str(self._dir)],
                                           dict(os.environ), f"redis-{self.port}")
        wait_for(self._answers, "the private Redis to start", self.process.log)

    def stop(self) -> None:
        self.process.stop()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def _answers(self) -> bool:
        try:
            return self.client().ping()
        except redis.ConnectionError:
            return False


@pytest.fixture
def private_redis(start_process, tmp_path):
    return PrivateRedis(start_process, tmp_path)

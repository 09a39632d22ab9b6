"""What the dataset benchmarks share: Django on a benchmark database, and a local S3 server."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_datasets")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/5")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_s3_server() -> tuple[subprocess.Popen, str]:
    """moto's S3 server in its own process, so it does not share the measured process's CPU time."""
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    os.environ.update({
        "OBJECT_STORAGE_ENDPOINT_URL": endpoint, "OBJECT_STORAGE_ACCESS_KEY_ID": "bench",
        "OBJECT_STORAGE_SECRET_ACCESS_KEY": "bench", "OBJECT_STORAGE_PATH_STYLE": "true",
    })
    return process, endpoint


def ensure_database():
    """Creates the benchmark database if needed and migrates it."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    admin = psycopg2.connect(host=config["HOST"], port=config["PORT"], user=config["USER"],
                             password=config["PASSWORD"], dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def peak_rss_reset():
    """Resets the kernel's peak-RSS mark of this process (Linux), so the next peak is the task's."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """The machine's 1-minute load average: other work on the 2 cores slows every figure."""
    return Path("/proc/loadavg").read_text().split()[0]


def host_speed() -> str:
    """Seconds this host takes for a fixed loop of pure Python (10 million additions): its speed
    drifts, by half at times, and every figure follows it (0.8–1.6 s seen on this machine)."""
    started, total = time.process_time(), 0
    for number in range(10_000_000):
        total += number
    return f"{time.process_time() - started:.2f} s"

"""Admission benchmark: 10,000 queued workloads (mixed sizes and priorities) over 50 pools on
PostgreSQL. Prints seconds per admission pass, workloads admitted and SQL queries per pass, for
a first pass (many admissions), a second (a full cluster; pending reasons written in the first
pass, while it admitted, say what changed since) and a steady-state pass (nothing changes), and
the same at a fifth of the queue to show the query count does not grow with it. Then
the same 10,000 with every workspace a queue in every pool (a nominal share of 2 cards, 8 vCPUs and
32 GiB, borrowing up to 16 cards, 96 vCPUs and 512 GiB above it, weights 1 to 3), so that most
admissions borrow and go by fair share; and the time and queries of reading the start-time
estimates of a page of 20 workloads at the back of a 10,000-workload queue.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aip_bench .venv/bin/python bench/admission.py
"""

import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aip_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from aiplatform.models import Account, Workspace  # noqa: E402
from aiplatform.process import tune_collector  # noqa: E402
from resourcepools.admission import admit_workloads  # noqa: E402
from resourcepools.models import Flavor, Node, Phase, PodSet, Quota, ResourcePool, Workload  # noqa: E402
from resourcepools.selectors import start_estimates  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from common import host_speed  # noqa: E402

POOLS = 50
NODES_PER_POOL = 8


def ensure_database():
    import psycopg2

    name = connection.settings_dict["NAME"]
    admin = psycopg2.connect(host=connection.settings_dict["HOST"] or "127.0.0.1",
                             port=connection.settings_dict["PORT"] or 5432,
                             user=connection.settings_dict["USER"] or "postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cur.fetchone():
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    call_command("migrate", verbosity=0)


def reset():
    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE resourcepools_allocation, resourcepools_workloadevent, resourcepools_podset, "
            "resourcepools_workload, resourcepools_quota, resourcepools_node, resourcepools_resourcepool, "
            "resourcepools_flavor, aiplatform_membership, aiplatform_workspace, aiplatform_accountmember, "
            "aiplatform_account CASCADE"
        )


def seed(workloads: int, rng: random.Random):
    flavors = [
        Flavor.objects.create(name="npu.910b.8", family="npu.910b", vcpus=192, memory_gib=1536,
                              accelerator_kind="ascend_npu", accelerators=8, accelerator_memory_gib=64),
        Flavor.objects.create(name="gpu.a100.8", family="gpu.a100", vcpus=96, memory_gib=1024,
                              accelerator_kind="nvidia_gpu", accelerators=8, accelerator_memory_gib=80),
        Flavor.objects.create(name="cpu.8u32g", family="cpu", vcpus=8, memory_gib=32),
    ]
    account = Account.objects.create(name="bench")
    spaces = Workspace.objects.bulk_create(Workspace(account=account, name=f"ws{i}") for i in range(20))
    pools = ResourcePool.objects.bulk_create(ResourcePool(name=f"pool-{i}", kind="public", placement_label=f"pool-{i}")
                                             for i in range(POOLS))
    Node.objects.bulk_create(
        Node(pool=p, name=f"{p.name}-n{j}", flavor=flavors[j % 3]) for p in pools for j in range(NODES_PER_POOL)
    )
    now = timezone.now()
    rows = []
    for i in range(workloads):
        rows.append(Workload(workspace=spaces[i % len(spaces)], pool=pools[i % POOLS], name=f"w{i}",
                             priority=rng.choice([0, 0, 0, 1, 2, 5]), phase=Phase.QUEUED,
                             max_runtime_seconds=600 * (1 + i % 12),
                             queued_at=now - timezone.timedelta(seconds=workloads - i)))
    Workload.objects.bulk_create(rows, batch_size=5000)
    pod_sets = []
    for w in rows:
        flavor = rng.choice(flavors)
        if flavor.accelerators:
            cards = rng.choice([1, 2, 4, 8, 8])
            share = cards / flavor.accelerators
            pod_sets.append(PodSet(workload=w, name="worker", replicas=rng.choice([1, 1, 2, 3]), flavor=flavor,
                                   vcpus=int(flavor.vcpus * share), memory_gib=int(flavor.memory_gib * share),
                                   accelerators=cards))
        else:
            pod_sets.append(PodSet(workload=w, name="worker", replicas=rng.choice([1, 2]), flavor=flavor,
                                   vcpus=rng.choice([2, 4, 8]), memory_gib=8, accelerators=0))
    PodSet.objects.bulk_create(pod_sets, batch_size=5000)


def add_queues():
    """Every workspace a queue in every pool: nominal shares that fit the pool (20 × 2 cards of
    48), borrowing above them."""
    Quota.objects.bulk_create(
        Quota(workspace=ws, pool=pool, max_accelerators=2, max_vcpus=8, max_memory_gib=32,
              borrowing_limit_accelerators=16, borrowing_limit_vcpus=96, borrowing_limit_memory_gib=512,
              weight=1 + i % 3)
        for i, ws in enumerate(Workspace.objects.all()) for pool in ResourcePool.objects.all()
    )


def read_estimates():
    """Start-time estimates of the 20 workloads at the back of pool-0's queue, as a list page reads them."""
    page = list(Workload.objects.filter(pool__name="pool-0", phase=Phase.QUEUED).select_related("pool")
                .order_by("priority", "-queued_at")[:20])
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        estimates = start_estimates(workloads=page)
        seconds = time.perf_counter() - start
    dated = sum(1 for e in estimates.values() if e.starts_at is not None)
    print(f"{'':>6}        estimates of a page of {len(page)} at the back of the queue: {seconds:6.3f} s  "
          f"({dated} dated)  SQL queries {len(ctx.captured_queries)}")


def one_pass():
    connection.force_debug_cursor = True
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        report = admit_workloads()
        seconds = time.perf_counter() - start
    return seconds, report, len(ctx.captured_queries)


def main():
    ensure_database()
    tune_collector()  # as the Celery worker process that admits does when it starts
    print(f"{POOLS} pools x {NODES_PER_POOL} nodes (NPU 8-card, GPU 8-card, CPU 8u32g), PostgreSQL")
    print(f"host speed {host_speed()} (lower is faster)")
    for workloads, queues in ((2_000, False), (10_000, False), (10_000, True)):
        reset()
        seed(workloads, random.Random(7))
        if queues:
            add_queues()
        for label in ("first pass", "second pass", "steady pass"):
            seconds, report, queries = one_pass()
            print(f"{workloads:>6} queued  {label:<12} {seconds:6.3f} s  admitted {report.admitted:>5}  "
                  f"considered {report.considered:>6}  SQL queries {queries}{'  (queues, borrowing)' * queues}")
        if workloads == 10_000 and not queues:
            read_estimates()
    reset()


if __name__ == "__main__":
    main()

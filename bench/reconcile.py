"""Reconciler benchmark: N active workloads in PostgreSQL and their Jobs and pods seeded into the
Kubernetes emulator; prints per pass the seconds, the part spent waiting on the API server, the
platform's own part, the requests to the API server and the SQL queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/reconcile.py [5000]

It works in a throw-away test database (created and dropped here) and seeds the emulator's object
store directly (creating objects over HTTP costs ~40 ms each)."""

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from aiplatform.models import Account, Workspace  # noqa: E402
from aiplatform.process import tune_collector  # noqa: E402
from k8s import services  # noqa: E402
from k8s.backend import PodSetSpec, WorkloadSpec, clear_backend_cache, get_compute_backend  # noqa: E402
from k8s.manifests import job, labels  # noqa: E402
from resourcepools.models import Flavor, Phase, PodSet, ResourcePool, Workload  # noqa: E402
from tests.k8s.emulator import kubeconfig, running_emulator  # noqa: E402

WORKSPACES = 50
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


def seed_database(count: int, start: int) -> list[Workload]:
    flavor, _ = Flavor.objects.get_or_create(name="cpu.8u32g", defaults={"vcpus": 8, "memory_gib": 32})
    pool, _ = ResourcePool.objects.get_or_create(name="bench", defaults={"kind": "public"})
    account, _ = Account.objects.get_or_create(name="bench")
    workspaces = [Workspace.objects.get_or_create(account=account, name=f"bench-{i}")[0] for i in range(WORKSPACES)]
    now = timezone.now()
    workloads = Workload.objects.bulk_create(
        Workload(workspace=workspaces[i % WORKSPACES], pool=pool, name=f"job-{i}", kind="training",
                 image="registry.local/train:1", command=["python", "train.py"], phase=Phase.RUNNING,
                 queued_at=now, admitted_at=now, started_at=now)
        for i in range(start, start + count)
    )
    PodSet.objects.bulk_create(PodSet(workload=w, name="worker", replicas=1, flavor=flavor, vcpus=8, memory_gib=32)
                               for w in workloads)
    return workloads


def spec_of(workload: Workload) -> WorkloadSpec:
    return WorkloadSpec(
        id=str(workload.pk), workspace_id=str(workload.workspace_id), name=workload.name, kind=workload.kind,
        pool_name="bench", dedicated_pool=False, image=workload.image, command=tuple(workload.command), env=(),
        max_runtime_seconds=None, pod_sets=(PodSetSpec("worker", 1, 8, 32, 0, "none"),),
    )


def put_job(emulator, workload, conventions, status) -> dict:
    spec = spec_of(workload)
    obj = {**job(spec, spec.pod_sets[0], conventions), "status": status}
    meta = obj["metadata"]
    emulator.objects["batch/v1/jobs", meta["namespace"], meta["name"]] = obj
    return obj


def seed_cluster(emulator, workloads, conventions) -> None:
    """What the cluster would hold: a Job per workload with its running pod."""
    for workload in workloads:
        spec = spec_of(workload)
        obj = put_job(emulator, workload, conventions, {"active": 1})
        meta = obj["metadata"]
        pod_name = f"{meta['name']}-0-abcde"
        emulator.objects["v1/pods", meta["namespace"], pod_name] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": meta["namespace"],
                         "labels": {**labels(spec, spec.pod_sets[0]), INDEX_LABEL: "0"}},
            "spec": obj["spec"]["template"]["spec"],
            "status": {"phase": "Running"},
        }


def measured_pass(backend) -> dict:
    calls = {"requests": 0, "api_seconds": 0.0}
    original = backend._call

    def timed(method, *args, **kwargs):
        started = time.perf_counter()
        response = original(method, *args, **kwargs)
        if response is not None and hasattr(response, "data"):
            response.data  # noqa: B018 - the body is read here, so its transfer counts as waiting
        calls["api_seconds"] += time.perf_counter() - started
        calls["requests"] += 1
        return response

    backend._call = timed
    try:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            report = services.reconcile()
            total = time.perf_counter() - started
    finally:
        backend._call = original
    return {"seconds": total, **calls, "queries": len(queries), "report": report}


def show(label: str, figures: dict) -> None:
    report = figures["report"]
    print(f"{label:<44} {figures['seconds']:6.2f} s  api wait {figures['api_seconds']:5.2f} s  "
          f"platform {figures['seconds'] - figures['api_seconds']:5.2f} s  requests {figures['requests']:2d}  "
          f"queries {figures['queries']:2d}  (observed {report.observed}, succeeded {len(report.succeeded)})")


def main(total: int) -> None:
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with running_emulator() as (emulator, url), tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "kubeconfig"
            path.write_text(kubeconfig(url))
            settings.COMPUTE_BACKEND, settings.KUBECONFIG = "kubernetes", str(path)
            clear_backend_cache()
            backend = get_compute_backend()
            tune_collector()  # as the Celery worker process that reconciles does when it starts
            seeded = []
            for size in sorted({min(1000, total), total}):
                workloads = seed_database(size - len(seeded), len(seeded))
                seed_cluster(emulator, workloads, backend.conventions)
                seeded += workloads
                for run in (1, 2):
                    show(f"{size} running workloads, steady pass {run}", measured_pass(backend))
                finished = seeded[-50:]
                for workload in finished:
                    put_job(emulator, workload, backend.conventions,
                            {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                show(f"{size} running workloads, 50 just completed", measured_pass(backend))
                # Back to running, for the next size.
                for workload in finished:
                    put_job(emulator, workload, backend.conventions, {"active": 1})
                Workload.objects.filter(pk__in=[w.pk for w in finished]).update(phase=Phase.RUNNING,
                                                                                 finished_at=None)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)

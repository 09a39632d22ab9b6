"""A preempted workload on the local backend: stopped the platform's way (the backend cancels it,
its capacity is free at once, billing stops), queued again with its original queue time, run
again to the end, and billed exactly for the time it ran, both runs."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing import rules
from billing import services as billing
from k8s import services as compute
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Allocation, Phase, Workload, WorkloadEvent, WorkloadRun
from tests.billing.helpers import fund, priced_cpu_flavor, public_pool
from tests.billing.test_api import admin_of
from tests.conftest import client_for
from tests.factories import make_pool, make_workload
from tests.k8s import test_kubernetes_backend as kube

pytestmark = pytest.mark.django_db


def wait_for(backend, workload, what):
    give_up = time.monotonic() + 30
    while not what(observation := backend.status(compute.workload_spec(workload))):
        assert time.monotonic() < give_up, observation
        time.sleep(0.1)
    return observation


def admitted_and_submitted(workload):
    admit_workloads()
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED, (workload.reason, workload.message)
    assert compute.submit_workload(workload_id=workload.pk)


def billed_seconds(start, end):
    return sum(int((e - s).total_seconds()) for s, e in rules.hour_slots(start=start, end=end, now=end))


def test_a_preempted_job_is_requeued_runs_again_to_the_end_and_is_billed_for_both_runs(
        workspace, developer_client, local_backend, local_root):
    flavor = priced_cpu_flavor(hourly="3600.00", effective_from="2000-01-01T00:00:00")  # 1.00 a second
    pool = public_pool(flavor, nodes=1)
    fund(workspace.account, "1000.00", when="2000-01-01T00:00:00")
    admin = client_for(admin_of(workspace))
    queue = admin.post(f"/api/v1/workspaces/{workspace.id}/quotas/",
                       {"pool": str(pool.pk), "preemption_policy": "lower_priority"}, format="json")
    assert queue.status_code == 201, queue.json()
    assert queue.json()["preemption_policy"] == "lower_priority"

    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    # Its first run leaves a marker in the workspace's storage and waits to be preempted; run again,
    # it finds the marker and ends at once.
    marker = local_root / f"ws-{workspace.pk}" / "first-run-done"
    inside = f"$AIP_LOCAL_STORAGE_ROOT/ws-{workspace.pk}/first-run-done"
    batch = developer_client.post(url, {
        "name": "batch", "pool": str(pool.pk), "priority": 0, "pod_sets": [
            {"name": "worker", "replicas": 1, "flavor": flavor.name}],
        "command": ["sh", "-c", f'test -e "{inside}" && exit 0; touch "{inside}"; sleep 60']}, format="json")
    assert batch.status_code == 201, batch.json()
    assert batch.json()["preemptible"] is True
    batch = Workload.objects.get(pk=batch.json()["id"])
    admitted_and_submitted(batch)
    wait_for(local_backend, batch, lambda o: o.started_at is not None and marker.exists())
    compute.reconcile()
    batch.refresh_from_db()
    assert batch.phase == Phase.RUNNING
    first_start, queued_at = batch.started_at, batch.queued_at
    # Let the first run last over a second, so that it is on the bill in whole seconds.
    while timezone.now() - first_start < timedelta(seconds=1.5):
        time.sleep(0.1)

    urgent = developer_client.post(url, {
        "name": "urgent", "pool": str(pool.pk), "priority": 5, "pod_sets": [
            {"name": "worker", "replicas": 1, "flavor": flavor.name}], "command": ["sleep", "1"]}, format="json")
    assert urgent.status_code == 201, urgent.json()
    urgent = Workload.objects.get(pk=urgent.json()["id"])
    admit_workloads()
    batch.refresh_from_db()
    urgent.refresh_from_db()
    assert (urgent.phase, batch.phase, batch.reason) == (Phase.ADMITTED, Phase.STOPPING, "Preempted")
    assert batch.message == ("Preempted by custom workload 'urgent' of this workspace (a higher priority: 5 against "
                             f"0), which needs 8 vCPUs in pool {pool.name}; it will be queued again with its original "
                             "queue time.")
    assert not Allocation.objects.filter(workload=batch).exists()
    (run,) = WorkloadRun.objects.filter(workload=batch)
    assert run.started_at == first_start and batch.started_at is None
    assert WorkloadEvent.objects.filter(workload=urgent, reason="Preempting",
                                        message__contains="by preempting 'batch' of this workspace").exists()
    events = developer_client.get(f"{url}{batch.pk}/events/").json()["results"]
    assert [e["reason"] for e in events][-1] == "Preempted"

    # The backend cancels it; it goes back to the queue in its old place and waits behind urgent.
    compute.cancel_workload(workload_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.phase, batch.reason, batch.queued_at, batch.admitted_at) == (
        Phase.QUEUED, "Requeued", queued_at, None)
    assert compute.submit_workload(workload_id=urgent.pk)
    wait_for(local_backend, urgent, lambda o: o.finished_at is not None)
    compute.reconcile()
    urgent.refresh_from_db()
    assert urgent.phase == Phase.SUCCEEDED

    admitted_and_submitted(batch)
    wait_for(local_backend, batch, lambda o: o.finished_at is not None)
    compute.reconcile()
    batch.refresh_from_db()
    assert batch.phase == Phase.SUCCEEDED, (batch.reason, batch.message)
    assert batch.started_at > run.ended_at

    now = timezone.now()
    billing.meter_usage(now=now)
    assert billing.meter_usage(now=now) == 0  # a second pass adds nothing
    billing.rate_usage(now=now)
    bill = admin.post("/api/v1/billing/bills/", {"period": now.date().isoformat()}, format="json")
    assert bill.status_code == 201, bill.json()
    lines = admin.get(f"/api/v1/billing/bills/{bill.json()['id']}/lines/").json()["results"]
    charged = sum(float(line["amount"]) for line in lines if line["resource_name"] == "batch")
    seconds = billed_seconds(run.started_at, run.ended_at) + billed_seconds(batch.started_at, batch.finished_at)
    assert billed_seconds(run.started_at, run.ended_at) >= 1
    assert charged == seconds


def preempted_pair(workspace):
    """'batch' admitted (not yet submitted) and preempted by 'urgent' in a one-node pool."""
    pool = make_pool(nodes=1)
    pool_services.set_quota(workspace=workspace, pool=pool, preemption_policy="lower_priority")
    batch = make_workload(workspace, pool, name="batch")
    admit_workloads()
    urgent = make_workload(workspace, pool, name="urgent", priority=5)
    admit_workloads()
    batch.refresh_from_db()
    assert (batch.phase, batch.reason) == (Phase.STOPPING, "Preempted")
    return batch, urgent


def test_the_reconciler_requeues_preempted_work_the_backend_no_longer_runs(workspace, local_backend):
    batch, urgent = preempted_pair(workspace)
    report = compute.reconcile()
    assert [str(w) for w in report.requeued] == [str(batch.pk)] and report.stopped == []
    batch.refresh_from_db()
    assert (batch.phase, batch.reason) == (Phase.QUEUED, "Requeued")
    assert not WorkloadRun.objects.exists()  # it never ran: nothing to bill


def test_a_stop_requested_while_being_preempted_stops_it_for_good(workspace, developer_client, local_backend):
    batch, _ = preempted_pair(workspace)
    stopped = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/{batch.pk}/stop/")
    assert stopped.status_code == 200 and stopped.json()["reason"] == "StopRequested"
    compute.cancel_workload(workload_id=batch.pk)
    batch.refresh_from_db()
    assert (batch.phase, batch.reason) == (Phase.STOPPED, "Stopped")


def test_a_preempted_job_on_kubernetes_is_deleted_submitted_again_and_finishes(workspace, kube_backend, cluster):
    pool = make_pool(nodes=1)
    pool_services.set_quota(workspace=workspace, pool=pool, preemption_policy="lower_priority")
    batch = make_workload(workspace, pool, name="batch", image="registry.local/train:1", command=["train"])
    admitted_and_submitted(batch)
    first_pods = kube.start_pods(cluster, batch)
    assert kube.phase_after_reconcile(batch) == Phase.RUNNING

    urgent = make_workload(workspace, pool, name="urgent", priority=5, image="registry.local/train:1",
                           command=["serve"])
    admit_workloads()
    batch.refresh_from_db()
    assert (batch.phase, batch.reason) == (Phase.STOPPING, "Preempted")
    compute.cancel_workload(workload_id=batch.pk)
    batch.refresh_from_db()
    assert batch.phase == Phase.QUEUED
    jobs = {job.metadata.name for job in cluster.batch.list_namespaced_job(kube.namespace(batch)).items}
    assert kube.job_name(batch) not in jobs
    for name in first_pods:  # what the garbage collector does with a deleted Job's pods
        cluster.core.delete_namespaced_pod(name, kube.namespace(batch))

    assert compute.submit_workload(workload_id=urgent.pk)
    kube.start_pods(cluster, urgent)
    kube.finish_job(cluster, urgent, "Complete")
    assert kube.phase_after_reconcile(urgent) == Phase.SUCCEEDED

    admitted_and_submitted(batch)  # a new Job, not the old one adopted
    kube.start_pods(cluster, batch)
    assert kube.phase_after_reconcile(batch) == Phase.RUNNING
    kube.finish_job(cluster, batch, "Complete")
    assert kube.phase_after_reconcile(batch) == Phase.SUCCEEDED
    assert WorkloadRun.objects.filter(workload=batch).count() == 1

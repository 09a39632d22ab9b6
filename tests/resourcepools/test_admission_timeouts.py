"""Admission timeouts: admitted work that is not running within ADMISSION_START_TIMEOUT_SECONDS
is evicted and queued again with a doubling backoff, and fails with the reason after
ADMISSION_MAX_TRIES admissions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from k8s import services as compute
from resourcepools import services
from resourcepools.admission import QueuedWorkload, admit_workloads, plan_admission
from resourcepools.models import Phase, Workload
from resourcepools.packing import NodeState, PodSetDemand
from tests.factories import make_pool, make_workload

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_work_in_its_backoff_is_not_admitted_and_says_until_when():
    demand = PodSetDemand(1, "worker", 1, 1, "npu.910b.8", "ascend_npu", 192, 1536, 8)
    waiting = QueuedWorkload("w", "w", "a", 0, T0, (demand,), not_before=T0 + timedelta(seconds=30))
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=[NodeState(0, 1, 192, 1536, 8)],
                               queue=[waiting], budgets={}, now=T0, starvation_seconds=600)
    assert (decisions[0].admitted, decisions[0].reason) == (False, "EvictionBackoff")
    assert decisions[0].message == ("Evicted as it did not start in time after its last admission; admitted again no "
                                    "sooner than 2026-01-01 00:00:30 UTC; 0 workload(s) ahead.")
    later = plan_admission(pool_name="p", pool_status="running", nodes=[NodeState(0, 1, 192, 1536, 8)],
                           queue=[waiting], budgets={}, now=T0 + timedelta(seconds=30), starvation_seconds=600)
    assert later[0].admitted


@pytest.fixture
def timeouts(settings):
    settings.ADMISSION_START_TIMEOUT_SECONDS = 60
    settings.ADMISSION_EVICTION_BACKOFF_SECONDS = 30
    settings.ADMISSION_MAX_TRIES = 2


@pytest.mark.django_db
def test_unstarted_work_is_evicted_requeued_with_backoff_then_failed(workspace, developer_client, timeouts):
    pool = make_pool(nodes=1)
    workload = make_workload(workspace, pool, name="stuck")
    queued_at = workload.queued_at
    admit_workloads()
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED
    # Within the limit nothing happens.
    assert services.evict_unstarted_workloads(now=workload.admitted_at + timedelta(seconds=59)) == ([], [])

    late = workload.admitted_at + timedelta(seconds=61)
    evicted, failed = services.evict_unstarted_workloads(now=late)
    assert (evicted, failed) == ([workload.pk], [])
    workload.refresh_from_db()
    assert (workload.phase, workload.reason, workload.evictions) == (Phase.STOPPING, "AdmissionTimeout", 1)
    assert workload.not_before == late + timedelta(seconds=30)
    assert workload.message == (
        "Not running 60 s after its admission (an image that does not pull, or node trouble): evicted (try 1 of 2) "
        f"and queued again, to be admitted no sooner than {workload.not_before:%Y-%m-%d %H:%M:%S} UTC.")
    assert not workload.allocations.exists()  # its capacity is free at once

    services.finish_stops(workload_ids=[workload.pk], stopped_by="local")
    workload.refresh_from_db()
    assert (workload.phase, workload.reason, workload.queued_at) == (Phase.QUEUED, "Requeued", queued_at)
    admit_workloads(now=late + timedelta(seconds=10))
    workload.refresh_from_db()
    assert (workload.phase, workload.reason) == (Phase.QUEUED, "EvictionBackoff")
    admit_workloads(now=late + timedelta(seconds=31))
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED

    evicted, failed = services.evict_unstarted_workloads(now=workload.admitted_at + timedelta(seconds=61))
    assert (evicted, failed) == ([], [workload.pk])
    body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{workload.pk}/").json()
    assert (body["phase"], body["reason"], body["evictions"]) == ("failed", "AdmissionTimeout", 1)
    assert body["message"].startswith("Admitted 2 time(s) and never running within 60 s of its admission")
    events = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{workload.pk}/events/").json()
    assert [e["reason"] for e in events["results"]].count("AdmissionTimeout") == 2


@pytest.mark.django_db
def test_the_backend_stops_evicted_work_and_queues_it_again(workspace, local_backend, timeouts):
    pool = make_pool(nodes=1)
    workload = make_workload(workspace, pool, name="stuck")
    admit_workloads()
    workload.refresh_from_db()
    services.evict_unstarted_workloads(now=timezone.now() + timedelta(seconds=61))
    compute.cancel_workload(workload_id=workload.pk)
    workload.refresh_from_db()
    assert (workload.phase, workload.reason) == (Phase.QUEUED, "Requeued")
    assert workload.message.startswith("Evicted, as it did not start in time, and its replicas were stopped")
    assert Workload.objects.get(pk=workload.pk).evictions == 1

"""Admission: gang fit on whole nodes, quotas, dedicated pools, order, reasons, freeing, races,
and holds of capacity limited in time (plan_admission unit-tested as the pure function it is)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from resourcepools import services
from resourcepools.admission import QueuedWorkload, admit_workloads, plan_admission
from resourcepools.models import Allocation, Node, Phase, Quota, Workload
from resourcepools.packing import NodeState, PodSetDemand
from tests.factories import FlavorFactory, WorkspaceFactory, make_pool, make_workload

pytestmark = pytest.mark.django_db


def phase(workload):
    return Workload.objects.get(pk=workload.pk).phase


def test_best_fit_packs_replicas_to_keep_whole_nodes_free(workspace):
    pool = make_pool(nodes=2)
    make_workload(workspace, pool, accelerators=4, name="a")
    make_workload(workspace, pool, accelerators=4, name="b")
    admit_workloads()
    assert len(set(Allocation.objects.values_list("node_id", flat=True))) == 1
    big = make_workload(workspace, pool, accelerators=8, name="big")
    admit_workloads()
    assert phase(big) == Phase.ADMITTED


def test_spread_cards_do_not_admit_a_whole_node_gang(workspace):
    pool = make_pool(nodes=2)
    nodes = list(Node.objects.filter(pool=pool).order_by("name"))
    # Pin half of each node by cordoning the other node while admitting.
    services.update_node(node=nodes[1], schedulable=False)
    make_workload(workspace, pool, accelerators=4, name="a")
    admit_workloads()
    services.update_node(node=nodes[1], schedulable=True)
    services.update_node(node=nodes[0], schedulable=False)
    make_workload(workspace, pool, accelerators=4, name="b")
    admit_workloads()
    services.update_node(node=nodes[0], schedulable=True)
    big = make_workload(workspace, pool, accelerators=8, name="big")
    admit_workloads()
    big.refresh_from_db()
    assert big.phase == Phase.QUEUED
    assert big.reason == "InsufficientCapacity"
    assert "needs 8 Ascend NPUs in pool p-1" in big.message
    assert "8 free, 0 node(s) can take a worker replica" in big.message


def test_multi_replica_gang_is_all_or_nothing(workspace):
    pool = make_pool(nodes=3)
    hold = make_workload(workspace, pool, name="hold")
    admit_workloads()
    gang = make_workload(workspace, pool, replicas=3, name="gang")
    assert gang.phase == Phase.QUEUED
    admit_workloads()
    assert phase(gang) == Phase.QUEUED
    assert not Allocation.objects.filter(workload=gang).exists()
    services.transition_workload(workload=hold, to=Phase.SUCCEEDED, reason="Completed")
    admit_workloads()
    assert phase(gang) == Phase.ADMITTED
    assert Allocation.objects.filter(workload=gang).values("node").distinct().count() == 3


def test_pending_reason_and_queue_position(workspace):
    pool = make_pool(nodes=1)
    running = make_workload(workspace, pool, name="running")
    admit_workloads()
    assert phase(running) == Phase.ADMITTED
    first = make_workload(workspace, pool, name="first")
    second = make_workload(workspace, pool, name="second")
    big = make_workload(workspace, pool, replicas=1, name="third")
    admit_workloads()
    for position, w in enumerate([first, second, big], start=1):
        w.refresh_from_db()
        assert w.queue_position == position
    assert big.message.startswith("Waiting for capacity: needs 8 Ascend NPUs in pool p-1 (1 × 8 on npu.910b.8 nodes)")
    assert big.message.endswith("2 workload(s) ahead.")


def test_quota_limits_admission(workspace):
    pool = make_pool(nodes=2)
    services.set_quota(workspace=workspace, pool=pool, max_accelerators=8)
    a = make_workload(workspace, pool, name="a")
    b = make_workload(workspace, pool, name="b")
    other = make_workload(WorkspaceFactory(), pool, name="other-tenant")
    admit_workloads()
    assert phase(a) == Phase.ADMITTED
    b.refresh_from_db()
    assert b.phase == Phase.QUEUED and b.reason == "QuotaExceeded"
    assert "needs 8 accelerators, 8 of 8 in use" in b.message
    # A workspace over its quota does not hold up others.
    assert phase(other) == Phase.ADMITTED


def test_max_workloads_quota(workspace):
    pool = make_pool(nodes=2, flavor=FlavorFactory())
    services.set_quota(workspace=workspace, pool=pool, max_workloads=1)
    a = make_workload(workspace, pool, accelerators=1, name="a")
    b = make_workload(workspace, pool, accelerators=1, name="b")
    admit_workloads()
    assert (phase(a), phase(b)) == (Phase.ADMITTED, Phase.QUEUED)


def test_priority_then_fifo(workspace):
    pool = make_pool(nodes=1)
    low = make_workload(workspace, pool, priority=0, name="low")
    high_1 = make_workload(workspace, pool, priority=5, name="high-1")
    high_2 = make_workload(workspace, pool, priority=5, name="high-2")
    order = []
    for _ in range(3):
        admit_workloads()
        admitted = Workload.objects.get(phase=Phase.ADMITTED)
        order.append(admitted.name)
        services.transition_workload(workload=admitted, to=Phase.SUCCEEDED, reason="Completed")
    assert order == ["high-1", "high-2", "low"]
    assert {phase(w) for w in (low, high_1, high_2)} == {Phase.SUCCEEDED}


def test_lower_priority_never_takes_capacity_a_blocked_higher_priority_gang_needs(workspace):
    pool = make_pool(nodes=2)
    hold = make_workload(workspace, pool, name="hold")
    admit_workloads()
    gang = make_workload(workspace, pool, replicas=2, priority=10, name="gang")
    small = make_workload(workspace, pool, priority=0, name="small")
    admit_workloads()
    assert phase(gang) == Phase.QUEUED
    small.refresh_from_db()
    assert small.phase == Phase.QUEUED
    assert small.reason == "WaitingForEarlierWorkload"
    assert "gang" in small.message
    services.transition_workload(workload=hold, to=Phase.SUCCEEDED, reason="Completed")
    admit_workloads()
    assert phase(gang) == Phase.ADMITTED


def test_backfill_until_a_gang_starves(workspace, settings):
    settings.ADMISSION_STARVATION_SECONDS = 600
    pool = make_pool(nodes=2)
    hold = make_workload(workspace, pool, name="hold")
    admit_workloads()
    gang = make_workload(workspace, pool, replicas=2, name="gang")
    small = make_workload(workspace, pool, name="small")
    admit_workloads()
    # Not starving yet: the small job may use the free node.
    assert (phase(gang), phase(small)) == (Phase.QUEUED, Phase.ADMITTED)
    services.transition_workload(workload=small, to=Phase.SUCCEEDED, reason="Completed")
    Workload.objects.filter(pk=gang.pk).update(queued_at=timezone.now() - timedelta(seconds=601))
    small_2 = make_workload(workspace, pool, name="small-2")
    admit_workloads()
    # Starving: the gang keeps the free node for itself until the other one frees.
    assert (phase(gang), phase(small_2)) == (Phase.QUEUED, Phase.QUEUED)
    services.transition_workload(workload=hold, to=Phase.SUCCEEDED, reason="Completed")
    admit_workloads()
    assert (phase(gang), phase(small_2)) == (Phase.ADMITTED, Phase.QUEUED)


def test_ending_or_stopping_frees_capacity_at_once(workspace, owner):
    pool = make_pool(nodes=1)
    first = make_workload(workspace, pool, name="first")
    second = make_workload(workspace, pool, name="second")
    admit_workloads()
    assert Allocation.objects.filter(workload=first).exists()
    services.transition_workload(workload=first, to=Phase.RUNNING, reason="Running")
    stopped = services.stop_workload(workload=first, stopped_by=owner)
    assert stopped.phase == Phase.STOPPING
    assert not Allocation.objects.filter(workload=first).exists()
    admit_workloads()
    assert phase(second) == Phase.ADMITTED


def test_frozen_pool_admits_nothing(workspace):
    pool = make_pool(nodes=1)
    services.update_pool(pool=pool, status="frozen", status_message="subscription expired")
    w = make_workload(workspace, pool)
    admit_workloads()
    w.refresh_from_db()
    assert w.phase == Phase.QUEUED and w.reason == "PoolNotAdmitting"


def test_transitions_are_checked_and_leave_events(workspace):
    pool = make_pool(nodes=1)
    w = make_workload(workspace, pool)
    from aiplatform.errors import Conflict

    with pytest.raises(Conflict):
        services.transition_workload(workload=w, to=Phase.RUNNING, reason="Running")
    admit_workloads()
    services.transition_workload(workload=w, to=Phase.RUNNING, reason="Running", message="pods started")
    services.transition_workload(workload=w, to=Phase.SUCCEEDED, reason="Completed")
    with pytest.raises(Conflict):
        services.transition_workload(workload=w, to=Phase.RUNNING, reason="Running")
    steps = list(w.events.values_list("from_phase", "to_phase"))
    assert steps == [("", "pending"), ("pending", "queued"), ("queued", "admitted"), ("admitted", "running"),
                     ("running", "succeeded")]
    w.refresh_from_db()
    assert w.queued_at <= w.admitted_at <= w.started_at <= w.finished_at


@pytest.mark.django_db(transaction=True)
def test_parallel_schedulers_never_over_commit():
    """Four schedulers run admission passes at the same time over the same queues, which borrow
    from each other."""
    flavor = FlavorFactory()
    pools = [make_pool(name=f"race-{i}", nodes=3, flavor=flavor) for i in range(3)]
    workspaces = [WorkspaceFactory() for _ in range(3)]
    for ws in workspaces:
        for pool in pools:
            services.set_quota(workspace=ws, pool=pool, max_accelerators=8, borrowing_limit_accelerators=4)
    for i in range(60):
        make_workload(workspaces[i % 3], pools[(i // 3) % 3], accelerators=4, name=f"w{i}", priority=i % 2)
    barrier = threading.Barrier(4)
    errors = []

    def scheduler():
        try:
            barrier.wait()
            for _ in range(5):
                admit_workloads()
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for node in Node.objects.select_related("flavor"):
        used = sum(Allocation.objects.filter(node=node).values_list("accelerators", flat=True))
        assert used <= node.flavor.accelerators
    for quota in Quota.objects.all():
        used = sum(Allocation.objects.filter(workspace=quota.workspace, pool=quota.pool)
                   .values_list("accelerators", flat=True))
        assert used <= quota.max_accelerators + quota.borrowing_limit_accelerators
    # Every pool is full: 3 nodes × 8 cards = 6 workloads of 4 cards each.
    assert Workload.objects.filter(phase=Phase.ADMITTED).count() == 18


@pytest.mark.django_db(transaction=True)
def test_a_pass_does_not_skip_a_pool_into_which_work_is_being_queued():
    """Queueing a workload takes a key-share lock on its pool's row (its foreign key's check, at
    commit; here at once, to hold it open) until it commits; a pass running meanwhile still admits
    the pool's queue."""
    pool = make_pool(nodes=2)
    workspace = WorkspaceFactory()
    waiting = make_workload(workspace, pool, name="waiting")
    inserted, release = threading.Event(), threading.Event()
    errors = []

    def queue_more():
        try:
            with transaction.atomic():
                make_workload(workspace, pool, name="arriving")
                connection.check_constraints()
                inserted.set()
                release.wait(timeout=30)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=queue_more)
    thread.start()
    try:
        assert inserted.wait(timeout=30)
        report = admit_workloads()
    finally:
        release.set()
        thread.join()
    assert errors == []
    assert (report.pools, report.skipped_pools, report.admitted) == (1, 0, 1)
    assert phase(waiting) == Phase.ADMITTED


def test_registered_admission_checks_refuse_work_with_their_reason(workspace):
    from resourcepools import admission

    pool = make_pool(nodes=2)
    blocked = make_workload(workspace, pool, name="blocked")
    other = make_workload(WorkspaceFactory(), pool, name="other")

    def in_arrears(*, pools, workspace_ids):
        return {(p.pk, workspace.pk): "Account balance is below zero; top up to start pay-per-use work."
                for p in pools if workspace.pk in workspace_ids}

    admission.register_admission_check(in_arrears)
    try:
        admit_workloads()
    finally:
        admission._admission_checks.remove(in_arrears)
    blocked.refresh_from_db()
    assert blocked.phase == Phase.QUEUED and blocked.reason == "AdmissionRefused"
    assert blocked.message.startswith("Account balance is below zero")
    assert phase(other) == Phase.ADMITTED


# --- holds limited in time: plan_admission as a pure function -----------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NPU = {"flavor_id": 1, "flavor_name": "npu.910b.8", "accelerator_kind": "ascend_npu"}


def npu_nodes(free, busy=0):
    """`free` empty 8-card nodes and `busy` full ones."""
    return ([NodeState(i, 1, 192, 1536, 8) for i in range(free)]
            + [NodeState(100 + i, 1, 0, 0, 0) for i in range(busy)])


def queued(name, replicas=1, priority=0, queued_at=T0, **hold):
    demand = PodSetDemand(id=hash(name), name="worker", replicas=replicas, vcpus=192, memory_gib=1536,
                          accelerators=8, **NPU)
    return QueuedWorkload(name, name, "ws", priority, queued_at, (demand,), **hold)


def plan(nodes, queue, now, max_hold_seconds=3600, **kwargs):
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=nodes, queue=queue, budgets={}, now=now,
                               starvation_seconds=600, max_hold_seconds=max_hold_seconds, hold_cooldown_seconds=1800,
                               **kwargs)
    return {d.workload_id: d for d in decisions}


def test_plan_a_blocked_gang_holds_against_lower_priority_for_the_longest_hold_then_lets_it_backfill():
    gang, small = queued("gang", replicas=2, priority=5), queued("small")
    first = plan(npu_nodes(1, busy=1), [gang, small], T0)
    assert (first["gang"].reason, first["gang"].holding_since) == ("InsufficientCapacity", T0)
    assert first["small"].reason == "WaitingForEarlierWorkload" and first["small"].holding_since is None

    holding = queued("gang", replicas=2, priority=5, holding_since=T0)
    still = plan(npu_nodes(1, busy=1), [holding, small], T0 + timedelta(seconds=3599))
    assert still["gang"].holding_since == T0 and not still["small"].admitted

    lapse = T0 + timedelta(seconds=3600)
    lapsed = plan(npu_nodes(1, busy=1), [holding, small], lapse)
    assert lapsed["gang"].reason == "HoldExpired" and lapsed["gang"].hold_expired
    assert (lapsed["gang"].holding_since, lapsed["gang"].hold_paused_until) == (None, lapse + timedelta(seconds=1800))
    assert lapsed["gang"].queue_position == 1
    assert lapsed["gang"].message == (
        "Waiting for capacity: needs 16 Ascend NPUs in pool p (2 × 8 on npu.910b.8 nodes); 8 free, 1 node(s) can "
        "take a worker replica; it held its nodes against other work for 1 h without fitting, so other work may use "
        "them until 2026-01-01 01:30:00 UTC; 0 workload(s) ahead.")
    assert lapsed["small"].admitted

    paused = queued("gang", replicas=2, priority=5, hold_paused_until=lapse + timedelta(seconds=1800))
    during = plan(npu_nodes(1, busy=1), [paused, small], lapse + timedelta(seconds=1799))
    assert during["gang"].reason == "HoldExpired" and not during["gang"].hold_expired
    assert during["gang"].hold_paused_until == lapse + timedelta(seconds=1800)
    assert during["small"].admitted

    again = lapse + timedelta(seconds=1800)
    after = plan(npu_nodes(1, busy=1), [paused, small], again)
    assert (after["gang"].reason, after["gang"].holding_since, after["gang"].hold_paused_until) == (
        "InsufficientCapacity", again, None)
    assert after["small"].reason == "WaitingForEarlierWorkload"


def test_plan_the_hold_of_a_starving_gang_against_its_own_priority_is_limited_too():
    gang = queued("gang", replicas=2, queued_at=T0 - timedelta(seconds=700), holding_since=T0)
    small = queued("small", queued_at=T0 - timedelta(seconds=10))
    assert plan(npu_nodes(1, busy=1), [gang, small], T0)["small"].reason == "WaitingForEarlierWorkload"
    decisions = plan(npu_nodes(1, busy=1), [gang, small], T0 + timedelta(hours=1))
    assert decisions["gang"].reason == "HoldExpired" and decisions["small"].admitted


def test_plan_without_a_limit_a_gang_holds_until_it_fits():
    gang = queued("gang", replicas=2, priority=5, holding_since=T0 - timedelta(days=10))
    decisions = plan(npu_nodes(1, busy=1), [gang, queued("small")], T0, max_hold_seconds=None)
    assert decisions["gang"].reason == "InsufficientCapacity" and not decisions["small"].admitted


def test_plan_a_gang_that_stopped_holding_keeps_its_place_and_is_admitted_when_it_fits():
    gang = queued("gang", replicas=2, priority=5, hold_paused_until=T0 + timedelta(minutes=5))
    decisions = plan(npu_nodes(2), [queued("small", priority=9), gang], T0)
    assert decisions["small"].admitted and decisions["gang"].reason == "HoldExpired"
    decisions = plan(npu_nodes(2), [gang, queued("small")], T0)
    assert decisions["gang"].admitted and decisions["gang"].placements


def test_plan_work_blocked_for_another_reason_holds_nothing_and_its_clock_stops():
    gang = queued("gang", replicas=2, holding_since=T0 - timedelta(minutes=50))
    decisions = plan(npu_nodes(1, busy=1), [gang, queued("small")], T0,
                     refusals={"ws": "Account balance is below zero."})
    assert decisions["gang"].reason == "AdmissionRefused" and decisions["gang"].holding_since is None
    # With no limit configured, a pause left from before is over.
    paused = queued("gang", replicas=2, priority=5, hold_paused_until=T0 + timedelta(minutes=5))
    decisions = plan(npu_nodes(1, busy=1), [paused, queued("small")], T0, max_hold_seconds=None)
    assert (decisions["gang"].reason, decisions["gang"].hold_paused_until) == ("InsufficientCapacity", None)
    assert decisions["small"].reason == "WaitingForEarlierWorkload"


def test_a_gang_that_held_too_long_lets_others_backfill_and_says_so(workspace, developer_client, settings):
    settings.ADMISSION_MAX_HOLD_SECONDS, settings.ADMISSION_HOLD_COOLDOWN_SECONDS = 60, 120
    pool = make_pool(nodes=2)
    make_workload(workspace, pool, name="forever")
    admit_workloads()
    gang = make_workload(workspace, pool, replicas=2, priority=5, name="gang")
    small = make_workload(workspace, pool, name="small")
    now = timezone.now()
    admit_workloads(now=now)
    gang.refresh_from_db()
    assert (gang.reason, gang.holding_since, phase(small)) == ("InsufficientCapacity", now, Phase.QUEUED)
    admit_workloads(now=now + timedelta(seconds=61))
    admit_workloads(now=now + timedelta(seconds=62))
    gang.refresh_from_db()
    assert phase(small) == Phase.ADMITTED
    assert gang.reason == "HoldExpired" and gang.hold_paused_until == now + timedelta(seconds=181)
    assert "it held its nodes against other work for 1 min without fitting" in gang.message
    events = developer_client.get(f"/api/v1/workspaces/{workspace.pk}/workloads/{gang.pk}/events/").json()["results"]
    assert [e["reason"] for e in events if e["reason"] == "HoldExpired"] == ["HoldExpired"]
    assert events[-1]["message"].startswith("Stopped holding capacity: it held its nodes against other work")
    admit_workloads(now=now + timedelta(seconds=181))
    gang.refresh_from_db()
    assert (gang.reason, gang.holding_since, gang.hold_paused_until) == (
        "InsufficientCapacity", now + timedelta(seconds=181), None)
    services.transition_workloads(workload_ids=list(Workload.objects.filter(name__in=["forever", "small"])
                                                    .values_list("pk", flat=True)), to=Phase.STOPPED,
                                  reason="Stopped")
    admit_workloads(now=now + timedelta(seconds=200))
    gang.refresh_from_db()
    assert (gang.phase, gang.holding_since, gang.hold_paused_until) == (Phase.ADMITTED, None, None)

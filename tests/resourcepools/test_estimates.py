"""Start-time estimates: the pure estimator (resourcepools.estimates) over plain data, and what
a pending workload shows through the API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from resourcepools import services
from resourcepools.admission import Budget, QueuedWorkload, admit_workloads
from resourcepools.estimates import History, estimate_starts, expected_run, running_holder
from resourcepools.models import Phase, Workload
from resourcepools.packing import NodeState, PodSetDemand
from tests.factories import WorkspaceFactory, make_pool, make_workload

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NPU = {"flavor_id": 1, "flavor_name": "npu.910b.8", "accelerator_kind": "ascend_npu"}
HOUR = 3600


def queued(name, workspace="ws", replicas=1):
    demand = PodSetDemand(id=hash(name), name="worker", replicas=replicas, vcpus=192, memory_gib=1536,
                          accelerators=8, **NPU)
    return QueuedWorkload(name, name, workspace, 0, T0, (demand,))


def nodes(free, busy=0):
    return ([NodeState(i, 1, 192, 1536, 8) for i in range(free)]
            + [NodeState(100 + i, 1, 0, 0, 0) for i in range(busy)])


def running(name, node_id, seconds=None, basis="its max runtime", workspace="ws", since=T0):
    expected = (seconds, basis) if seconds is not None else None
    return running_holder(name=name, workspace_id=workspace, placements=[(node_id, 192, 1536, 8)], since=since,
                          expected=expected, now=T0)


def estimate(free, busy, holders, queue, expected=None, budgets=None, **kwargs):
    return estimate_starts(now=T0, nodes=nodes(free, busy), holders=holders, queue=queue, budgets=budgets or {},
                           expected=expected or {}, **kwargs)


def test_expected_run_time_from_history_capped_by_max_runtime():
    history = History(4, 1800, "runs of 'train' in this workspace")
    assert expected_run(max_runtime_seconds=None, history=history) == (
        1800, "the average of 4 finished runs of 'train' in this workspace, 30 min")
    assert expected_run(max_runtime_seconds=600, history=history) == (600, "its max runtime of 10 min")
    assert expected_run(max_runtime_seconds=2 * HOUR, history=None) == (2 * HOUR, "its max runtime of 2 h")
    assert expected_run(max_runtime_seconds=None, history=None) is None


def test_work_that_fits_now_starts_at_the_next_pass():
    result = estimate(1, 0, [], [queued("q")])
    assert (result["q"].starts_at, result["q"].basis) == (T0, "It fits now and starts at the next admission pass.")


def test_queued_work_starts_when_running_work_is_expected_to_end():
    holder = running("train", 100, 2 * HOUR, "its max runtime of 2 h")
    result = estimate(0, 1, [holder], [queued("q")])
    assert result["q"].starts_at == T0 + timedelta(hours=2)
    assert result["q"].basis == ("When 'train' ends, about 2026-01-01 02:00 UTC (expected from its max runtime of "
                                 "2 h), enough capacity is free.")


def test_work_ahead_starts_first_and_its_own_expected_end_counts():
    holders = [running("train", 100, HOUR)]
    queue = [queued("first"), queued("second")]
    result = estimate(0, 1, holders, queue, expected={"first": (1800, "the average of 3 finished runs, 30 min")})
    assert result["first"].starts_at == T0 + timedelta(hours=1)
    assert result["second"].starts_at == T0 + timedelta(hours=1, minutes=30)
    assert result["second"].basis == (
        "When 'first' ends, about 2026-01-01 01:30 UTC (expected from the average of 3 finished runs, 30 min), "
        "enough capacity is free; 1 workload(s) ahead of it start first.")


def test_a_gang_waits_for_enough_ends():
    holders = [running("a", 100, HOUR), running("b", 101, 3 * HOUR)]
    result = estimate(0, 2, holders, [queued("gang", replicas=2)])
    assert result["gang"].starts_at == T0 + timedelta(hours=3)
    assert result["gang"].basis.startswith("When 'b' ends")


def test_work_past_its_expected_end_may_end_any_moment():
    late = running("late", 100, HOUR, "its max runtime of 1 h", since=T0 - timedelta(hours=2))
    result = estimate(0, 1, [late], [queued("q")])
    assert result["q"].starts_at == T0
    assert late.end_basis == "it has run longer than expected from its max runtime of 1 h, so it may end any moment"


def test_no_estimate_behind_work_with_no_expected_end():
    result = estimate(0, 1, [running("notebook", 100)], [queued("q")])
    assert result["q"].starts_at is None
    assert result["q"].basis == ("No estimate: it waits for capacity held by work with no expected end ('notebook': "
                                 "no max runtime and no finished runs like it).")


def test_work_over_its_queues_limit_waits_for_its_own_queues_work_to_end():
    budgets = {"a": Budget(limits={"max_accelerators": 8}, used={"accelerators": 8, "vcpus": 192,
                                                                  "memory_gib": 1536, "workloads": 1})}
    holders = [running("mine", 100, HOUR, workspace="a")]
    result = estimate(1, 1, holders, [queued("q", workspace="a")], budgets=budgets)
    assert result["q"].starts_at == T0 + timedelta(hours=1)
    assert budgets["a"].used["accelerators"] == 8  # the caller's budgets are left as they were


def test_refused_work_has_no_estimate_but_says_why():
    result = estimate(1, 0, [], [queued("q")], not_estimated={"q": "Account balance is below zero."})
    assert (result["q"].starts_at, result["q"].basis) == (None, "No estimate: Account balance is below zero.")


def start(workload, at):
    """Admitted work starts (through the transition), at a given time."""
    services.transition_workload(workload=workload, to=Phase.RUNNING, reason="Started")
    Workload.objects.filter(pk=workload.pk).update(started_at=at)


@pytest.mark.django_db
def test_a_pending_workload_shows_when_it_will_start_and_why(workspace, developer_client):
    pool = make_pool(nodes=1)
    running_job = make_workload(workspace, pool, name="train", max_runtime_seconds=2 * HOUR)
    admit_workloads()
    started = timezone.now() - timedelta(minutes=5)
    start(running_job, started)
    waiting = make_workload(workspace, pool, name="next")
    admit_workloads()
    body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{waiting.pk}/").json()
    assert (body["phase"], body["reason"], body["queue_position"]) == ("queued", "InsufficientCapacity", 1)
    expected_at = started + timedelta(hours=2)
    assert datetime.fromisoformat(body["estimated_start_at"]) == expected_at
    assert body["estimate_basis"] == (f"When 'train' ends, about {expected_at:%Y-%m-%d %H:%M} UTC (expected from its "
                                      "max runtime of 2 h), enough capacity is free.")
    listed = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/").json()["results"]
    by_name = {w["name"]: w for w in listed}
    assert by_name["next"]["estimated_start_at"] == body["estimated_start_at"]
    assert (by_name["train"]["estimated_start_at"], by_name["train"]["estimate_basis"]) == (None, "")


@pytest.mark.django_db
def test_history_of_similar_finished_runs_sets_the_estimate(workspace, developer_client):
    pool = make_pool(nodes=1)
    done = make_workload(workspace, pool, name="nightly")
    admit_workloads()
    now = timezone.now()
    start(done, now - timedelta(minutes=50))
    services.transition_workload(workload=done, to=Phase.SUCCEEDED, reason="Completed")
    Workload.objects.filter(pk=done.pk).update(finished_at=now - timedelta(minutes=30))
    current = make_workload(workspace, pool, name="nightly")
    admit_workloads()
    start(current, now)
    waiting = make_workload(workspace, pool, name="other")
    body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{waiting.pk}/").json()
    assert datetime.fromisoformat(body["estimated_start_at"]) == now + timedelta(minutes=20)
    assert body["estimate_basis"].startswith("When 'nightly' ends, about ")
    assert "(expected from the average of 1 finished runs of the same name in its workspace, 20 min)" in \
        body["estimate_basis"]


@pytest.mark.django_db
def test_an_estimate_never_names_another_tenants_work(workspace, developer_client):
    pool = make_pool(nodes=1)
    theirs = make_workload(WorkspaceFactory(), pool, name="secret-project", max_runtime_seconds=HOUR)
    admit_workloads()
    start(theirs, timezone.now())
    waiting = make_workload(workspace, pool, name="mine")
    body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{waiting.pk}/").json()
    assert body["estimate_basis"].startswith("When a workload of another workspace ends, about ")
    assert "secret-project" not in body["estimate_basis"]


@pytest.mark.django_db
def test_listing_pending_work_with_estimates_takes_the_same_queries_for_any_page_size(workspace, developer_client):
    pool = make_pool(nodes=1)
    make_workload(workspace, pool, name="train", max_runtime_seconds=HOUR)
    admit_workloads()
    for i in range(5):
        make_workload(workspace, pool, name=f"w{i}", max_runtime_seconds=HOUR)
    developer_client.get("/api/v1/me/")
    counts = []
    for size in (2, 6):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/", {"page_size": size}).json()
        counts.append(len(ctx.captured_queries))
        assert all(w["estimated_start_at"] for w in body["results"] if w["phase"] == "queued")
    assert counts[0] == counts[1]

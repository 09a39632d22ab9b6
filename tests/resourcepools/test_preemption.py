"""Preemption as pure planning: which admitted work a queued workload preempts, within its queue
by the queue's policy and across the cohort to reclaim what other queues borrowed
(plan_preemption, and plan_admission applying it)."""

from datetime import UTC, datetime, timedelta

import pytest

from aiplatform.models import Role
from resourcepools import services
from resourcepools.admission import Budget, QueuedWorkload, admit_workloads, plan_admission
from resourcepools.models import Phase, Quota, Workload, WorkloadEvent
from resourcepools.packing import NodeState, PodSetDemand
from resourcepools.preemption import AdmittedWorkload, plan_preemption
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, make_pool, make_workload, member_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NPU = {"flavor_id": 1, "flavor_name": "npu.910b.8", "accelerator_kind": "ascend_npu"}
NODE = {"vcpus": 192, "memory_gib": 1536, "accelerators": 8}


def free_nodes(count, full=()):
    """`count` nodes, those in `full` with nothing free (held by admitted work)."""
    return [NodeState(i, 1, *((0, 0, 0) if i in full else (192, 1536, 8))) for i in range(count)]


def job(name, workspace, priority=0, seconds=0, replicas=1):
    demand = PodSetDemand(id=hash(name), name="worker", replicas=replicas, **NODE, **NPU)
    return QueuedWorkload(name, name, workspace, priority, T0 + timedelta(seconds=seconds), (demand,),
                          kind="training")


def running(name, workspace, node, priority=0, admitted=0, queued=None, preemptible=True):
    """Admitted work holding one whole node."""
    totals = {**NODE, **{f"{r}@1": amount for r, amount in NODE.items()}}
    return AdmittedWorkload(name, name, "training", workspace, priority,
                            T0 + timedelta(seconds=admitted if queued is None else queued),
                            T0 + timedelta(seconds=admitted), preemptible, totals,
                            ((node, NODE["vcpus"], NODE["memory_gib"], NODE["accelerators"]),))


def queue(nominal, holding=0, borrowing=None, policy="never"):
    """A queue with a nominal share of accelerators, holding `holding` whole nodes."""
    return Budget(limits={"max_accelerators": nominal},
                  used={"accelerators": 8 * holding, "vcpus": 192 * holding, "memory_gib": 1536 * holding,
                        "workloads": holding},
                  borrowing={"accelerators": borrowing}, preemption_policy=policy)


def victims(workload, budgets, nodes, candidates, reclaim=True):
    budget = budgets[workload.workspace_id]
    found = plan_preemption(workload=workload, budget=budget, budgets=budgets, policy=budget.preemption_policy,
                            nodes=nodes, candidates=candidates, reclaim=reclaim)
    return None if found is None else [v.id for v in found.victims]


def test_within_a_queue_higher_priority_preempts_the_lowest_priority_newest_work_first():
    budgets = {"a": queue(None, holding=3, policy="lower_priority")}
    candidates = [running("low-old", "a", 0, priority=1, admitted=0), running("low-new", "a", 1, priority=1,
                                                                                  admitted=5),
                  running("lowest", "a", 2, priority=0, admitted=1)]
    assert victims(job("urgent", "a", priority=5), budgets, free_nodes(3, full={0, 1, 2}), candidates) == ["lowest"]
    # Two nodes needed: the lowest priority, then the newest of the next priority.
    assert victims(job("urgent", "a", priority=5, replicas=2), budgets, free_nodes(3, full={0, 1, 2}),
                   candidates) == ["lowest", "low-new"]


def test_the_queues_policy_decides_what_of_its_own_work_may_be_preempted():
    nodes = free_nodes(1, full={0})
    equal_newer = running("same-later", "a", 0, priority=3, queued=10)
    for policy, expected in (("never", None), ("lower_priority", None),
                             ("lower_or_newer_equal_priority", ["same-later"])):
        budgets = {"a": queue(None, holding=1, policy=policy)}
        assert victims(job("first", "a", priority=3, seconds=0), budgets, nodes, [equal_newer]) == expected, policy
    # Equal priority queued earlier is never preempted.
    budgets = {"a": queue(None, holding=1, policy="lower_or_newer_equal_priority")}
    assert victims(job("late", "a", priority=3, seconds=20), budgets, nodes, [equal_newer]) is None


def test_non_preemptible_work_is_never_a_victim():
    budgets = {"a": queue(None, holding=2, policy="lower_priority")}
    candidates = [running("pinned", "a", 0, preemptible=False), running("plain", "a", 1, admitted=-5)]
    assert victims(job("urgent", "a", priority=5), budgets, free_nodes(2, full={0, 1}), candidates) == ["plain"]
    assert victims(job("urgent", "a", priority=5), budgets, free_nodes(1, full={0}), candidates[:1]) is None


def test_victims_that_turn_out_unnecessary_are_dropped():
    # The newest low-priority work sits on a node too small to matter; taking it first, then the
    # older one that frees a whole node, only the second is needed.
    budgets = {"a": queue(None, holding=2, policy="lower_priority")}
    small = AdmittedWorkload("small", "small", "training", "a", 0, T0, T0 + timedelta(seconds=9), True,
                             {"accelerators": 2, "vcpus": 48, "memory_gib": 384}, ((1, 48, 384, 2),))
    nodes = [NodeState(0, 1, 0, 0, 0), NodeState(1, 1, 0, 0, 0)]
    big = running("big", "a", 0, admitted=1)
    assert victims(job("urgent", "a", priority=5), budgets, nodes, [small, big]) == ["big"]


def test_a_queue_below_its_nominal_share_reclaims_borrowed_capacity_newest_lowest_priority_first():
    # b's nominal share is 8 cards but it holds 3 nodes (24): it borrowed 16, of a's guarantee.
    budgets = {"a": queue(16, holding=0), "b": queue(8, holding=3, borrowing=None)}
    candidates = [running("b-first", "b", 0, priority=9, admitted=0), running("b-second", "b", 1, priority=0,
                                                                                  admitted=1),
                  running("b-third", "b", 2, priority=0, admitted=2)]
    nodes = free_nodes(3, full={0, 1, 2})
    assert victims(job("a1", "a"), budgets, nodes, candidates) == ["b-third"]
    assert victims(job("a1", "a", replicas=2), budgets, nodes, candidates) == ["b-third", "b-second"]
    # b is back at its nominal share after two: its third (high priority, within its share) stays.
    assert victims(job("a1", "a", replicas=3), budgets, nodes, candidates) is None


def test_no_reclaim_from_a_queue_within_its_nominal_share_nor_for_work_that_would_borrow():
    budgets = {"a": queue(16, holding=0), "b": queue(8, holding=1)}
    assert victims(job("a1", "a"), budgets, free_nodes(1, full={0}), [running("b1", "b", 0)]) is None
    budgets = {"a": queue(16, holding=0), "b": queue(0, holding=1, borrowing=None)}
    assert victims(job("a1", "a"), budgets, free_nodes(1, full={0}), [running("b1", "b", 0)], reclaim=False) is None


def test_admission_applies_a_reclaim_and_tells_the_victim_why_without_naming_the_other_workspace():
    budgets = {"a": queue(16, holding=0), "b": queue(8, holding=3, borrowing=None)}
    candidates = [running("b1", "b", 0, admitted=0), running("b2", "b", 1, admitted=1),
                  running("b3", "b", 2, admitted=2)]
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=free_nodes(3, full={0, 1, 2}),
                               queue=[job("secret-project", "a", replicas=2)], budgets=budgets, now=T0,
                               starvation_seconds=600, admitted=candidates)
    (decision,) = decisions
    assert decision.admitted and {p.node_id for p in decision.placements} == {1, 2}
    assert [victim for victim, _ in decision.preempted] == ["b3", "b2"]
    message = decision.preempted[0][1]
    assert message == ("Preempted to give back capacity its queue borrowed above its nominal share: a workload of "
                       "another workspace needs 16 Ascend NPUs within its own queue's guaranteed share in pool p; it "
                       "will be queued again with its original queue time.")
    assert "secret-project" not in message
    assert decision.preempted_summary == ("Admitted to pool p by preempting 2 workload(s) of other workspaces that "
                                          "borrowed above their queues' nominal shares.")
    assert budgets["b"].used["accelerators"] == 8 and budgets["a"].used["accelerators"] == 16


def test_admission_preempts_within_a_queue_at_its_quota_and_names_the_preemptor_to_its_own_workspace():
    budgets = {"a": queue(8, holding=1, borrowing=0, policy="lower_priority")}
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=free_nodes(2, full={0}),
                               queue=[job("urgent", "a", priority=5)], budgets=budgets, now=T0,
                               starvation_seconds=600, admitted=[running("batch", "a", 0, priority=1)])
    (decision,) = decisions
    assert decision.admitted, decision.message
    assert decision.preempted == [("batch", "Preempted by training workload 'urgent' of this workspace (a higher "
                                            "priority: 5 against 1), which needs 8 Ascend NPUs in pool p; it will be "
                                            "queued again with its original queue time.")]
    # Without a policy the quota refuses, as before.
    budgets = {"a": queue(8, holding=1, borrowing=0)}
    (refused,) = plan_admission(pool_name="p", pool_status="running", nodes=free_nodes(2, full={0}),
                                queue=[job("urgent", "a", priority=5)], budgets=budgets, now=T0,
                                starvation_seconds=600, admitted=[running("batch", "a", 0, priority=1)])
    assert refused.reason == "QuotaExceeded"


# --- through the API and the admission pass ------------------------------------------------------


@pytest.fixture
def admin_client(workspace):
    admin = member_of(workspace, Role.VIEWER)
    admin.account_member.is_admin = True
    admin.account_member.save()
    return client_for(admin)


def test_a_queue_reclaims_its_guaranteed_share_and_each_side_is_told_why(workspace, developer_client):
    pool = make_pool(nodes=2)
    borrower = WorkspaceFactory()
    services.set_quota(workspace=workspace, pool=pool, max_accelerators=8)
    services.set_quota(workspace=borrower, pool=pool, max_accelerators=8, borrowing_limit_accelerators=8)
    own = make_workload(borrower, pool, name="theirs-1")
    borrowed = make_workload(borrower, pool, name="theirs-2")
    admit_workloads()
    assert set(Workload.objects.filter(phase=Phase.ADMITTED).values_list("name", flat=True)) == {
        "theirs-1", "theirs-2"}

    mine = make_workload(workspace, pool, name="secret-plan", kind="training")
    admit_workloads()
    mine.refresh_from_db()
    own.refresh_from_db()
    borrowed.refresh_from_db()
    assert (mine.phase, own.phase, borrowed.phase) == (Phase.ADMITTED, Phase.ADMITTED, Phase.STOPPING)
    assert borrowed.reason == "Preempted" and "secret-plan" not in borrowed.message
    assert borrowed.message.startswith("Preempted to give back capacity its queue borrowed above its nominal share")
    event = WorkloadEvent.objects.get(workload=borrowed, reason="Preempted")
    assert (event.from_phase, event.to_phase) == (Phase.ADMITTED, Phase.STOPPING)
    response = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{mine.pk}/events/")
    assert response.json()["results"][-1]["message"] == (
        "Admitted to pool p-1 by preempting 1 workload(s) of other workspaces that borrowed above their queues' "
        "nominal shares.")
    # Another tenant's workload and its events stay out of sight.
    assert developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{borrowed.pk}/events/"
                                ).status_code == 404


def test_non_preemptible_work_is_kept_and_the_queue_waits(workspace, developer_client):
    pool = make_pool(nodes=1)
    services.set_quota(workspace=workspace, pool=pool, preemption_policy="lower_priority")
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    body = {"pool": str(pool.pk), "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "npu.910b.8"}]}
    pinned = developer_client.post(url, {**body, "name": "pinned", "preemptible": False}, format="json")
    assert pinned.status_code == 201 and pinned.json()["preemptible"] is False
    admit_workloads()
    urgent = developer_client.post(url, {**body, "name": "urgent", "priority": 5}, format="json").json()
    admit_workloads()
    assert Workload.objects.get(pk=pinned.json()["id"]).phase == Phase.ADMITTED
    assert Workload.objects.get(pk=urgent["id"]).reason == "InsufficientCapacity"


def test_a_preemption_policy_is_set_through_the_quota_api_and_a_bad_one_refused(workspace, admin_client):
    pool = make_pool(nodes=1)
    url = f"/api/v1/workspaces/{workspace.id}/quotas/"
    created = admin_client.post(url, {"pool": str(pool.pk), "preemption_policy": "lower_or_newer_equal_priority"},
                                format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["preemption_policy"] == "lower_or_newer_equal_priority"
    refused = admin_client.patch(f"{url}{created.json()['id']}/", {"preemption_policy": "always"}, format="json")
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["attr"] == "preemption_policy" and "always" in error["detail"]
    assert Quota.objects.get().preemption_policy == "lower_or_newer_equal_priority"

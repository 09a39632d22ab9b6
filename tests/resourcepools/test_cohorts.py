"""Queues and cohorts: borrowing idle capacity up to a limit, lending limits, fair share among
borrowers by weighted dominant-resource share (plan_admission as a pure function), and the
lent amounts the API reports (lent_by_queues)."""

from datetime import UTC, datetime, timedelta

from resourcepools.admission import Budget, QueuedWorkload, plan_admission
from resourcepools.packing import NodeState, PodSetDemand
from resourcepools.selectors import lent_by_queues

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NPU = {"flavor_id": 1, "flavor_name": "npu.910b.8", "accelerator_kind": "ascend_npu"}


def nodes(count):
    return [NodeState(i, 1, 192, 1536, 8) for i in range(count)]


def job(name, workspace, priority=0, seconds=0):
    demand = PodSetDemand(id=hash(name), name="worker", replicas=1, vcpus=192, memory_gib=1536, accelerators=8, **NPU)
    return QueuedWorkload(name, name, workspace, priority, T0 + timedelta(seconds=seconds), (demand,))


def queue_of(nominal, used=0, borrowing=0, lending=None, weight=1.0):
    """A queue with a nominal share of accelerators using `used` of them (8-card workloads)."""
    return Budget(limits={"max_accelerators": nominal},
                  used={"accelerators": used, "vcpus": used * 24, "memory_gib": used * 192, "workloads": used // 8},
                  borrowing={"accelerators": borrowing}, lending={"accelerators": lending}, weight=weight)


def plan(free_nodes, queue, budgets, capacity=None):
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=nodes(free_nodes), queue=queue,
                               budgets=budgets, now=T0, starvation_seconds=600, capacity=capacity)
    return {d.workload_id: d for d in decisions}


def test_a_queue_borrows_idle_capacity_of_its_cohort_up_to_its_borrowing_limit():
    budgets = {"a": queue_of(8, borrowing=8), "b": queue_of(16)}
    result = plan(3, [job("a1", "a"), job("a2", "a", seconds=1), job("a3", "a", seconds=2)], budgets)
    assert result["a1"].admitted and result["a1"].message == "Admitted to pool p."
    assert result["a2"].admitted
    assert result["a2"].message == "Admitted to pool p, borrowing idle capacity of its cohort."
    assert (result["a3"].reason, result["a3"].queue_position) == ("BorrowingLimitReached", 2)
    assert result["a3"].message == (
        "Borrowing limit reached: needs 8 accelerators, 16 in use in this pool against a nominal share of 8 plus a "
        "borrowing limit of 8. Wait for running work to end or ask your account admin for a larger share. (1 ahead)")
    assert budgets["a"].used["accelerators"] == 16


def test_without_a_borrowing_limit_the_nominal_share_is_a_hard_quota_as_before():
    result = plan(3, [job("a1", "a"), job("a2", "a", seconds=1)], {"a": queue_of(8), "b": queue_of(16)})
    assert result["a1"].admitted
    assert result["a2"].reason == "QuotaExceeded"
    assert result["a2"].message.startswith("Workspace quota exceeded: needs 8 accelerators, 8 of 8 in use")


def test_a_borrower_never_takes_more_of_another_queues_unused_share_than_its_lending_limit():
    # b guarantees itself 16 of its unused 16 (lends 0): the one idle node is not a's to borrow.
    kept = plan(2, [job("a1", "a")], {"a": queue_of(8, used=8, borrowing=None), "b": queue_of(16, lending=0)})
    assert kept["a1"].reason == "BorrowingExhausted"
    assert kept["a1"].message == (
        "Borrowing exhausted: needs to borrow 8 accelerators above its nominal share of 8; the cohort has 0 to lend "
        "(16 idle, of which other queues keep 16 for their nominal shares); 0 workload(s) ahead.")
    # Lending 8 of the 16 lets one 8-card workload borrow, not two.
    lends = plan(2, [job("a1", "a"), job("a2", "a", seconds=1)],
                 {"a": queue_of(8, used=8, borrowing=None), "b": queue_of(16, lending=8)})
    assert lends["a1"].admitted
    assert lends["a2"].reason == "BorrowingExhausted" and "the cohort has 0 to lend" in lends["a2"].message


def test_work_of_a_workspace_without_a_queue_leaves_what_queues_keep_for_themselves():
    result = plan(2, [job("x1", "other"), job("x2", "other", seconds=1)], {"b": queue_of(8, lending=0)})
    assert result["x1"].admitted
    assert result["x2"].reason == "BorrowingExhausted"
    assert "other queues keep 8 for their nominal shares" in result["x2"].message


def test_work_within_a_nominal_share_goes_before_borrowers_earlier_in_line():
    budgets = {"a": queue_of(8, used=8, borrowing=None), "c": queue_of(8)}
    result = plan(1, [job("a1", "a", priority=5), job("c1", "c")], budgets)
    assert result["c1"].admitted
    assert result["a1"].reason == "BorrowingExhausted" and not result["a1"].holding_since
    assert "the cohort has 0 to lend (0 idle" in result["a1"].message
    assert result["a1"].queue_position == 1


def borrowing_race(weight_a, weight_b):
    budgets = {"a": queue_of(0, borrowing=None, weight=weight_a), "b": queue_of(0, borrowing=None, weight=weight_b)}
    queue = [job(f"{ws}{i}", ws, seconds=i) for i in range(8) for ws in ("a", "b")]
    result = plan(8, queue, budgets, capacity={"accelerators": 64, "vcpus": 1536, "memory_gib": 12288})
    admitted = [d.workload_id for d in result.values() if d.admitted]
    return sum(name.startswith("a") for name in admitted), sum(name.startswith("b") for name in admitted)


def test_idle_capacity_goes_to_borrowers_by_weighted_dominant_resource_share():
    assert borrowing_race(1, 1) == (4, 4)
    assert borrowing_race(3, 1) == (6, 2)
    assert borrowing_race(1, 3) == (2, 6)


def test_fair_share_keeps_each_queues_order_by_priority_and_time():
    budgets = {"a": queue_of(0, borrowing=None), "b": queue_of(0, borrowing=None)}
    queue = [job("a-urgent", "a", priority=9), job("a-old", "a", seconds=1), job("b-old", "b", seconds=2)]
    result = plan(2, queue, budgets)
    assert result["a-urgent"].admitted and result["b-old"].admitted
    assert result["a-old"].reason == "BorrowingExhausted"


def test_lent_amounts_come_from_the_queues_unused_shares_once_unguaranteed_capacity_is_used():
    # 32 cards: a guaranteed 16 (uses 24: borrows 8), b 8 unused, c 8 unused; nothing unguaranteed.
    queues = {"a": (16, 24, None), "b": (8, 0, None), "c": (8, 0, None)}
    assert lent_by_queues(capacity=32, total_used=24, queues=queues) == {"a": 0, "b": 4, "c": 4}
    # With 8 unguaranteed cards the borrowing fills those first.
    assert lent_by_queues(capacity=40, total_used=24, queues=queues) == {"a": 0, "b": 0, "c": 0}
    # A lending limit of 2 caps what b lends.
    capped = {"a": (16, 24, None), "b": (8, 0, 2), "c": (8, 0, None)}
    assert lent_by_queues(capacity=32, total_used=24, queues=capped) == {"a": 0, "b": 2, "c": 6}


# --- shares per flavor, where a pool has several -------------------------------------------------

GPU = {"flavor_id": 2, "flavor_name": "gpu.a100.8", "accelerator_kind": "nvidia_gpu"}


def gpu_job(name, workspace, seconds=0):
    demand = PodSetDemand(id=hash(name), name="worker", replicas=1, vcpus=96, memory_gib=1024, accelerators=8, **GPU)
    return QueuedWorkload(name, name, workspace, 0, T0 + timedelta(seconds=seconds), (demand,))


def flavor_queue(nominal, used=0, borrowing=0, lending=None):
    """A queue with a share of the NPU flavor's accelerators only, using `used` of them."""
    return Budget(limits={"max_accelerators@1": nominal},
                  used={"accelerators": used, "vcpus": 0, "memory_gib": 0, "workloads": used // 8,
                        "accelerators@1": used},
                  borrowing={"accelerators@1": borrowing}, lending={"accelerators@1": lending},
                  labels={"accelerators@1": "accelerators on npu.910b.8 nodes"})


def mixed_nodes(npu, gpu):
    return nodes(npu) + [NodeState(50 + i, 2, 96, 1024, 8) for i in range(gpu)]


def test_a_flavor_share_limits_work_on_that_flavor_only():
    queue = [job("npu-1", "a"), job("npu-2", "a", seconds=1), gpu_job("gpu-1", "a", seconds=2)]
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=mixed_nodes(2, 1), queue=queue,
                               budgets={"a": flavor_queue(8)}, now=T0, starvation_seconds=600)
    result = {d.workload_id: d for d in decisions}
    assert result["npu-1"].admitted and result["gpu-1"].admitted
    assert result["npu-2"].reason == "QuotaExceeded"
    assert result["npu-2"].message.startswith(
        "Workspace quota exceeded: needs 8 accelerators on npu.910b.8 nodes, 8 of 8 in use in this pool.")


def test_a_flavor_share_borrows_and_lends_on_that_flavors_nodes():
    budgets = {"a": flavor_queue(8, used=8, borrowing=8), "b": flavor_queue(8, lending=0)}
    queue = [job("a-npu", "a"), gpu_job("a-gpu", "a", seconds=1)]
    decisions = plan_admission(pool_name="p", pool_status="running", nodes=mixed_nodes(1, 1), queue=queue,
                               budgets=budgets, now=T0, starvation_seconds=600)
    result = {d.workload_id: d for d in decisions}
    # b keeps its whole unused NPU share, so a cannot borrow the idle NPU node; GPUs are nobody's share.
    assert result["a-npu"].reason == "BorrowingExhausted"
    assert result["a-npu"].message.startswith(
        "Borrowing exhausted: needs to borrow 8 accelerators on npu.910b.8 nodes above its nominal share of 8; the "
        "cohort has 0 to lend (8 idle, of which other queues keep 8 for their nominal shares)")
    assert result["a-gpu"].admitted


def test_work_held_behind_another_tenants_gang_is_not_told_its_name():
    gang = QueuedWorkload("gang", "their-secret-gang", "other", 5, T0, (PodSetDemand(
        id=1, name="worker", replicas=2, vcpus=192, memory_gib=1536, accelerators=8, **NPU),))
    mine, own_gang = job("mine", "a", seconds=1), QueuedWorkload("own", "our-gang", "a", 5, T0, gang.pod_sets)
    behind_theirs = plan(1, [gang, mine], {})
    assert behind_theirs["mine"].message == (
        "Waiting behind a workload of another workspace, which is earlier in line for the same nodes; 1 "
        "workload(s) ahead.")
    behind_ours = plan(1, [own_gang, mine], {})
    assert behind_ours["mine"].message.startswith("Waiting behind our-gang, which is earlier in line")

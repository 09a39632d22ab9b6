"""Flavor fallback: a pod set names several flavors in order of preference, and admission takes
the first that its queue allows and the free nodes fit (choose_flavors, pure), through the API
with the bad inputs."""

from datetime import UTC, datetime

import pytest

from resourcepools import services
from resourcepools.admission import Budget, QueuedWorkload, admit_workloads, choose_flavors, flavor_key
from resourcepools.models import Phase, PodSet, Workload, WorkloadEvent
from resourcepools.packing import NodeState, PodSetDemand
from tests.factories import FlavorFactory, make_pool

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NPU, GPU = 1, 2


def demand(flavor, replicas=1):
    name, kind = {NPU: ("npu.910b.8", "ascend_npu"), GPU: ("gpu.a100.8", "nvidia_gpu")}[flavor]
    return PodSetDemand(7, "worker", replicas, flavor, name, kind, 96, 1024, 8)


def fallback_job(replicas=1):
    options = ((demand(NPU, replicas), demand(GPU, replicas)),)
    return QueuedWorkload("job", "job", "a", 0, T0, (options[0][0],), options=options)


def node(i, flavor, free=True):
    return NodeState(i, flavor, *((192, 2048, 8) if free else (0, 0, 0)))


def test_the_first_choice_is_taken_when_it_fits_and_the_next_when_it_does_not():
    chosen = choose_flavors(fallback_job(), None, [node(0, NPU), node(1, GPU)])
    assert [d.flavor_name for d in chosen.pod_sets] == ["npu.910b.8"]
    chosen = choose_flavors(fallback_job(), None, [node(0, NPU, free=False), node(1, GPU)])
    assert [d.flavor_name for d in chosen.pod_sets] == ["gpu.a100.8"]
    # Nothing fits: it waits on its first choice.
    chosen = choose_flavors(fallback_job(2), None, [node(0, NPU, free=False), node(1, GPU)])
    assert [d.flavor_name for d in chosen.pod_sets] == ["npu.910b.8"]


def test_a_choice_its_queue_does_not_allow_is_passed_over_and_borrowing_comes_after_the_share():
    # Its queue's share of NPU nodes is used up: the GPUs, though they come second.
    budget = Budget(limits={"max_accelerators": None, f"max_{flavor_key('accelerators', NPU)}": 8},
                    used={"accelerators": 8, "vcpus": 0, "memory_gib": 0, "workloads": 1,
                          flavor_key("accelerators", NPU): 8})
    chosen = choose_flavors(fallback_job(), budget, [node(0, NPU), node(1, GPU)])
    assert [d.flavor_name for d in chosen.pod_sets] == ["gpu.a100.8"]
    # With a borrowing limit it could borrow NPUs, but GPUs within its share come first.
    budget.borrowing[flavor_key("accelerators", NPU)] = 8
    chosen = choose_flavors(fallback_job(), budget, [node(0, NPU), node(1, GPU)])
    assert [d.flavor_name for d in chosen.pod_sets] == ["gpu.a100.8"]


@pytest.fixture
def pool():
    pool = make_pool(nodes=1)
    gpu = FlavorFactory(name="gpu.a100.8", vcpus=96, memory_gib=1024, accelerator_kind="nvidia_gpu",
                        accelerator_model="A100", accelerators=8, accelerator_memory_gib=80)
    services.add_node(pool=pool, name="gpu-0", flavor=gpu)
    return pool


@pytest.mark.django_db
def test_work_naming_two_flavors_runs_on_the_second_when_the_first_is_busy(workspace, developer_client, pool):
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    body = {"pool": str(pool.pk), "pod_sets": [{"name": "worker", "replicas": 1,
                                                 "flavors": ["npu.910b.8", "gpu.a100.8"]}]}
    first = developer_client.post(url, {**body, "name": "first"}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["pod_sets"][0]["flavors"] == ["npu.910b.8", "gpu.a100.8"]
    assert first.json()["pod_sets"][0]["flavor"] == "npu.910b.8"
    admit_workloads()
    second = developer_client.post(url, {**body, "name": "second"}, format="json").json()
    admit_workloads()
    first, second = (Workload.objects.get(pk=pk) for pk in (first.json()["id"], second["id"]))
    assert (first.phase, second.phase) == (Phase.ADMITTED, Phase.ADMITTED)
    assert PodSet.objects.get(workload=first).flavor.name == "npu.910b.8"
    worker = PodSet.objects.get(workload=second)
    assert (worker.flavor.name, worker.vcpus, worker.memory_gib, worker.accelerators) == ("gpu.a100.8", 96, 1024, 8)
    assert {a.node.name for a in second.allocations.all()} == {"gpu-0"}
    assert WorkloadEvent.objects.get(workload=second, reason="FlavorFallback").message == (
        "Admitted on a later choice of flavor: worker on gpu.a100.8 (its first choice did not fit now).")
    shown = developer_client.get(f"{url}{second.pk}/").json()["pod_sets"][0]
    assert (shown["flavor"], shown["flavors"]) == ("gpu.a100.8", ["npu.910b.8", "gpu.a100.8"])


@pytest.mark.django_db
@pytest.mark.parametrize(("pod_set", "attr", "detail"), [
    ({"flavors": ["npu.910b.8", "cpu.8u32g"]}, "pod_sets.0.flavors.1", "has no 'cpu.8u32g' nodes"),
    ({"flavors": ["npu.910b.8", "npu.910b.8"]}, "pod_sets.0.flavors", "Name each flavor once."),
    ({"flavor": "npu.910b.8", "flavors": ["gpu.a100.8"]}, "pod_sets.0.flavors", "not both"),
    ({}, "pod_sets.0.flavor", "Name the flavor"),
])
def test_bad_flavor_choices_are_refused_naming_the_field(workspace, developer_client, pool, pod_set, attr, detail):
    FlavorFactory(name="cpu.8u32g", vcpus=8, memory_gib=32, accelerator_kind="none", accelerator_model="",
                  accelerators=0, accelerator_memory_gib=0)
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/", {
        "name": "job", "pool": str(pool.pk), "pod_sets": [{"name": "worker", "replicas": 1, **pod_set}],
    }, format="json")
    assert response.status_code == 400, response.json()
    [error] = response.json()["errors"]
    assert error["attr"] == attr and detail in error["detail"], error
    assert not Workload.objects.exists()

"""Fair use of shared pools through every route that creates work: priorities within the range the
account's plan allows (operators above it, up to a hard cap), and gangs that could never fit the
pool refused at creation with what they ask and what the pool has."""

import pytest

from aiplatform.storage import workspace_root_uri
from resourcepools.models import Workload
from tests.conftest import client_for
from tests.factories import AccountMemberFactory, FlavorFactory, cpu_flavor, make_pool
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

LLAMA_70B = {"parameters": 68_976_648_192, "layers": 80, "hidden_size": 8192, "attention_heads": 64,
             "kv_heads": 8, "head_dim": 128, "vocab_size": 32000}


@pytest.fixture
def pool(db):
    return make_pool(name="npu", flavor=FlavorFactory(), nodes=4)


@pytest.fixture
def operator_client(workspace):
    return client_for(AccountMemberFactory(user__is_staff=True).user)


def workload_url(workspace):
    return f"/api/v1/workspaces/{workspace.pk}/workloads/"


def workload_body(pool, priority=0, pod_sets=None):
    return {"name": "train", "pool": str(pool.pk), "priority": priority, "image": "busybox", "command": ["true"],
            "pod_sets": pod_sets or [{"name": "worker", "replicas": 1, "flavor": "npu.910b.8"}]}


def job_url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.pk}/training-jobs/{suffix}"


def job_body(workspace, pool, priority=0, **changes):
    return {"name": "job", "image": "busybox", "command": ["true"], "pool": str(pool.pk), "flavor": "npu.910b.8",
            "node_count": 1, "output_uri": f"{workspace_root_uri(workspace.pk)}out/", "priority": priority,
            **changes}


def refusal(response, attr):
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    return error["detail"]


# --- priority -----------------------------------------------------------------------------------


def test_workload_priority_within_the_platform_range(workspace, developer_client, pool):
    for priority in (-10, 0, 10):
        created = developer_client.post(workload_url(workspace), workload_body(pool, priority), format="json")
        assert created.status_code == 201, created.json()
        assert created.json()["priority"] == priority
    for priority in (11, 2**31 - 1, -11):
        detail = refusal(developer_client.post(workload_url(workspace), workload_body(pool, priority),
                                               format="json"), "priority")
        assert f"Priority {priority} is outside what account '{workspace.account.name}' may use; choose -10 to 10" \
            in detail
    assert Workload.objects.count() == 3


def test_the_accounts_plan_sets_the_top_and_the_settings_the_default(workspace, developer_client, pool, settings):
    settings.WORKLOAD_MIN_PRIORITY, settings.WORKLOAD_MAX_PRIORITY = 0, 3
    assert "choose 0 to 3" in refusal(developer_client.post(
        workload_url(workspace), workload_body(pool, 4), format="json"), "priority")
    workspace.account.max_priority = 50
    workspace.account.save()
    assert developer_client.post(workload_url(workspace), workload_body(pool, 50), format="json").status_code == 201
    assert "choose 0 to 50" in refusal(developer_client.post(
        workload_url(workspace), workload_body(pool, 51), format="json"), "priority")
    workspace.account.max_priority = 0
    workspace.account.save()
    assert "choose 0 to 0" in refusal(developer_client.post(
        workload_url(workspace), workload_body(pool, 1), format="json"), "priority")
    # A plan above the hard cap is held to the cap.
    workspace.account.max_priority = 5000
    workspace.account.save()
    assert "choose 0 to 1000" in refusal(developer_client.post(
        workload_url(workspace), workload_body(pool, 1001), format="json"), "priority")


def test_operators_go_above_the_plan_up_to_the_hard_cap(workspace, operator_client, pool):
    created = operator_client.post(workload_url(workspace), workload_body(pool, 1000), format="json")
    assert created.status_code == 201, created.json()
    detail = refusal(operator_client.post(workload_url(workspace), workload_body(pool, 1001), format="json"),
                     "priority")
    assert detail == "Priority 1001 is outside the platform's range; use -10 to 1000."


def test_training_job_priority_is_bounded_and_nothing_is_created(workspace, developer_client, pool, local_root):
    detail = refusal(developer_client.post(job_url(workspace), job_body(workspace, pool, priority=11),
                                           format="json"), "priority")
    assert "choose -10 to 10" in detail
    assert not TrainingJob.objects.exists() and not Workload.objects.exists()
    created = developer_client.post(job_url(workspace), job_body(workspace, pool, priority=10), format="json")
    assert created.status_code == 201, created.json()
    assert Workload.objects.get().priority == 10
    # A copy goes through the same check.
    copied = developer_client.post(job_url(workspace, f"{created.json()['id']}/copy/"), {"priority": 99},
                                   format="json")
    assert "choose -10 to 10" in refusal(copied, "priority")
    assert TrainingJob.objects.count() == 1


def test_an_operator_runs_a_training_job_above_the_plan(workspace, operator_client, pool, local_root):
    created = operator_client.post(job_url(workspace), job_body(workspace, pool, priority=500), format="json")
    assert created.status_code == 201, created.json()
    assert Workload.objects.get().priority == 500


# --- gangs that never fit ----------------------------------------------------------------------


def test_a_gang_whose_pod_sets_together_need_more_nodes_than_the_pool_has_is_refused(workspace, developer_client,
                                                                                      pool):
    pod_sets = [{"name": "worker", "replicas": 3, "flavor": "npu.910b.8"},
                {"name": "ps", "replicas": 2, "flavor": "npu.910b.8"}]
    detail = refusal(developer_client.post(workload_url(workspace), workload_body(pool, pod_sets=pod_sets),
                                           format="json"), "pod_sets")
    assert detail == (
        "The pod sets together never fit this pool: on npu.910b.8 nodes they ask for "
        "worker 3 × (8 Ascend NPUs, 192 vCPUs, 1536 GiB) + ps 2 × (8 Ascend NPUs, 192 vCPUs, 1536 GiB) = "
        "40 Ascend NPUs, 960 vCPUs, 7680 GiB; pool 'npu' has 4 such node(s) (32 Ascend NPUs, 768 vCPUs, 6144 GiB), "
        "on which only 4 of the 5 replicas fit (each replica runs on one node). Ask for fewer or smaller replicas, "
        "or choose a larger pool.")
    assert not Workload.objects.exists()
    pod_sets[1]["replicas"] = 1
    assert developer_client.post(workload_url(workspace), workload_body(pool, pod_sets=pod_sets),
                                 format="json").status_code == 201


def test_a_gang_that_fits_in_total_but_not_replica_by_replica_is_refused(workspace, developer_client):
    small = make_pool(name="small", flavor=FlavorFactory(), nodes=2)
    # 2 × 5 cards take a node each and leave 3 + 3 cards: no node can take the 4-card replica,
    # although 14 of the pool's 16 cards would do.
    pod_sets = [{"name": "big", "replicas": 2, "flavor": "npu.910b.8", "accelerators": 5},
                {"name": "side", "replicas": 1, "flavor": "npu.910b.8", "accelerators": 4}]
    detail = refusal(developer_client.post(workload_url(workspace), workload_body(small, pod_sets=pod_sets),
                                           format="json"), "pod_sets")
    assert "= 14 Ascend NPUs" in detail and "(16 Ascend NPUs" in detail
    assert "only 2 of the 3 replicas fit" in detail
    assert not Workload.objects.exists()


def test_pod_sets_of_different_flavors_are_counted_per_flavor(workspace, developer_client, pool):
    from resourcepools import services as pool_services

    pool_services.add_node(pool=pool, name="npu-cpu-0", flavor=cpu_flavor())
    pod_sets = [{"name": "worker", "replicas": 4, "flavor": "npu.910b.8"},
                {"name": "router", "replicas": 1, "flavor": "cpu.8u32g"}]
    assert developer_client.post(workload_url(workspace), workload_body(pool, pod_sets=pod_sets),
                                 format="json").status_code == 201
    pod_sets[1]["replicas"] = 2
    detail = refusal(developer_client.post(workload_url(workspace), workload_body(pool, pod_sets=pod_sets),
                                           format="json"), "pod_sets.1.replicas")
    assert "at most 1" in detail
    pod_sets = [{"name": "router", "replicas": 1, "flavor": "cpu.8u32g", "vcpus": 6},
                {"name": "proxy", "replicas": 1, "flavor": "cpu.8u32g", "vcpus": 4}]
    detail = refusal(developer_client.post(workload_url(workspace), workload_body(pool, pod_sets=pod_sets),
                                           format="json"), "pod_sets")
    assert "on cpu.8u32g nodes they ask for router 1 × (6 vCPUs, 32 GiB) + proxy 1 × (4 vCPUs, 32 GiB)" in detail


def test_a_disaggregated_service_whose_roles_never_fit_together_is_refused(workspace, developer_client, pool):
    from inference.models import Service
    from resourcepools import services as pool_services

    pool_services.add_node(pool=pool, name="npu-cpu-0", flavor=cpu_flavor())
    model = developer_client.post(f"/api/v1/workspaces/{workspace.pk}/models/", {
        "name": "llama", "source": "image", "image": "vllm/vllm-openai:v0.11.0", "runtime": "vllm", **LLAMA_70B,
    }, format="json")
    assert model.status_code == 201, model.json()
    body = {"name": "chat", "model": model.json()["id"], "pool": str(pool.pk), "flavor": "npu.910b.8",
            "tensor_parallel": 8, "max_model_len": 4096, "mode": "disaggregated", "prefill_instances": 2,
            "decode_instances": 3}
    url = f"/api/v1/workspaces/{workspace.pk}/services/"
    detail = refusal(developer_client.post(url, body, format="json"), "pod_sets")
    assert "prefill 2 × (8 Ascend NPUs" in detail and "decode 3 × (8 Ascend NPUs" in detail
    assert "pool 'npu' has 4 such node(s)" in detail
    assert not Service.objects.exists() and not Workload.objects.exists()
    assert developer_client.post(url, {**body, "decode_instances": 2}, format="json").status_code == 201



# --- settings -----------------------------------------------------------------------------------


def test_settings_that_would_refuse_every_workload_or_never_end_a_hold_fail_the_system_checks(settings):
    from resourcepools.checks import scheduling_settings

    assert scheduling_settings(None) == []
    settings.WORKLOAD_MIN_PRIORITY, settings.WORKLOAD_MAX_PRIORITY = 1, 10
    settings.ADMISSION_MAX_HOLD_SECONDS = 0
    assert [error.id for error in scheduling_settings(None)] == ["resourcepools.E001", "resourcepools.E002"]
    settings.WORKLOAD_MIN_PRIORITY, settings.WORKLOAD_OPERATOR_MAX_PRIORITY = -10, 5
    settings.ADMISSION_MAX_HOLD_SECONDS = 60
    assert [error.id for error in scheduling_settings(None)] == ["resourcepools.E001"]

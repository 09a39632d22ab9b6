"""Flavors, pools, nodes, quotas and workloads through the API, with the bad inputs."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from resourcepools.admission import admit_workloads
from resourcepools.models import Allocation, Node, Quota, ResourcePool, Workload
from tests.conftest import client_for
from tests.factories import (
    AccountMemberFactory,
    FlavorFactory,
    WorkspaceFactory,
    cpu_flavor,
    make_pool,
    make_workload,
    member_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(db):
    return client_for(AccountMemberFactory(user__is_staff=True).user)


@pytest.fixture
def account_admin_client(workspace):
    admin = member_of(workspace, Role.VIEWER)
    admin.account_member.is_admin = True
    admin.account_member.save()
    return client_for(admin)


def test_everyone_lists_flavors_operators_manage_them(operator_client, developer_client):
    body = {"name": "gpu.a100.1", "vcpus": 12, "memory_gib": 96, "accelerator_kind": "nvidia_gpu",
            "accelerator_model": "A100", "accelerators": 1, "accelerator_memory_gib": 80}
    assert developer_client.post("/api/v1/flavors/", body, format="json").status_code == 403
    created = operator_client.post("/api/v1/flavors/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["family"] == "gpu.a100"
    listed = developer_client.get("/api/v1/flavors/").json()["results"]
    assert [f["name"] for f in listed] == ["gpu.a100.1"]
    retired = operator_client.patch("/api/v1/flavors/gpu.a100.1/", {"is_active": False}, format="json")
    assert retired.json()["is_active"] is False


def test_flavor_needs_cards_when_it_has_an_accelerator_kind(operator_client):
    body = {"name": "gpu.bad", "vcpus": 4, "memory_gib": 8, "accelerator_kind": "nvidia_gpu", "accelerators": 0}
    response = operator_client.post("/api/v1/flavors/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "accelerators"


def test_a_flavor_in_use_keeps_its_family(operator_client, workspace):
    flavor = cpu_flavor()
    assert operator_client.patch(f"/api/v1/flavors/{flavor.name}/", {"family": "cpu.v2"},
                                 format="json").status_code == 200
    make_workload(workspace, make_pool(flavor=flavor), flavor=flavor)
    refused = operator_client.patch(f"/api/v1/flavors/{flavor.name}/", {"family": "cpu.v3", "vcpus": 16},
                                    format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "family"
    assert "cannot change; create a new flavor" in refused.json()["errors"][0]["detail"]
    assert operator_client.patch(f"/api/v1/flavors/{flavor.name}/", {"family": "cpu.v2", "vcpus": 16},
                                 format="json").status_code == 200


def test_operator_creates_public_and_dedicated_pools(operator_client, workspace, developer_client):
    FlavorFactory()
    public = operator_client.post("/api/v1/resource-pools/", {
        "name": "pub", "kind": "public", "region": "cn-north-4",
        "nodes": [{"name": "n1", "flavor": "npu.910b.8"}, {"name": "n2", "flavor": "npu.910b.8"}],
    }, format="json")
    assert public.status_code == 201, public.json()
    assert public.json()["utilisation"]["capacity"] == {"vcpus": 384, "memory_gib": 3072, "accelerators": 16}
    mine = operator_client.post("/api/v1/resource-pools/", {
        "name": "mine", "kind": "dedicated", "account": str(workspace.account_id),
    }, format="json")
    assert mine.status_code == 201
    operator_client.post("/api/v1/resource-pools/", {
        "name": "theirs", "kind": "dedicated", "account": str(WorkspaceFactory().account_id)}, format="json")
    names = [p["name"] for p in developer_client.get("/api/v1/resource-pools/").json()["results"]]
    assert names == ["mine", "pub"]
    theirs = ResourcePool.objects.get(name="theirs")
    assert developer_client.get(f"/api/v1/resource-pools/{theirs.pk}/").status_code == 404


def test_dedicated_pool_needs_an_account(operator_client):
    response = operator_client.post("/api/v1/resource-pools/", {"name": "d", "kind": "dedicated"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "account"
    assert not ResourcePool.objects.exists()


def test_pool_list_shows_utilisation_with_constant_queries(workspace, developer_client):
    for i in range(6):
        make_pool(name=f"pool-{i}", nodes=1)
    pool = ResourcePool.objects.get(name="pool-0")
    make_workload(workspace, pool, accelerators=4)
    admit_workloads()
    developer_client.get("/api/v1/me/")
    counts = []
    for size in (1, 6):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get("/api/v1/resource-pools/", {"page_size": size}).json()
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    first = body["results"][0]
    assert first["name"] == "pool-0"
    assert first["utilisation"]["used"]["accelerators"] == 4
    assert first["utilisation"]["utilisation"]["accelerators"] == 0.5


def test_nodes_scale_the_pool_and_busy_nodes_are_not_removed_silently(operator_client, workspace):
    pool = make_pool(nodes=1)
    url = f"/api/v1/resource-pools/{pool.pk}/nodes/"
    added = operator_client.post(url, {"name": "extra", "flavor": "npu.910b.8"}, format="json")
    assert added.status_code == 201
    make_workload(workspace, pool, replicas=2)
    admit_workloads()
    busy = Node.objects.get(name="extra")
    response = operator_client.delete(f"{url}{busy.pk}/")
    assert response.status_code == 409
    assert "cordon" in response.json()["errors"][0]["detail"]
    cordoned = operator_client.patch(f"{url}{busy.pk}/", {"schedulable": False}, format="json")
    assert cordoned.json()["schedulable"] is False
    Allocation.objects.filter(node=busy).delete()
    assert operator_client.delete(f"{url}{busy.pk}/").status_code == 204


def test_quotas_set_by_account_admins_not_by_workspace_members(workspace, account_admin_client, owner_client):
    pool = make_pool(nodes=2)
    url = f"/api/v1/workspaces/{workspace.id}/quotas/"
    body = {"pool": str(pool.pk), "max_accelerators": 8, "max_workloads": 2}
    assert owner_client.post(url, body, format="json").status_code == 403
    created = account_admin_client.post(url, body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["usage"] == {"accelerators": 0, "vcpus": 0, "memory_gib": 0, "workloads": 0}
    listed = owner_client.get(url).json()["results"]
    assert listed[0]["max_accelerators"] == 8


def test_quota_below_current_use_is_refused(workspace, account_admin_client):
    pool = make_pool(nodes=2)
    make_workload(workspace, pool, replicas=2)
    admit_workloads()
    url = f"/api/v1/workspaces/{workspace.id}/quotas/"
    response = account_admin_client.post(url, {"pool": str(pool.pk), "max_accelerators": 8}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == "max_accelerators"
    assert "16 accelerators are in use" in error["detail"]
    assert not Quota.objects.exists()


def test_quota_on_another_accounts_dedicated_pool_is_refused_as_if_it_did_not_exist(workspace,
                                                                                    account_admin_client):
    theirs = make_pool(name="theirs", kind="dedicated", account=WorkspaceFactory().account)
    url = f"/api/v1/workspaces/{workspace.id}/quotas/"
    response = account_admin_client.post(url, {"pool": str(theirs.pk), "max_accelerators": 8}, format="json")
    assert response.status_code == 400
    missing_id = uuid.uuid4()
    missing = account_admin_client.post(url, {"pool": str(missing_id), "max_accelerators": 8}, format="json")
    for answer, pool_id in ((response, theirs.pk), (missing, missing_id)):
        assert answer.json()["errors"] == [{"code": "does_not_exist", "attr": "pool",
                                            "detail": f'Invalid pk "{pool_id}" - object does not exist.'}]
    assert not Quota.objects.exists()


def workload_body(pool, **pod_set):
    return {"name": "train", "pool": str(pool.pk), "priority": 1, "image": "busybox", "command": ["true"],
            "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "npu.910b.8", **pod_set}]}


def test_a_workload_may_not_name_the_platforms_own_variables(workspace, developer_client):
    """AIP_* are set by the platform (a notebook's id gives its run that notebook's storage)."""
    pool = make_pool(nodes=1)
    body = {**workload_body(pool), "env": {"MODE": "x", "AIP_NOTEBOOK_ID": str(uuid.uuid4())}}
    answer = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == [{"code": "invalid", "attr": "env", "detail": (
        "AIP_NOTEBOOK_ID: names starting with AIP_ are the platform's; choose another.")}]
    assert not Workload.objects.exists()


def test_workload_lifecycle_through_the_api(workspace, developer_client):
    pool = make_pool(nodes=1)
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    created = developer_client.post(url, workload_body(pool), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["phase"] == "queued"
    assert body["pod_sets"] == [{"name": "worker", "replicas": 1, "flavor": "npu.910b.8", "flavors": [], "vcpus": 192,
                                 "memory_gib": 1536, "accelerators": 8}]
    admit_workloads()
    detail = developer_client.get(f"{url}{body['id']}/").json()
    assert detail["phase"] == "admitted"
    stopped = developer_client.post(f"{url}{body['id']}/stop/")
    assert stopped.json()["phase"] == "stopping"
    assert "Stop requested by" in stopped.json()["message"]
    events = developer_client.get(f"{url}{body['id']}/events/").json()["results"]
    assert [e["to_phase"] for e in events] == ["pending", "queued", "admitted", "stopping"]


def test_stopping_a_queued_workload_ends_it(workspace, developer_client):
    pool = make_pool(nodes=1)
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    workload_id = developer_client.post(url, workload_body(pool), format="json").json()["id"]
    assert developer_client.post(f"{url}{workload_id}/stop/").json()["phase"] == "stopped"
    response = developer_client.post(f"{url}{workload_id}/stop/")
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("pod_set", "attr", "words"),
    [
        ({"flavor": "no-such"}, "pod_sets.0.flavor", "does not exist"),
        ({"replicas": 0}, "pod_sets.0.replicas", "greater than or equal to 1"),
        ({"replicas": 3}, "pod_sets.0.replicas", "at most 2"),
        ({"accelerators": 16}, "pod_sets.0.accelerators", "ask for at most 8"),
    ],
)
def test_bad_workloads_are_refused_and_nothing_is_created(workspace, developer_client, pod_set, attr, words):
    pool = make_pool(nodes=2)
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/",
                                     workload_body(pool, **pod_set), format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["attr"] == attr
    assert words in error["detail"]
    assert not Workload.objects.exists()


def test_flavor_the_pool_lacks(workspace, developer_client):
    cpu_flavor()
    pool = make_pool(nodes=1)
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/",
                                     workload_body(pool, flavor="cpu.8u32g"), format="json")
    assert response.status_code == 400
    assert "has no 'cpu.8u32g' nodes; it offers: npu.910b.8" in response.json()["errors"][0]["detail"]


def test_dedicated_pool_of_another_account_is_refused_as_if_it_did_not_exist(workspace, developer_client):
    theirs = make_pool(name="theirs", kind="dedicated", account=WorkspaceFactory().account)
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    response = developer_client.post(url, workload_body(theirs), format="json")
    assert response.status_code == 400
    missing_id = uuid.uuid4()
    missing = developer_client.post(url, {**workload_body(theirs), "pool": str(missing_id)}, format="json")
    for answer, pool_id in ((response, theirs.pk), (missing, missing_id)):
        assert answer.json()["errors"] == [{"code": "does_not_exist", "attr": "pool",
                                            "detail": f'Invalid pk "{pool_id}" - object does not exist.'}]
    assert not Workload.objects.exists()


def test_own_dedicated_pool_admits_only_own_workspaces(workspace, developer_client):
    mine = make_pool(name="mine", kind="dedicated", account=workspace.account)
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/", workload_body(mine),
                                      format="json")
    assert response.status_code == 201
    admit_workloads()
    assert Workload.objects.get().phase == "admitted"


def test_workload_list_queries_do_not_grow_with_page_size(workspace, developer_client):
    pool = make_pool(nodes=2)
    for i in range(8):
        make_workload(workspace, pool, accelerators=1, name=f"w{i}")
    admit_workloads()
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    developer_client.get("/api/v1/me/")
    counts = []
    for size in (1, 8):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(url, {"page_size": size}).json()
        assert len(body["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert developer_client.get(url, {"phase": "admitted"}).json()["count"] == 8


def test_viewer_cannot_create_workloads(workspace):
    pool = make_pool(nodes=1)
    viewer = client_for(member_of(workspace, Role.VIEWER))
    response = viewer.post(f"/api/v1/workspaces/{workspace.id}/workloads/", workload_body(pool), format="json")
    assert response.status_code == 403


def test_bootstrap_local_pool_is_repeatable(workspace, developer_client, settings):
    from django.core.management import call_command

    settings.LOCAL_POOL_NODES = 3
    call_command("bootstrap_local_pool")
    call_command("bootstrap_local_pool")
    pool = ResourcePool.objects.get(name="local")
    assert sorted(pool.nodes.values_list("name", flat=True)) == ["local-node", "local-node-2", "local-node-3"]
    body = {"name": "hello", "pool": str(pool.pk), "command": ["echo", "hi"],
            "pod_sets": [{"name": "worker", "replicas": 1, "flavor": "cpu.2u8g"}]}
    response = developer_client.post(f"/api/v1/workspaces/{workspace.id}/workloads/", body, format="json")
    assert response.status_code == 201
    admit_workloads()
    assert Workload.objects.get().phase == "admitted"


def test_idempotent_workload_creation_replays_ids_and_decimals(workspace, developer_client):
    pool = make_pool(nodes=1)
    url = f"/api/v1/workspaces/{workspace.id}/workloads/"
    first = developer_client.post(url, workload_body(pool), format="json", HTTP_IDEMPOTENCY_KEY="wl-1")
    second = developer_client.post(url, workload_body(pool), format="json", HTTP_IDEMPOTENCY_KEY="wl-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert Workload.objects.count() == 1

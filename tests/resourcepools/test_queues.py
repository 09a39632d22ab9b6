"""A workspace's queue in a pool through the quota API: nominal shares, borrowing and lending
limits and weight; what it borrows and lends; the pending reason of work that waits to borrow;
the bad inputs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from resourcepools import services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Quota, Workload
from tests.conftest import client_for
from tests.factories import FlavorFactory, WorkspaceFactory, make_pool, make_workload, member_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(workspace):
    admin = member_of(workspace, Role.VIEWER)
    admin.account_member.is_admin = True
    admin.account_member.save()
    return client_for(admin)


def quotas_url(workspace):
    return f"/api/v1/workspaces/{workspace.id}/quotas/"


def test_a_new_queue_neither_borrows_nor_limits_lending(workspace, admin_client):
    pool = make_pool(nodes=2)
    created = admin_client.post(quotas_url(workspace), {"pool": str(pool.pk), "max_accelerators": 8}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["borrowing_limit_accelerators"] == 0 and body["lending_limit_accelerators"] is None
    assert body["weight"] == "1.00"
    assert body["borrowed"] == {"accelerators": 0, "vcpus": 0, "memory_gib": 0}
    assert body["lent"] == {"accelerators": 0, "vcpus": 0, "memory_gib": 0}


def test_a_queue_borrows_idle_capacity_and_the_api_shows_borrowed_and_lent(workspace, admin_client):
    pool = make_pool(nodes=3)
    neighbour = WorkspaceFactory()
    services.set_quota(workspace=neighbour, pool=pool, max_accelerators=16)
    created = admin_client.post(quotas_url(workspace), {
        "pool": str(pool.pk), "max_accelerators": 8, "borrowing_limit_accelerators": 8, "weight": "2",
    }, format="json")
    assert created.status_code == 201, created.json()
    jobs = [make_workload(workspace, pool, name=f"j{i}") for i in range(3)]
    admit_workloads()
    assert [Workload.objects.get(pk=j.pk).phase for j in jobs] == [Phase.ADMITTED, Phase.ADMITTED, Phase.QUEUED]
    waiting = admin_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{jobs[2].pk}/").json()
    assert waiting["reason"] == "BorrowingLimitReached"
    assert "against a nominal share of 8 plus a borrowing limit of 8" in waiting["message"]

    mine = admin_client.get(f"{quotas_url(workspace)}{created.json()['id']}/").json()
    assert mine["usage"]["accelerators"] == 16
    assert mine["borrowed"] == {"accelerators": 8, "vcpus": 0, "memory_gib": 0}
    assert mine["lent"]["accelerators"] == 0
    # The neighbour's unused 16 (of a pool of 24 with nothing unguaranteed) lends the 8 borrowed.
    theirs = member_of(neighbour, Role.VIEWER)
    listed = client_for(theirs).get(quotas_url(neighbour)).json()["results"][0]
    assert listed["lent"] == {"accelerators": 8, "vcpus": 0, "memory_gib": 0}
    assert listed["borrowed"]["accelerators"] == 0


def test_work_waits_when_borrowing_is_exhausted_by_lending_limits(workspace, admin_client, developer_client):
    pool = make_pool(nodes=2)
    services.set_quota(workspace=WorkspaceFactory(), pool=pool, max_accelerators=8, lending_limit_accelerators=0)
    services.set_quota(workspace=workspace, pool=pool, max_accelerators=8, borrowing_limit_accelerators=None)
    first, second = make_workload(workspace, pool, name="first"), make_workload(workspace, pool, name="second")
    admit_workloads()
    assert Workload.objects.get(pk=first.pk).phase == Phase.ADMITTED
    body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/workloads/{second.pk}/").json()
    assert (body["phase"], body["reason"], body["queue_position"]) == ("queued", "BorrowingExhausted", 1)
    assert body["message"] == (
        "Borrowing exhausted: needs to borrow 8 accelerators above its nominal share of 8; the cohort has 0 to lend "
        "(8 idle, of which other queues keep 8 for their nominal shares); 0 workload(s) ahead.")
    # The lender opens its share: the waiting work borrows it.
    lender = Quota.objects.exclude(workspace=workspace).get()
    services.set_quota(workspace=lender.workspace, pool=pool, lending_limit_accelerators=8)
    admit_workloads()
    assert Workload.objects.get(pk=second.pk).phase == Phase.ADMITTED


def error_of(response):
    assert response.status_code == 400, response.json()
    [error] = response.json()["errors"]
    return error["attr"], error["detail"]


def test_nominal_shares_above_the_pools_capacity_are_refused_with_the_numbers(workspace, admin_client):
    pool = make_pool(nodes=2)
    services.set_quota(workspace=WorkspaceFactory(), pool=pool, max_accelerators=12)
    response = admin_client.post(quotas_url(workspace), {"pool": str(pool.pk), "max_accelerators": 8}, format="json")
    assert error_of(response) == ("max_accelerators", (
        "The queues of pool 'p-1' would be guaranteed 20 accelerators in sum (this one 8, the others 12) but the pool "
        "has 16; set at most 4."))
    assert not Quota.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize(("body", "attr", "detail"), [
    ({"max_accelerators": 8, "lending_limit_accelerators": 9}, "lending_limit_accelerators",
     "A queue lends at most its nominal share (8); set at most 8."),
    ({"lending_limit_vcpus": 4}, "lending_limit_vcpus",
     "max_vcpus is unlimited, so there is no nominal share to lend; set max_vcpus or leave the lending limit empty."),
    ({"borrowing_limit_memory_gib": 64}, "borrowing_limit_memory_gib",
     "max_memory_gib is unlimited, so there is nothing to borrow above it; set max_memory_gib or leave the "
     "borrowing limit at 0."),
    ({"max_accelerators": 8, "borrowing_limit_accelerators": -1}, "borrowing_limit_accelerators",
     "Ensure this value is greater than or equal to 0."),
    ({"weight": "0"}, "weight", "Ensure this value is greater than or equal to 0.01."),
])
def test_inconsistent_queue_limits_are_refused_naming_the_field(workspace, admin_client, body, attr, detail):
    pool = make_pool(nodes=2)
    response = admin_client.post(quotas_url(workspace), {"pool": str(pool.pk), **body}, format="json")
    assert error_of(response) == (attr, detail)
    assert not Quota.objects.exists()


def test_a_change_that_leaves_limits_inconsistent_changes_nothing(workspace, admin_client):
    pool = make_pool(nodes=2)
    quota = services.set_quota(workspace=workspace, pool=pool, max_accelerators=8, lending_limit_accelerators=8)
    response = admin_client.patch(f"{quotas_url(workspace)}{quota.pk}/", {"max_accelerators": 4}, format="json")
    assert error_of(response)[0] == "lending_limit_accelerators"
    assert Quota.objects.get(pk=quota.pk).max_accelerators == 8


def test_listing_queues_takes_the_same_queries_for_any_page_size(workspace, admin_client):
    for i in range(4):
        pool = make_pool(name=f"pool-{i}", nodes=1)
        services.set_quota(workspace=workspace, pool=pool, max_accelerators=8, borrowing_limit_accelerators=None,
                           flavors=[{"flavor": FlavorFactory(), "max_accelerators": 8}])
        make_workload(workspace, pool, name=f"w{i}")
    admit_workloads()
    admin_client.get(quotas_url(workspace))  # the first request of a client looks its caller up once more
    counts = []
    for size in (1, 4):
        with CaptureQueriesContext(connection) as ctx:
            body = admin_client.get(quotas_url(workspace), {"page_size": size}).json()
        counts.append(len(ctx.captured_queries))
        assert len(body["results"]) == size
    assert counts[0] == counts[1]


def two_flavor_pool():
    pool = make_pool(nodes=2)
    gpu = FlavorFactory(name="gpu.a100.8", vcpus=96, memory_gib=1024, accelerator_kind="nvidia_gpu",
                        accelerator_model="A100", accelerators=8, accelerator_memory_gib=80)
    services.add_node(pool=pool, name="gpu-0", flavor=gpu)
    return pool, gpu


def test_a_queue_has_shares_per_flavor_that_admission_honours(workspace, admin_client):
    pool, gpu = two_flavor_pool()
    created = admin_client.post(quotas_url(workspace), {
        "pool": str(pool.pk), "flavors": [{"flavor": "npu.910b.8", "max_accelerators": 8}],
    }, format="json")
    assert created.status_code == 201, created.json()
    [share] = created.json()["flavors"]
    assert (share["flavor"], share["max_accelerators"], share["borrowing_limit_accelerators"]) == (
        "npu.910b.8", 8, 0)
    npu_jobs = [make_workload(workspace, pool, name=f"npu-{i}") for i in range(2)]
    on_gpu = make_workload(workspace, pool, name="gpu", flavor=gpu)
    admit_workloads()
    phases = [Workload.objects.get(pk=w.pk) for w in (*npu_jobs, on_gpu)]
    assert [w.phase for w in phases] == [Phase.ADMITTED, Phase.QUEUED, Phase.ADMITTED]
    assert phases[1].reason == "QuotaExceeded"
    assert "needs 8 accelerators on npu.910b.8 nodes, 8 of 8 in use" in phases[1].message
    # PATCH with flavors replaces them; without, keeps them.
    url = f"{quotas_url(workspace)}{created.json()['id']}/"
    assert admin_client.patch(url, {"weight": "2"}, format="json").json()["flavors"][0]["max_accelerators"] == 8
    replaced = admin_client.patch(url, {"flavors": [{"flavor": "npu.910b.8", "max_accelerators": 8,
                                                     "borrowing_limit_accelerators": 8}]}, format="json")
    assert replaced.status_code == 200, replaced.json()
    admit_workloads()
    assert Workload.objects.get(pk=npu_jobs[1].pk).phase == Phase.ADMITTED
    [share] = admin_client.get(url).json()["flavors"]
    assert share["borrowed"] == {"accelerators": 8, "vcpus": 0, "memory_gib": 0}
    assert share["lent"] == {"accelerators": 0, "vcpus": 0, "memory_gib": 0}


@pytest.mark.parametrize(("share", "attr", "detail"), [
    ({"flavor": "gpu.a100.8", "max_accelerators": 12}, "flavors.0.max_accelerators",
     "The queues of pool 'p-1' would be guaranteed 12 accelerators on gpu.a100.8 nodes in sum (this one 12, the "
     "others 0) but those nodes have 8; set at most 8."),
    ({"flavor": "npu.910b.8", "max_accelerators": 8, "lending_limit_accelerators": 9},
     "flavors.0.lending_limit_accelerators", "A queue lends at most its nominal share (8); set at most 8."),
    ({"flavor": "cpu.8u32g", "max_vcpus": 8}, "flavors.0.flavor",
     "Pool 'p-1' has no 'cpu.8u32g' nodes; it offers: gpu.a100.8, npu.910b.8."),
])
def test_bad_flavor_shares_are_refused_naming_the_field(workspace, admin_client, share, attr, detail):
    from tests.factories import cpu_flavor

    cpu_flavor()
    pool, _ = two_flavor_pool()
    response = admin_client.post(quotas_url(workspace), {"pool": str(pool.pk), "flavors": [share]}, format="json")
    assert error_of(response) == (attr, detail)
    assert not Quota.objects.exists()


def test_operators_see_a_queues_flavor_shares_in_the_admin(workspace):
    from django.test import Client

    from tests.factories import UserFactory

    pool, gpu = two_flavor_pool()
    quota = services.set_quota(workspace=workspace, pool=pool, max_accelerators=16,
                               flavors=[{"flavor": gpu, "max_accelerators": 8, "lending_limit_accelerators": 4}])
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="ops"))
    page = client.get(f"/admin/resourcepools/quota/{quota.pk}/change/")
    assert page.status_code == 200
    [share] = page.context["inline_admin_formsets"][0].formset.queryset
    assert (share.flavor, share.max_accelerators, share.lending_limit_accelerators) == (gpu, 8, 4)


def test_a_queue_made_above_the_pools_capacity_takes_changes_that_do_not_grow_it(workspace, admin_client):
    pool = make_pool(nodes=2)
    # As quotas could be before queues: limits summing above the pool's 16 cards.
    Quota.objects.create(workspace=WorkspaceFactory(), pool=pool, max_accelerators=16)
    mine = Quota.objects.create(workspace=workspace, pool=pool, max_accelerators=16)
    url = f"{quotas_url(workspace)}{mine.pk}/"
    assert admin_client.patch(url, {"weight": "2", "max_accelerators": 8}, format="json").status_code == 200
    grown = admin_client.patch(url, {"max_accelerators": 12}, format="json")
    assert error_of(grown)[0] == "max_accelerators"
    assert Quota.objects.get(pk=mine.pk).max_accelerators == 8

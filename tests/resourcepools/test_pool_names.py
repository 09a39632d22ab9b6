"""Pool names are unique per owner (among public pools; per account among dedicated ones), never
shared between a public and a dedicated pool, and work is placed by a separate label that stays
unique: a public pool's name, a dedicated pool's name with part of its id; pools made before keep
their name as label."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from k8s.services import workload_spec
from resourcepools.models import ResourcePool
from tests.conftest import client_for
from tests.factories import AccountMemberFactory, FlavorFactory, WorkspaceFactory, make_pool, make_workload

pytestmark = pytest.mark.django_db

POOLS = "/api/v1/resource-pools/"


@pytest.fixture
def operator_client(db):
    return client_for(AccountMemberFactory(user__is_staff=True).user)


def create(client, name, kind="dedicated", account=None):
    body = {"name": name, "kind": kind, **({"account": str(account.pk)} if account else {})}
    return client.post(POOLS, body, format="json")


def refusal(response):
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == "name"
    return error["detail"]


def test_two_accounts_may_give_their_dedicated_pools_the_same_name(operator_client, workspace, developer_client):
    theirs = WorkspaceFactory()
    mine = create(operator_client, "team", account=workspace.account)
    other = create(operator_client, "team", account=theirs.account)
    assert mine.status_code == other.status_code == 201, (mine.json(), other.json())
    labels = {mine.json()["placement_label"], other.json()["placement_label"]}
    assert len(labels) == 2 and all(label.startswith("team-") and len(label) <= 63 for label in labels)
    listed = developer_client.get(POOLS).json()["results"]
    assert [(p["name"], p["id"]) for p in listed] == [("team", mine.json()["id"])]
    assert developer_client.get(f"{POOLS}{other.json()['id']}/").status_code == 404


def test_a_name_is_taken_once_per_account_and_once_among_public_pools(operator_client, workspace):
    assert create(operator_client, "team", account=workspace.account).status_code == 201
    assert "Your account has a dedicated pool named 'team' already" in refusal(
        create(operator_client, "team", account=workspace.account))
    assert create(operator_client, "shared", kind="public").status_code == 201
    assert "A public pool named 'shared' exists already" in refusal(create(operator_client, "shared", kind="public"))
    assert ResourcePool.objects.count() == 2


def test_public_and_dedicated_pools_never_share_a_name(operator_client, workspace):
    """Each tenant sees the public pools and its own: one pool by each name."""
    assert create(operator_client, "shared", kind="public").status_code == 201
    assert "A public pool is named 'shared'" in refusal(create(operator_client, "shared", account=workspace.account))
    assert create(operator_client, "team", account=workspace.account).status_code == 201
    detail = refusal(create(operator_client, "team", kind="public"))
    assert f"Account '{workspace.account.name}' has a dedicated pool named 'team'" in detail
    assert ResourcePool.objects.count() == 2


def test_the_database_refuses_what_the_service_would(workspace):
    make_pool(name="shared", nodes=0)
    make_pool(name="team", kind="dedicated", account=workspace.account, nodes=0)
    for fields in ({"name": "shared", "kind": "public"},
                   {"name": "team", "kind": "dedicated", "account": workspace.account}):
        with pytest.raises(IntegrityError), transaction.atomic():
            ResourcePool.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ResourcePool.objects.create(name="other", kind="public", placement_label="shared")


def test_work_is_placed_by_the_pools_label(workspace):
    public = make_pool(name="shared", nodes=1)
    dedicated = make_pool(name="Team_A", kind="dedicated", account=workspace.account, nodes=1)
    assert public.placement_label == "shared"
    assert dedicated.placement_label == f"team-a-{dedicated.pk.hex[:12]}"
    for pool in (public, dedicated):
        spec = workload_spec(make_workload(workspace, pool, flavor=FlavorFactory()))
        assert spec.pool_name == pool.placement_label


def test_a_long_name_makes_a_label_kubernetes_takes(workspace):
    pool = make_pool(name="x" * 63, kind="dedicated", account=workspace.account, nodes=0)
    assert pool.placement_label == f"{'x' * 50}-{pool.pk.hex[:12]}" and len(pool.placement_label) == 63


def test_the_label_cannot_be_set_or_changed_through_the_api(operator_client, workspace):
    created = operator_client.post(POOLS, {"name": "team", "kind": "dedicated", "account": str(workspace.account_id),
                                           "placement_label": "stolen"}, format="json")
    assert created.status_code == 201
    label = created.json()["placement_label"]
    assert label != "stolen"
    changed = operator_client.patch(f"{POOLS}{created.json()['id']}/", {"placement_label": "x", "description": "d"},
                                    format="json")
    assert changed.status_code == 200 and changed.json()["placement_label"] == label


@pytest.mark.django_db(transaction=True)
def test_pools_made_before_keep_their_name_as_label():
    account = WorkspaceFactory().account
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("resourcepools", "0003_podset_autoscaling")])
        old = executor.loader.project_state([("resourcepools", "0003_podset_autoscaling")]).apps.get_model(
            "resourcepools", "ResourcePool")
        old.objects.create(name="legacy-public", kind="public")
        old.objects.create(name="legacy-team", kind="dedicated", account_id=account.pk)
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        assert dict(ResourcePool.objects.values_list("name", "placement_label")) == {
            "legacy-public": "legacy-public", "legacy-team": "legacy-team"}
        assert make_pool(name="legacy-team", kind="dedicated", account=WorkspaceFactory().account,
                         nodes=0).placement_label != "legacy-team"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_operators_console_applies_the_same_rules_and_keeps_the_label(workspace):
    from django.test import Client

    make_pool(name="shared", nodes=0)
    client = Client()
    client.force_login(AccountMemberFactory(user__is_staff=True, user__is_superuser=True).user)
    form = {"name": "shared", "kind": "dedicated", "account": str(workspace.account_id), "region": "local",
            "status": "running", "nodes-TOTAL_FORMS": "0", "nodes-INITIAL_FORMS": "0"}
    refused = client.post("/admin/resourcepools/resourcepool/add/", form)
    assert refused.status_code == 200 and "A public pool is named &#x27;shared&#x27;" in refused.content.decode()
    added = client.post("/admin/resourcepools/resourcepool/add/", {**form, "name": "team"})
    assert added.status_code == 302
    pool = ResourcePool.objects.get(name="team")
    assert pool.placement_label == f"team-{pool.pk.hex[:12]}"
    page = client.get(f"/admin/resourcepools/resourcepool/{pool.pk}/change/").content.decode()
    assert pool.placement_label in page and 'name="name"' not in page

"""Tenant isolation and roles on every workspace route."""

import uuid

import pytest
from django.urls import get_resolver

from aiplatform.models import Membership, Role
from tests.conftest import client_for
from tests.factories import AccountMemberFactory, WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db


def workspace_routes():
    """Every URL pattern of the API that takes a workspace id, with its other parameters."""
    routes = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, prefix + str(p.pattern))
            else:
                regex = prefix + str(p.pattern)
                if "workspace_id" in regex and not regex.endswith(".(?P<format>[a-z0-9]+)/?$"):
                    routes.append(regex)

    walk(get_resolver().url_patterns)
    return routes


def fill(regex, workspace_id):
    import re

    path = regex.lstrip("^").rstrip("$")
    path = path.replace("(?P<workspace_id>[^/.]+)", str(workspace_id))
    path = re.sub(r"\(\?P<[a-z_]+>[^)]+\)", str(uuid.uuid4()), path)
    return "/" + path


def test_every_workspace_route_of_another_tenant_answers_404():
    theirs = WorkspaceFactory()
    member_of(theirs, Role.OWNER)
    mine = WorkspaceFactory()
    me = member_of(mine, Role.OWNER)
    client = client_for(me)
    routes = workspace_routes()
    assert len(routes) >= 4
    for regex in routes:
        url = fill(regex, theirs.id)
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.json()["type"] == "client_error"


def test_workspace_list_shows_only_own_workspaces():
    theirs = WorkspaceFactory(name="theirs")
    member_of(theirs, Role.OWNER)
    mine = WorkspaceFactory(name="mine")
    me = member_of(mine, Role.VIEWER)
    body = client_for(me).get("/api/v1/workspaces/").json()
    assert [w["name"] for w in body["results"]] == ["mine"]


def test_membership_of_another_tenant_is_not_reachable_through_own_workspace():
    theirs = WorkspaceFactory()
    member_of(theirs, Role.OWNER)
    their_membership = Membership.objects.get(workspace=theirs)
    mine = WorkspaceFactory()
    me = member_of(mine, Role.OWNER)
    client = client_for(me)
    url = f"/api/v1/workspaces/{mine.id}/members/{their_membership.id}/"
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert Membership.objects.filter(pk=their_membership.pk).exists()


def test_viewer_cannot_create_or_delete(workspace, owner):
    viewer = member_of(workspace, Role.VIEWER)
    client = client_for(viewer)
    assert client.get(f"/api/v1/workspaces/{workspace.id}/").status_code == 200
    response = client.patch(f"/api/v1/workspaces/{workspace.id}/", {"description": "x"}, format="json")
    assert response.status_code == 403
    assert "viewer" in response.json()["errors"][0]["detail"]
    assert "owner role" in response.json()["errors"][0]["detail"]
    colleague = member_of(workspace, Role.DEVELOPER)
    response = client.post(
        f"/api/v1/workspaces/{workspace.id}/members/", {"username": colleague.username, "role": "viewer"}, format="json"
    )
    assert response.status_code == 403
    membership = Membership.objects.get(user=colleague)
    assert client.delete(f"/api/v1/workspaces/{workspace.id}/members/{membership.id}/").status_code == 403
    assert client.delete(f"/api/v1/workspaces/{workspace.id}/").status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


def test_owner_manages_members(workspace, owner_client):
    newcomer = member_of(WorkspaceFactory(account=workspace.account), Role.VIEWER)
    url = f"/api/v1/workspaces/{workspace.id}/members/"
    response = owner_client.post(url, {"username": newcomer.username, "role": "annotator"}, format="json")
    assert response.status_code == 201, response.json()
    membership_id = response.json()["id"]
    response = owner_client.patch(f"{url}{membership_id}/", {"role": "developer"}, format="json")
    assert response.json()["role"] == "developer"
    assert owner_client.delete(f"{url}{membership_id}/").status_code == 204


def test_members_come_from_the_workspace_account_only(workspace, owner_client):
    outsider = member_of(WorkspaceFactory(), Role.OWNER)
    response = owner_client.post(
        f"/api/v1/workspaces/{workspace.id}/members/", {"username": outsider.username, "role": "viewer"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "username"


def test_last_owner_cannot_be_demoted_or_removed(workspace, owner, owner_client):
    membership = Membership.objects.get(user=owner)
    url = f"/api/v1/workspaces/{workspace.id}/members/{membership.id}/"
    assert owner_client.patch(url, {"role": "viewer"}, format="json").status_code == 400
    assert owner_client.delete(url).status_code == 400
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_account_admin_creates_workspace_and_becomes_owner():
    workspace = WorkspaceFactory()
    admin = member_of(workspace, Role.VIEWER)
    admin.account_member.is_admin = True
    admin.account_member.save()
    client = client_for(admin)
    response = client.post("/api/v1/workspaces/", {"name": "research", "description": "r"}, format="json")
    assert response.status_code == 201, response.json()
    assert Membership.objects.get(workspace_id=response.json()["id"]).role == Role.OWNER
    duplicate = client.post("/api/v1/workspaces/", {"name": "research"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["errors"][0]["attr"] == "name"


def test_plain_member_cannot_create_workspace(workspace, developer_client):
    response = developer_client.post("/api/v1/workspaces/", {"name": "mine"}, format="json")
    assert response.status_code == 403
    assert "account admin" in response.json()["errors"][0]["detail"]


def test_operator_sees_every_workspace(workspace):
    operator = AccountMemberFactory(user__is_staff=True).user
    body = client_for(operator).get(f"/api/v1/workspaces/{workspace.id}/")
    assert body.status_code == 200


def test_me_lists_account_and_roles(workspace, developer, developer_client):
    body = developer_client.get("/api/v1/me/").json()
    assert body["username"] == developer.username
    assert body["account"]["name"] == workspace.account.name
    assert body["workspaces"] == [{"id": str(workspace.id), "name": workspace.name, "role": "developer"}]

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import AuditEvent, Role
from tests.conftest import client_for
from tests.factories import member_of

pytestmark = pytest.mark.django_db


def test_mutating_calls_are_audited_and_owners_read_them(workspace, owner_client):
    owner_client.patch(
        f"/api/v1/workspaces/{workspace.id}/", {"description": "new"}, format="json", REMOTE_ADDR="10.1.2.3"
    )
    owner_client.get(f"/api/v1/workspaces/{workspace.id}/")  # reads are not audited
    events = owner_client.get(f"/api/v1/workspaces/{workspace.id}/audit-events/").json()["results"]
    assert len(events) == 1
    event = events[0]
    assert event["action"] == "workspace.partial_update"
    assert event["target_type"] == "workspace"
    assert event["target_id"] == str(workspace.id)
    assert event["status_code"] == 200
    assert event["source_ip"] == "10.1.2.3"
    assert event["actor"] == workspace.memberships.get(role=Role.OWNER).user.username
    assert event["api_key_prefix"]


def test_denied_calls_are_audited_too(workspace):
    viewer = member_of(workspace, Role.VIEWER)
    client_for(viewer).delete(f"/api/v1/workspaces/{workspace.id}/")
    event = AuditEvent.objects.get(actor=viewer)
    assert event.status_code == 403
    assert event.action == "workspace.destroy"


def test_only_owners_read_the_audit_trail(workspace, developer_client):
    response = developer_client.get(f"/api/v1/workspaces/{workspace.id}/audit-events/")
    assert response.status_code == 403


def test_audit_filters(workspace, owner_client):
    owner_client.patch(f"/api/v1/workspaces/{workspace.id}/", {"description": "a"}, format="json")
    owner_client.post("/api/v1/api-keys/", {"name": "k"}, format="json")
    url = f"/api/v1/workspaces/{workspace.id}/audit-events/"
    assert owner_client.get(url, {"action": "workspace.partial_update"}).json()["count"] == 1
    assert owner_client.get(url, {"action": "nothing"}).json()["count"] == 0


def test_audit_list_queries_do_not_grow_with_page_size(workspace, owner_client):
    for i in range(30):
        owner_client.patch(f"/api/v1/workspaces/{workspace.id}/", {"description": str(i)}, format="json")
    url = f"/api/v1/workspaces/{workspace.id}/audit-events/"
    counts = []
    for size in (2, 25):
        with CaptureQueriesContext(connection) as ctx:
            body = owner_client.get(url, {"page_size": size}).json()
        assert len(body["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_deleting_a_workspace_is_audited(workspace, owner_client):
    assert owner_client.delete(f"/api/v1/workspaces/{workspace.id}/").status_code == 204
    event = AuditEvent.objects.get(action="workspace.destroy")
    assert event.workspace is None and event.target_id == str(workspace.id) and event.status_code == 204


def test_time_filters_take_any_offset_and_refuse_nonsense(workspace, owner_client):
    url = f"/api/v1/workspaces/{workspace.id}/audit-events/"
    assert owner_client.get(url, {"created_after": "0308-05-13T08:27:38+20:40"}).status_code == 200
    response = owner_client.get(url, {"created_after": "yesterday"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "created_after"

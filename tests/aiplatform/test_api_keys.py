from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from aiplatform.models import ApiKey, Role
from aiplatform.services import hash_secret
from tests.conftest import client_for
from tests.factories import member_of

pytestmark = pytest.mark.django_db


def bearer(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_key_lifecycle(developer, developer_client):
    response = developer_client.post("/api/v1/api-keys/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    body = response.json()
    token = body["key"]
    assert token.startswith(f"aip_{body['prefix']}_")

    stored = ApiKey.objects.get(pk=body["id"])
    assert stored.secret_hash == hash_secret(token)
    assert token not in {stored.prefix, stored.secret_hash, stored.name}
    assert stored.last_used_at is None

    assert bearer(token).get("/api/v1/me/").status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    listed = developer_client.get("/api/v1/api-keys/").json()["results"]
    assert {k["name"] for k in listed} == {"test", "ci"}
    assert all("key" not in k for k in listed)

    revoked = developer_client.delete(f"/api/v1/api-keys/{body['id']}/")
    assert revoked.status_code == 200
    assert revoked.json()["is_active"] is False
    response = bearer(token).get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["errors"][0]["code"] == "authentication_failed"


def test_expired_key_is_refused(developer_client):
    soon = timezone.now() + timedelta(hours=1)
    body = developer_client.post("/api/v1/api-keys/", {"name": "short", "expires_at": soon.isoformat()}, format="json")
    token = body.json()["key"]
    assert bearer(token).get("/api/v1/me/").status_code == 200
    ApiKey.objects.filter(pk=body.json()["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(token).get("/api/v1/me/").status_code == 401


def test_expiry_in_the_past_is_refused(developer_client):
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = developer_client.post("/api/v1/api-keys/", {"name": "old", "expires_at": past}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "expires_at"


def test_unknown_and_malformed_tokens_are_refused(db):
    assert bearer("aip_nothere_secret").get("/api/v1/me/").status_code == 401
    assert bearer("garbage").get("/api/v1/me/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    assert client.get("/api/v1/me/").status_code == 401


def test_a_user_sees_and_revokes_only_own_keys(workspace, developer_client):
    other = member_of(workspace, Role.DEVELOPER)
    other_client = client_for(other)
    theirs = other_client.post("/api/v1/api-keys/", {"name": "theirs"}, format="json").json()
    assert developer_client.get(f"/api/v1/api-keys/{theirs['id']}/").status_code == 404
    assert developer_client.delete(f"/api/v1/api-keys/{theirs['id']}/").status_code == 404
    assert ApiKey.objects.get(pk=theirs["id"]).revoked_at is None


def test_annotator_cannot_manage_keys(workspace):
    annotator = member_of(workspace, Role.ANNOTATOR)
    client = APIClient()
    client.force_login(annotator)
    response = client.post("/api/v1/api-keys/", {"name": "mine"}, format="json")
    assert response.status_code == 403
    assert "developer role" in response.json()["errors"][0]["detail"]
    assert client.get("/api/v1/api-keys/").status_code == 403
    assert not ApiKey.objects.filter(user=annotator).exists()


def test_session_authentication_for_the_console(workspace, developer):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(developer)
    assert client.get(f"/api/v1/workspaces/{workspace.id}/").status_code == 200
    # Session callers must send the CSRF token on writes.
    assert client.post("/api/v1/api-keys/", {"name": "x"}, format="json").status_code == 403

from datetime import timedelta

import pytest
from django.utils import timezone

from aiplatform.models import ApiKey, IdempotencyKey
from aiplatform.services import purge_expired_idempotency_keys
from tests.conftest import client_for
from tests.factories import member_of

pytestmark = pytest.mark.django_db


def create_key(client, body, key):
    return client.post("/api/v1/api-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_replay_returns_first_response_and_creates_one_object(developer, developer_client):
    first = create_key(developer_client, {"name": "deploy"}, "k-1")
    second = create_key(developer_client, {"name": "deploy"}, "k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert ApiKey.objects.filter(user=developer, name="deploy").count() == 1


def test_same_key_with_another_body_is_refused(developer, developer_client):
    create_key(developer_client, {"name": "deploy"}, "k-2")
    response = create_key(developer_client, {"name": "other"}, "k-2")
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "idempotency_key_reused"
    assert "new key" in error["detail"]
    assert not ApiKey.objects.filter(user=developer, name="other").exists()


def test_keys_are_scoped_to_the_caller(workspace, developer_client):
    other_client = client_for(member_of(workspace))
    mine = create_key(developer_client, {"name": "same"}, "shared")
    theirs = create_key(other_client, {"name": "same"}, "shared")
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]


def test_failed_request_releases_its_key(developer_client):
    bad = create_key(developer_client, {"name": ""}, "k-3")
    assert bad.status_code == 400
    good = create_key(developer_client, {"name": "fixed"}, "k-3")
    assert good.status_code == 201


def test_key_in_progress_is_refused(developer, developer_client):
    # The same request again while the first still runs: its key, with the same body, in progress.
    assert create_key(developer_client, {"name": "x"}, "busy").status_code == 201
    IdempotencyKey.objects.filter(key="busy").update(status=IdempotencyKey.Status.IN_PROGRESS,
                                                     response_status=None, created_at=timezone.now())
    response = create_key(developer_client, {"name": "x"}, "busy")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "idempotency_key_in_progress"
    assert ApiKey.objects.filter(user=developer, name="x").count() == 1


def test_expired_keys_are_purged_and_may_be_reused(developer, developer_client):
    create_key(developer_client, {"name": "a"}, "k-4")
    IdempotencyKey.objects.filter(key="k-4").update(expires_at=timezone.now() - timedelta(seconds=1))
    again = create_key(developer_client, {"name": "b"}, "k-4")
    assert again.status_code == 201
    assert again.json()["name"] == "b"
    IdempotencyKey.objects.filter(key="k-4").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert purge_expired_idempotency_keys() == 1
    assert not IdempotencyKey.objects.filter(key="k-4").exists()

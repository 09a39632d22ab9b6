"""API rate limits: per API key and per session user, per-account plans, operators, bad keys per
address; counted in the cache (Redis across processes), answered 429 with Retry-After."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from aiplatform import services, throttling
from aiplatform.models import ApiKey, AuditEvent, Role
from tests.factories import WorkspaceFactory, member_of

ROOT = Path(__file__).resolve().parents[2]


def bearer(token: str, address: str = "127.0.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def issue(user, seconds_needed: float = 5) -> tuple[APIClient, str, str]:
    """A client with a new key of `user`, the name its requests are counted under, and the key."""
    issued = services.create_api_key(user=user, name=f"key-{uuid.uuid4().hex[:6]}")
    name = f"key:{issued.api_key.pk}"
    # The key's and its user's counts both: neither window may end during the test.
    while min(throttling._window(n)[1] for n in (name, f"user:{user.pk}")) < seconds_needed:
        fresh_window(name, seconds_needed)
        fresh_window(f"user:{user.pk}", seconds_needed)
    return bearer(issued.token), name, issued.token


def fresh_window(name: str, seconds_needed: float = 5) -> None:
    """Waits, where the current window of `name` has less than `seconds_needed` left, for the next
    one: a test's requests then fall in one window and see no reset, whatever the clock."""
    _, seconds_left = throttling._window(name)
    if seconds_left < seconds_needed:
        time.sleep(seconds_left + 0.1)


def assert_throttled(response, limit: int):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["type"] == "client_error"
    assert body["errors"] == [{"code": "throttled", "detail": body["errors"][0]["detail"], "attr": None}]
    assert f"{limit} API requests a minute" in body["errors"][0]["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60


@pytest.fixture
def limit_of_3(settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """The default cache in Redis (the suite's Redis: the broker's server), as CACHE_URL sets it."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "the suite runs with Redis (make test)"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": settings.CELERY_BROKER_URL, "KEY_PREFIX": "aip"}}
    return settings.CELERY_BROKER_URL


@pytest.mark.django_db
def test_a_key_over_its_limit_gets_429_and_other_keys_do_not(limit_of_3):
    workspace = WorkspaceFactory()
    user = member_of(workspace, Role.OWNER)
    client, _, _ = issue(user)
    other_key, _, _ = issue(user)
    other_user, _, _ = issue(member_of(workspace, Role.DEVELOPER))

    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    assert_throttled(client.get("/api/v1/me/"), 3)
    # Writes count too, and a refused one changes nothing.
    assert_throttled(client.patch(f"/api/v1/workspaces/{workspace.id}/", {"description": "x"}, format="json"), 3)
    workspace.refresh_from_db()
    assert workspace.description == ""

    # The user's other key shares the user's count (more keys buy no more requests); another user's does not.
    assert_throttled(other_key.get("/api/v1/me/"), 3)
    assert other_user.get("/api/v1/me/").status_code == 200


@pytest.mark.django_db
def test_a_user_holds_a_bounded_number_of_live_keys(settings):
    settings.API_KEYS_PER_USER = 2
    user = member_of(WorkspaceFactory(), Role.DEVELOPER)
    client, _, _ = issue(user)
    assert client.post("/api/v1/api-keys/", {"name": "second"}, format="json").status_code == 201
    refused = client.post("/api/v1/api-keys/", {"name": "third"}, format="json")
    assert refused.status_code == 400 and "revoke one" in refused.json()["errors"][0]["detail"]
    second = ApiKey.objects.get(user=user, name="second")
    assert client.delete(f"/api/v1/api-keys/{second.pk}/").status_code == 200
    assert client.post("/api/v1/api-keys/", {"name": "third"}, format="json").status_code == 201


@pytest.mark.django_db
def test_requests_refused_by_permissions_count_too(limit_of_3):
    """A caller probing another tenant's ids (404 each) spends its limit like any other."""
    client, _, _ = issue(member_of(WorkspaceFactory(), Role.DEVELOPER))
    elsewhere = WorkspaceFactory()
    assert [client.get(f"/api/v1/workspaces/{elsewhere.id}/").status_code for _ in range(3)] == [404, 404, 404]
    assert_throttled(client.get(f"/api/v1/workspaces/{elsewhere.id}/"), 3)


@pytest.mark.django_db
def test_an_accounts_plan_raises_or_lowers_the_limit(limit_of_3):
    generous, strict = WorkspaceFactory(), WorkspaceFactory()
    generous.account.api_requests_per_minute = 5
    generous.account.save()
    strict.account.api_requests_per_minute = 1
    strict.account.save()

    client, _, _ = issue(member_of(generous, Role.DEVELOPER))
    assert {client.get("/api/v1/me/").status_code for _ in range(5)} == {200}
    assert_throttled(client.get("/api/v1/me/"), 5)

    client, _, _ = issue(member_of(strict, Role.DEVELOPER))
    assert client.get("/api/v1/me/").status_code == 200
    assert_throttled(client.get("/api/v1/me/"), 1)

    unlimited = WorkspaceFactory()
    unlimited.account.api_requests_per_minute = 0  # as the setting's 0: no limit
    unlimited.account.save()
    client, _, _ = issue(member_of(unlimited, Role.DEVELOPER))
    assert {client.get("/api/v1/me/").status_code for _ in range(5)} == {200}


@pytest.mark.django_db
def test_operators_have_their_own_limit(limit_of_3, settings, django_user_model):
    settings.API_RATE_LIMIT_OPERATOR_PER_MINUTE = 5
    client, _, _ = issue(django_user_model.objects.create_user("operator", is_staff=True))
    assert {client.get("/api/v1/flavors/").status_code for _ in range(5)} == {200}
    assert_throttled(client.get("/api/v1/flavors/"), 5)

    settings.API_RATE_LIMIT_OPERATOR_PER_MINUTE = 0  # no limit
    assert client.get("/api/v1/flavors/").status_code == 200


@pytest.mark.django_db
def test_a_session_user_is_counted_per_user(limit_of_3):
    user = member_of(WorkspaceFactory(), Role.VIEWER)
    fresh_window(f"user:{user.pk}")
    browser = APIClient()
    browser.force_login(user)
    assert [browser.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    response = browser.get("/api/v1/me/")
    assert_throttled(response, 3)
    assert "your user, over all of its keys and sessions, may make" in response.json()["errors"][0]["detail"]


@pytest.mark.django_db
def test_probes_docs_and_anonymous_calls_are_not_counted(limit_of_3, anonymous_client):
    for _ in range(5):
        assert anonymous_client.get("/healthz").status_code == 200
        assert anonymous_client.get("/readyz").status_code == 200
        assert anonymous_client.get("/api/v1/me/").status_code == 401
    assert anonymous_client.get("/api/schema/").status_code == 200


@pytest.mark.django_db
def test_refused_calls_leave_no_audit_rows(limit_of_3):
    workspace = WorkspaceFactory()
    client, _, _ = issue(member_of(workspace, Role.OWNER))
    for _ in range(6):
        client.patch(f"/api/v1/workspaces/{workspace.id}/", {"description": "x"}, format="json")
    assert list(AuditEvent.objects.values_list("status_code", flat=True)) == [200, 200, 200]


@pytest.mark.django_db
def test_bad_keys_are_limited_per_address(settings):
    settings.API_KEY_FAILURES_PER_MINUTE = 3
    cache.clear()
    user = member_of(WorkspaceFactory(), Role.DEVELOPER)
    token = services.create_api_key(user=user, name="good").token
    guesser_address, other_address = "203.0.113.7", "198.51.100.9"
    fresh_window(f"auth-failures:{guesser_address}")

    guesses = [bearer(f"aip_{uuid.uuid4().hex[:12]}_guess", guesser_address).get("/api/v1/me/") for _ in range(4)]
    assert [r.status_code for r in guesses] == [401, 401, 401, 429]
    refused = guesses[-1].json()
    assert refused["errors"][0]["code"] == "throttled" and "invalid API keys" in refused["errors"][0]["detail"]
    assert 1 <= int(guesses[-1]["Retry-After"]) <= 60
    # Only bad keys are refused: a valid key from that address (a NAT, the local backend's workloads)
    # still works, and other addresses' bad keys are answered as bad.
    assert bearer(token, guesser_address).get("/api/v1/me/").status_code == 200
    assert bearer(token, other_address).get("/api/v1/me/").status_code == 200
    assert bearer("aip_000000000000_guess", other_address).get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_behind_trusted_proxies_the_forwarded_address_is_counted(settings):
    settings.API_KEY_FAILURES_PER_MINUTE = 1
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/24"]
    cache.clear()
    fresh_window("auth-failures:203.0.113.8")
    proxy = "10.0.0.2"

    def guess(forwarded_for):
        client = bearer("aip_000000000000_guess", proxy)
        return client.get("/api/v1/me/", HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    assert guess("203.0.113.8") == 401
    assert guess("203.0.113.8") == 429
    # A client's own X-Forwarded-For entries (left of the proxy's) do not make it someone else.
    assert guess("198.51.100.1, 203.0.113.8") == 429
    assert guess("198.51.100.2") == 401


@pytest.mark.django_db
def test_an_unreachable_cache_lets_requests_through(limit_of_3, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    client, _, _ = issue(member_of(WorkspaceFactory(), Role.DEVELOPER))
    assert {client.get("/api/v1/me/").status_code for _ in range(5)} == {200}


@pytest.mark.django_db(transaction=True)
def test_the_count_lives_in_redis_and_processes_share_it(limit_of_3, redis_cache):
    """Two processes (this one and a fresh interpreter, like two gunicorn workers or hosts) spend
    one key's limit together, and the count is a Redis key."""
    client, name, token = issue(member_of(WorkspaceFactory(), Role.DEVELOPER), seconds_needed=15)
    assert client.get("/api/v1/me/").status_code == 200

    server = redis.Redis.from_url(redis_cache)
    stored = f"aip:1:{throttling._window(name)[0]}"  # Django's cache key: prefix, version, key
    assert int(server.get(stored)) == 1
    assert 0 < server.ttl(stored) <= 65

    settings_dict = connection.settings_dict
    database = (f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
                f"{settings_dict['NAME']}")
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        f"print(json.dumps([Client().get('/api/v1/me/', HTTP_HOST='127.0.0.1', HTTP_AUTHORIZATION='Bearer {token}')"
        ".status_code for _ in range(2)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "aiplatform.settings", "DATABASE_URL": database,
             "CACHE_URL": redis_cache, "API_RATE_LIMIT_PER_MINUTE": "3"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [200, 200]
    assert int(server.get(stored)) == 3

    assert_throttled(client.get("/api/v1/me/"), 3)  # the other process spent the rest

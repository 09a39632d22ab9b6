"""What the platform keeps to itself: no audit row per refused anonymous call, demo credentials
readable by their owner only, and the client address that records and limits name."""

import io
import stat

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from rest_framework.test import APIClient

from aiplatform.models import AuditEvent, Role
from aiplatform.network import client_address
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, member_of

pytestmark = pytest.mark.django_db


def test_refused_anonymous_calls_leave_no_audit_rows(anonymous_client):
    workspace = WorkspaceFactory()
    bad_key = APIClient(REMOTE_ADDR="192.0.2.55")  # an address of its own: its failures are counted
    bad_key.credentials(HTTP_AUTHORIZATION="Bearer aip_000000000000_nothing")
    for client in (anonymous_client, bad_key):
        for _ in range(5):
            assert client.post("/api/v1/api-keys/", {"name": "k"}, format="json").status_code == 401
            assert client.delete(f"/api/v1/workspaces/{workspace.id}/").status_code == 401
            assert client.post("/api/v2/nothing/", {}, format="json").status_code == 401
    assert AuditEvent.objects.count() == 0

    # A call that a known caller made is recorded, refused or not.
    viewer = member_of(workspace, Role.VIEWER)
    assert client_for(viewer).delete(f"/api/v1/workspaces/{workspace.id}/").status_code == 403
    assert list(AuditEvent.objects.values_list("actor__username", "status_code")) == [(viewer.username, 403)]


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_demo_credentials_are_readable_by_their_owner_only(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("bootstrap_demo", stdout=io.StringIO())
    password_file, key_file = tmp_path / "demo-admin-password.txt", tmp_path / "demo-api-key.txt"
    assert mode(password_file) == 0o600 and mode(key_file) == 0o600

    # Files an earlier version left world-readable are narrowed, and keep their contents.
    password, token = password_file.read_text(), key_file.read_text()
    password_file.chmod(0o644)
    key_file.chmod(0o664)
    call_command("bootstrap_demo", stdout=io.StringIO())
    assert mode(password_file) == 0o600 and mode(key_file) == 0o600
    assert (password_file.read_text(), key_file.read_text()) == (password, token)


def test_client_address_trusts_only_the_configured_proxies(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_address(request) == "10.0.0.2"  # no proxy configured: the header is the client's word
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "10.0.0.2"  # nor from a peer outside the proxies' networks
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/24", "fd00::/8"]
    assert client_address(request) == "203.0.113.5"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_address(request) == "6.6.6.6"
    settings.TRUSTED_PROXY_COUNT = 3  # fewer hops than proxies: the request came another way
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    garbled = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_address(garbled) == "10.0.0.2"

"""Signing in to the console (every role), invitations by account admins with a set-password link,
the account's people in the API, the playground's short-lived key, and sample images."""

import re

import pytest
from django.core import mail
from django.test import Client

from aiplatform.models import AccountMember, ApiKey, Membership, Role
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import AccountMemberFactory, WorkspaceFactory, member_of, workspace_storage

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-123"  # the factories' password


@pytest.fixture
def admin(workspace):
    member = AccountMemberFactory(account=workspace.account, is_admin=True)
    return member.user


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_roles_without_api_keys_sign_in_to_the_console(workspace, role):
    user = member_of(workspace, role)
    browser = Client()
    page = browser.post("/console/login/", {"username": user.username, "password": PASSWORD})
    assert page.status_code == 302
    assert browser.get("/console/", follow=True).status_code == 200
    keys = browser.get("/console/api-keys/").content.decode()
    assert "API keys are for developers and owners" in keys and "Create key" not in keys
    refused = Client().post("/console/login/", {"username": user.username, "password": "wrong"})
    assert "Please enter a correct username and password" in refused.content.decode()


def test_sign_in_lockouts_hold_for_the_console_too(workspace, settings):
    user = member_of(workspace, Role.VIEWER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        Client().post("/console/login/", {"username": user.username, "password": "wrong"})
    assert Client().post("/console/login/", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_an_admin_invites_someone_who_sets_a_password_and_lands_in_the_workspace(workspace, admin, settings):
    settings.INVITATION_EMAILS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    api = client_for(admin)
    answer = api.post("/api/v1/invitations/", {"email": "ann@example.com", "workspace": str(workspace.pk),
                                               "role": "annotator"}, format="json")
    assert answer.status_code == 201, answer.json()
    invited = answer.json()
    assert invited["user"]["username"] == "ann@example.com" and invited["emailed"] is True
    assert invited["set_password_url"] in mail.outbox[0].body
    user = AccountMember.objects.get(user__username="ann@example.com", account=workspace.account).user
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user, workspace=workspace).role == Role.ANNOTATOR
    listed = api.get("/api/v1/account-users/").json()["results"]
    assert {"username": "ann@example.com", "has_password": False} .items() <= next(
        u for u in listed if u["username"] == "ann@example.com").items()

    browser = Client()
    path = invited["set_password_url"].removeprefix("http://testserver")
    form = browser.get(path, follow=True)
    assert "Choose a password" in form.content.decode()
    weak = browser.post(form.redirect_chain[-1][0], {"new_password1": "short", "new_password2": "short"})
    assert "too short" in weak.content.decode()
    chosen = {"new_password1": "a-good-pass-1", "new_password2": "a-good-pass-1"}
    done = browser.post(form.redirect_chain[-1][0], chosen, follow=True)
    assert done.redirect_chain[-1][0] == f"/console/w/{workspace.pk}/"
    assert "Your role: <strong>annotator</strong>" in done.content.decode()
    # The link worked once.
    assert "no longer works" in Client().get(path, follow=True).content.decode()
    assert api.post(f"/api/v1/account-users/{user.pk}/invitation/").status_code == 400


def test_invitations_are_for_account_admins_and_refuse_what_is_taken_or_not_theirs(workspace, admin):
    developer = member_of(workspace, Role.OWNER)
    refused = client_for(developer).post("/api/v1/invitations/", {"username": "x"}, format="json")
    assert refused.status_code == 403 and "account admins" in refused.json()["errors"][0]["detail"]
    api = client_for(admin)
    taken = api.post("/api/v1/invitations/", {"username": developer.username}, format="json").json()
    assert taken["errors"][0]["attr"] == "username" and "taken" in taken["errors"][0]["detail"]
    elsewhere = WorkspaceFactory()
    answer = api.post("/api/v1/invitations/", {"username": "bob", "workspace": str(elsewhere.pk), "role": "viewer"},
                      format="json").json()
    assert answer["errors"][0]["attr"] == "workspace"
    assert api.post("/api/v1/invitations/", {}, format="json").json()["errors"][0]["attr"] == "username"
    assert api.post("/api/v1/invitations/", {"username": "bob", "role": "viewer"},
                    format="json").json()["errors"][0]["attr"] == "role"
    # An account keeps an admin.
    only = api.patch(f"/api/v1/account-users/{admin.pk}/", {"is_admin": False}, format="json").json()
    assert only["errors"][0]["attr"] == "is_admin"
    # Another account's people are not found.
    stranger = AccountMemberFactory(is_admin=True).user
    assert client_for(stranger).get(f"/api/v1/account-users/{admin.pk}/").status_code == 404


def test_the_account_page_is_for_admins(workspace, admin):
    browser = Client()
    browser.force_login(admin)
    page = browser.get("/console/account/").content.decode()
    assert 'data-api="/api/v1/invitations/"' in page and admin.username in page
    viewer = Client()
    viewer.force_login(member_of(workspace, Role.VIEWER))
    assert viewer.get("/console/account/").status_code == 403


def test_the_playground_key_is_short_lived_reused_and_revoked_at_sign_out(workspace):
    user = member_of(workspace, Role.VIEWER)
    browser = Client(enforce_csrf_checks=True)
    browser.post("/console/login/", {"username": user.username, "password": PASSWORD,
                                     "csrfmiddlewaretoken": _csrf(browser, "/console/login/")})
    url = f"/console/w/{workspace.pk}/playground-key/"
    assert browser.post(url).status_code == 403  # no CSRF token: refused
    token = _csrf(browser, f"/console/w/{workspace.pk}/")
    first = browser.post(url, HTTP_X_CSRFTOKEN=token).json()
    assert browser.post(url, HTTP_X_CSRFTOKEN=token).json()["key"] == first["key"]
    key = ApiKey.objects.get(user=user)
    assert key.expires_at is not None and key.revoked_at is None
    # The key holds the session's rights: a viewer reads, and may not write.
    caller = Client(HTTP_AUTHORIZATION=f"Bearer {first['key']}")
    assert caller.get(f"/api/v1/workspaces/{workspace.pk}/datasets/").status_code == 200
    assert caller.post(f"/api/v1/workspaces/{workspace.pk}/datasets/", {"name": "x", "type": "table"},
                       content_type="application/json").status_code == 403
    browser.post("/console/logout/", HTTP_X_CSRFTOKEN=token)
    key.refresh_from_db()
    assert key.revoked_at is not None
    # Another tenant's workspace gives no key.
    assert browser.post(f"/console/w/{WorkspaceFactory().pk}/playground-key/").status_code in (302, 403, 404)


def _csrf(browser, path) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(path).content.decode()).group(1)


def test_sample_images_are_served_to_members_only(workspace, local_root):
    folder = workspace_storage(local_root, workspace)
    (folder / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    sample = SampleFactory(dataset=dataset, source=f"file://ws-{workspace.pk}/cat.png")
    url = f"/console/w/{workspace.pk}/datasets/{dataset.pk}/samples/{sample.pk}/file"
    viewer = Client()
    viewer.force_login(member_of(workspace, Role.VIEWER))
    image = viewer.get(url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content).startswith(b"\x89PNG")
    assert image["X-Content-Type-Options"] == "nosniff"
    stranger = Client()
    stranger.force_login(member_of(WorkspaceFactory(), Role.OWNER))
    assert stranger.get(url).status_code == 404
    other = SampleFactory(dataset=DatasetFactory(), source="file://elsewhere/dog.png")
    assert viewer.get(f"/console/w/{workspace.pk}/datasets/{dataset.pk}/samples/{other.pk}/file").status_code == 404

"""Inputs the fuzzers of this folder found answering 500, kept as plain tests: a randomized run
meets them only by chance, these meet them every time."""

import pytest
from django.test import Client

from tests.api.world import build_platform, build_tenant, credentials

pytestmark = pytest.mark.django_db

BEYOND_64_BITS = 2**64


@pytest.fixture
def tenant(local_root, local_backend):
    return build_tenant("found", build_platform())


def test_integers_beyond_64_bits_are_refused_and_leave_nothing_unreadable(tenant):
    """JSON takes integers of any size; what the API stores must still be writable as its answers."""
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    workspace = f"/api/v1/workspaces/{tenant.workspace.pk}"
    for url, body in (
        (f"{workspace}/algorithms/", {"name": "big", "image": "python:3.11-slim", "command": ["python"],
                                      "outputs": {"steps": BEYOND_64_BITS}}),
        (f"{workspace}/datasets/{tenant.ids['dataset']}/samples/",
         {"samples": [{"source": "content://big", "metadata": {"size": BEYOND_64_BITS}}]}),
    ):
        response = client.post(url, body, content_type="application/json")
        assert 400 <= response.status_code < 500, (url, response.status_code, response.content[:300])
        assert response.json()["type"] in ("validation_error", "client_error"), response.content[:300]
        assert client.get(url).status_code == 200, url


def test_a_session_posting_more_form_fields_than_allowed_gets_a_4xx(tenant):
    """The CSRF check of a console session reads a form body before any permission check does."""
    session = credentials(tenant)["annotator"]
    client = Client(raise_request_exception=False, enforce_csrf_checks=True,
                    HTTP_X_CSRFTOKEN=session["headers"]["X-CSRFToken"])
    for name, value in session["cookies"].items():
        client.cookies[name] = value
    url = f"/api/v1/workspaces/{tenant.workspace.pk}/datasets/{tenant.ids['dataset']}/samples/batch-delete/"
    response = client.post(url, "&".join(["ids=1"] * 1001), content_type="application/x-www-form-urlencoded")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])


def test_options_on_routes_with_a_put_and_no_model_of_their_own_answers(tenant):
    """DRF's OPTIONS looks up the object of a route that takes PUT, to say what may be sent to it:
    a service's gateway limits and an upload's part, whose objects are no rows of a queryset."""
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {tenant.token}")
    workspace = f"/api/v1/workspaces/{tenant.workspace.pk}"
    for url in (
        f"{workspace}/services/{tenant.ids['service']}/limits/",
        f"{workspace}/uploads/{tenant.ids['upload']}/parts/1/",
        f"{workspace}/uploads/0/parts/1/",  # an upload that does not exist: described without its PUT
    ):
        response = client.options(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])

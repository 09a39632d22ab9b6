"""Every error answers in the one shape: {type, errors: [{code, detail, attr}]}."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_shape(response, status, error_type, code=None):
    assert response.status_code == status
    body = response.json()
    assert body["type"] == error_type
    assert body["errors"] and all(set(e) == {"code", "detail", "attr"} for e in body["errors"])
    if code:
        assert body["errors"][0]["code"] == code
    return body


def test_unauthenticated(anonymous_client):
    assert_shape(anonymous_client.get("/api/v1/workspaces/"), 401, "client_error", "not_authenticated")


def test_unknown_api_path(developer_client, anonymous_client):
    assert_shape(developer_client.get("/api/v1/no-such-thing/"), 404, "client_error", "not_found")
    # Anonymous callers learn nothing about which paths exist.
    assert_shape(anonymous_client.get("/api/v2/"), 401, "client_error", "not_authenticated")


def test_unknown_object_and_malformed_id(developer_client):
    assert_shape(developer_client.get("/api/v1/api-keys/00000000-0000-0000-0000-000000000000/"), 404, "client_error")
    assert_shape(developer_client.get("/api/v1/api-keys/not-a-uuid/"), 404, "client_error")
    assert_shape(developer_client.get("/api/v1/workspaces/not-a-uuid/"), 404, "client_error")


def test_method_not_allowed(developer_client):
    assert_shape(developer_client.put("/api/v1/me/", {}, format="json"), 405, "client_error", "method_not_allowed")


def test_malformed_json(developer_client):
    response = developer_client.post("/api/v1/api-keys/", data="{not json", content_type="application/json")
    assert_shape(response, 400, "client_error", "parse_error")


def test_validation_error_names_the_field(developer_client):
    body = assert_shape(developer_client.post("/api/v1/api-keys/", {}, format="json"), 400, "validation_error")
    assert body["errors"][0] == {"code": "required", "detail": "This field is required.", "attr": "name"}


def test_unhandled_error_outside_drf_is_json_under_api():
    from django.test import RequestFactory

    from aiplatform.errors import server_error

    response = server_error(RequestFactory().get("/api/v1/anything"))
    assert response.status_code == 500
    assert b'"type": "server_error"' in response.content


def test_admin_stays_html():
    response = Client().get("/admin/login/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")

"""The OpenAPI schema fuzzed with schemathesis: no generated input may produce a 500.

Requests go in-process to the WSGI app, authenticated as the owner of a workspace whose id is
put into workspace paths (random ids would only ever meet a 404)."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings

from aiplatform.models import Role
from aiplatform.wsgi import application
from tests.factories import WorkspaceFactory, api_token, make_pool, member_of

schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
)


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the test's transaction must outlive each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller(db, keep_test_connection):
    workspace = WorkspaceFactory()
    owner = member_of(workspace, Role.OWNER)
    make_pool(nodes=1)
    return workspace, api_token(owner)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_no_input_produces_a_server_error(case, caller):
    workspace, token = caller
    if case.path_parameters and "workspace_id" in case.path_parameters:
        case.path_parameters["workspace_id"] = str(workspace.id)
    response = case.call(app=application, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

import pytest
from django.db import connection
from rest_framework.test import APIClient

from aiplatform.models import Role
from tests.factories import WorkspaceFactory, api_token, member_of


@pytest.fixture(autouse=True)
def _require_postgresql(request):
    if "django_db_setup" in request.fixturenames:
        assert connection.vendor == "postgresql", "run the suite with `make test` (PostgreSQL, Redis)"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}")
    return client


@pytest.fixture
def workspace(db):
    return WorkspaceFactory()


@pytest.fixture
def owner(workspace):
    return member_of(workspace, Role.OWNER)


@pytest.fixture
def developer(workspace):
    return member_of(workspace, Role.DEVELOPER)


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def developer_client(developer):
    return client_for(developer)


@pytest.fixture
def anonymous_client():
    return APIClient()

import pytest
from django.db import connection
from rest_framework.test import APIClient

from aiplatform.models import Role
from k8s.backend import clear_backend_cache, get_compute_backend
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


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto) spoken to over HTTP, like OBS or MinIO in production."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, settings):
    """Points the platform's object storage at the local S3 server; yields a boto3 client."""
    import boto3

    settings.OBJECT_STORAGE_ENDPOINT_URL = s3_server
    settings.OBJECT_STORAGE_REGION = "us-east-1"
    settings.OBJECT_STORAGE_ACCESS_KEY_ID = "test-access-key"
    settings.OBJECT_STORAGE_SECRET_ACCESS_KEY = "test-secret-key"
    settings.OBJECT_STORAGE_PATH_STYLE = True
    return boto3.client(
        "s3", endpoint_url=s3_server, region_name="us-east-1",
        aws_access_key_id="test-access-key", aws_secret_access_key="test-secret-key",
    )


@pytest.fixture
def local_root(tmp_path, settings):
    """The embedded local storage in a fresh directory."""
    settings.LOCAL_STORAGE_ROOT = tmp_path / "storage"
    settings.LOCAL_STORAGE_ROOT.mkdir()
    return settings.LOCAL_STORAGE_ROOT


@pytest.fixture
def local_backend(settings, tmp_path):
    """The LocalBackend on a directory of its own; its processes are stopped afterwards."""
    settings.COMPUTE_BACKEND = "local"
    settings.LOCAL_BACKEND_DIR = tmp_path / "local-backend"
    clear_backend_cache()
    backend = get_compute_backend()
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()

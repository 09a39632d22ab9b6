"""The import runs in a real Celery worker over Redis, enqueued when the creating request commits."""

import time

import pytest
from celery.contrib.testing.worker import start_worker

from aiplatform.celery import app as celery_app
from aiplatform.models import Role
from datasets.models import ImportTask, Sample
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory
from tests.factories import WorkspaceFactory, member_of


@pytest.mark.django_db(transaction=True)
def test_an_import_posted_over_http_is_run_by_a_celery_worker(s3):
    s3.create_bucket(Bucket="worker-data")
    s3.put_object(Bucket="worker-data", Key="in.manifest", Body=b'{"source": "s3://worker-data/1.jpg"}\n')
    workspace = WorkspaceFactory()
    client = client_for(member_of(workspace, Role.DEVELOPER))
    dataset = DatasetFactory(workspace=workspace)
    with start_worker(celery_app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        response = client.post(
            f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/import-tasks/",
            {"kind": "manifest", "source_uri": "s3://worker-data/in.manifest"}, format="json",
        )
        assert response.status_code == 202, response.json()
        deadline = time.monotonic() + 30
        while ImportTask.objects.get(pk=response.json()["id"]).status != "succeeded":
            assert time.monotonic() < deadline, ImportTask.objects.get(pk=response.json()["id"]).status
            time.sleep(0.1)
    assert list(Sample.objects.filter(dataset=dataset).values_list("source", flat=True)) == ["s3://worker-data/1.jpg"]

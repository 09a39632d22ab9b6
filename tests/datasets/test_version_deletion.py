"""A version's manifest is deleted only once the version's deletion is committed: a deletion that
rolls back keeps both the version and its manifest."""

import pytest
from django.db import transaction

from datasets import services, tasks
from datasets.models import DatasetVersion
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.datasets.test_versions_imports_exports import buckets, dataset_url  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


class Interrupted(Exception):
    pass


def test_a_deletion_that_rolls_back_keeps_the_manifest(workspace, developer_client, buckets,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    dataset = DatasetFactory(workspace=workspace, output_uri="s3://work/pets")
    SampleFactory(dataset=dataset)
    created = developer_client.post(dataset_url(dataset, "versions/"), {"name": "v1"}, format="json").json()
    tasks.publish_version(created["id"])
    version = DatasetVersion.objects.get(pk=created["id"])
    key = f"pets/{dataset.id}/versions/v1.manifest"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Interrupted), transaction.atomic():
            services.delete_version(version=version)
            raise Interrupted
    assert callbacks == []
    assert DatasetVersion.objects.filter(pk=created["id"]).exists()
    assert buckets.head_object(Bucket="work", Key=key)["ContentLength"] > 0

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_version(version=DatasetVersion.objects.get(pk=created["id"]))
    assert buckets.list_objects_v2(Bucket="work", Prefix="pets/").get("KeyCount") == 0

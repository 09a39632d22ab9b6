"""Dataset CRUD over HTTP: label set, counts, filters, roles and tenant isolation."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from datasets.models import AnnotationItem, Dataset, Sample, SampleLabel
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import connect_bucket, member_of

pytestmark = pytest.mark.django_db


def url(workspace, dataset=None):
    base = f"/api/v1/workspaces/{workspace.id}/datasets/"
    return f"{base}{dataset.id}/" if dataset else base


def test_developer_creates_reads_updates_and_deletes_a_dataset(workspace, developer_client):
    connect_bucket(workspace.account, "raw")
    connect_bucket(workspace.account, "work")
    body = {
        "name": "pets", "type": "object_detection", "description": "cats and dogs",
        "input_uri": "s3://raw/pets/", "output_uri": "s3://work/pets/",
        "labels": [{"name": "cat", "color": "#ff0000", "attributes": [{"name": "occluded", "type": "boolean"}]},
                   {"name": "dog"}],
    }
    response = developer_client.post(url(workspace), body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["labels"][1]["color"].startswith("#")
    assert created["labels"][0]["attributes"] == [{"name": "occluded", "type": "boolean"}]
    assert (created["sample_count"], created["labelled_count"], created["unlabelled_count"]) == (0, 0, 0)
    assert created["status"] == "ready"
    dataset_url = f"{url(workspace)}{created['id']}/"
    assert developer_client.get(dataset_url).json()["name"] == "pets"
    response = developer_client.patch(dataset_url, {"description": "pets", "labels": [{"name": "bird"}]},
                                      format="json")
    assert response.status_code == 200, response.json()
    assert [label["name"] for label in response.json()["labels"]] == ["bird"]
    assert developer_client.delete(dataset_url).status_code == 204
    assert not Dataset.objects.filter(pk=created["id"]).exists()


def test_bad_input_names_the_field(workspace, developer_client):
    connect_bucket(workspace.account, "w")
    DatasetFactory(workspace=workspace, name="taken")
    cases = [
        ({"name": "taken", "type": "image_classification", "output_uri": "s3://w/o"}, "name"),
        ({"name": "n", "type": "painting", "output_uri": "s3://w/o"}, "type"),
        ({"name": "n", "type": "image_classification", "output_uri": "ftp://w/o"}, "output_uri"),
        ({"name": "n", "type": "image_classification", "output_uri": "s3://w/o",
          "labels": [{"name": "cat"}, {"name": "cat"}]}, "labels.1.name"),
        ({"name": "n", "type": "image_classification", "output_uri": "s3://w/o",
          "labels": [{"name": "cat", "color": "red"}]}, "labels.0.color"),
    ]
    for body, attr in cases:
        response = developer_client.post(url(workspace), body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert response.json()["errors"][0]["attr"] == attr, response.json()


def test_type_cannot_change_and_used_labels_cannot_go_once_samples_exist(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    SampleFactory(dataset=dataset)
    developer_client.post(
        f"{url(workspace, dataset)}samples/batch-annotate/",
        {"items": [{"id": dataset.samples.get().id, "annotations": [{"name": "cat"}]}]}, format="json",
    )
    response = developer_client.patch(url(workspace, dataset), {"type": "object_detection"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "type"
    response = developer_client.patch(url(workspace, dataset), {"labels": [{"name": "dog"}]}, format="json")
    assert response.status_code == 400
    assert "cat" in response.json()["errors"][0]["detail"]


def test_list_filters_orders_and_does_not_grow_queries(workspace, developer_client):
    for i in range(12):
        DatasetFactory(workspace=workspace, name=f"set-{i:02d}", type="image_classification" if i % 2 else "table")
    DatasetFactory()  # another workspace's
    body = developer_client.get(url(workspace), {"type": "table", "ordering": "name"}).json()
    assert body["count"] == 6
    assert [d["name"] for d in body["results"]][:2] == ["set-00", "set-02"]
    assert developer_client.get(url(workspace), {"name": "set-1"}).json()["count"] == 2
    assert developer_client.get(url(workspace), {"status": "ready"}).json()["count"] == 12
    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            assert len(developer_client.get(url(workspace), {"page_size": size}).json()["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_viewers_read_but_do_not_write(workspace):
    dataset = DatasetFactory(workspace=workspace)
    viewer = client_for(member_of(workspace, Role.VIEWER))
    assert viewer.get(url(workspace, dataset)).status_code == 200
    response = viewer.post(url(workspace), {"name": "x", "type": "table", "output_uri": "s3://w/o"}, format="json")
    assert response.status_code == 403
    assert viewer.delete(url(workspace, dataset)).status_code == 403


def test_another_tenants_dataset_answers_404_through_my_workspace(workspace, developer_client):
    theirs = DatasetFactory()
    mine_url = f"{url(workspace)}{theirs.id}/"
    for method in ("get", "patch", "delete"):
        assert getattr(developer_client, method)(mine_url, {}, format="json").status_code == 404
    for sub in ("samples/", "versions/", "import-tasks/", "export-tasks/"):
        assert developer_client.get(mine_url + sub).status_code == 404
        assert developer_client.post(mine_url + sub, {}, format="json").status_code == 404
    assert developer_client.get(f"{url(workspace)}not-a-uuid/").status_code == 404
    for sub in ("samples/", "versions/", "annotation-tasks/"):
        assert developer_client.get(f"{url(workspace)}not-a-uuid/{sub}").status_code == 404
        assert developer_client.get(f"{url(workspace)}{uuid.uuid4()}/{sub}").status_code == 404
    assert Dataset.objects.filter(pk=theirs.pk).exists()


def test_deleting_a_dataset_leaves_the_source_objects(workspace, developer_client, s3):
    s3.create_bucket(Bucket="raw")
    s3.put_object(Bucket="raw", Key="images/1.jpg", Body=b"jpeg")
    dataset = DatasetFactory(workspace=workspace, input_uri="s3://raw/images/")
    sample = SampleFactory(dataset=dataset, source="s3://raw/images/1.jpg")
    SampleFactory(dataset=dataset)
    developer_client.post(f"{url(workspace, dataset)}samples/batch-annotate/",
                          {"items": [{"id": sample.id, "annotations": [{"name": "cat"}]}]}, format="json")
    annotator = member_of(workspace, Role.ANNOTATOR)
    response = developer_client.post(f"{url(workspace, dataset)}annotation-tasks/",
                                     {"name": "t", "assignees": [annotator.username]}, format="json")
    assert response.status_code == 201
    assert developer_client.delete(url(workspace, dataset)).status_code == 204
    assert s3.get_object(Bucket="raw", Key="images/1.jpg")["Body"].read() == b"jpeg"
    assert not Sample.objects.filter(dataset_id=dataset.id).exists()
    assert not SampleLabel.objects.filter(dataset_id=dataset.id).exists()
    assert not AnnotationItem.objects.exists()

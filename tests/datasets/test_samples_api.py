"""Samples over HTTP: batch add, delete and annotate with per-item errors; filtered cursor pages."""

from base64 import b64encode
from urllib.parse import quote, urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from aiplatform.models import Role
from datasets.filters import SampleFilter
from datasets.models import Sample
from datasets.pagination import SampleCursorPagination
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import connect_bucket, member_of

pytestmark = pytest.mark.django_db


def samples_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/samples/{suffix}"


def errors_by_attr(response):
    return {e["attr"]: e["detail"] for e in response.json()["errors"]}


@pytest.fixture(autouse=True)
def data_bucket(workspace):
    """Samples name objects of the account's own bucket (a sample's source is a location of its
    workspace, like every URI a tenant gives)."""
    connect_bucket(workspace.account, "data")


@pytest.fixture
def detection(workspace):
    return DatasetFactory(workspace=workspace, type="object_detection")


def test_batch_add_then_counts_are_current(workspace, developer_client, developer):
    dataset = DatasetFactory(workspace=workspace)
    response = developer_client.post(samples_url(dataset), {"samples": [
        {"source": "s3://data/1.jpg", "metadata": {"size": 10}},
        {"source": "s3://data/2.jpg", "usage": "train", "annotations": [{"name": "cat", "confidence": 0.8}]},
    ]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 2
    labelled = body["samples"][1]
    assert labelled["status"] == "labelled"
    assert labelled["annotated_by"] == developer.username
    assert labelled["created_at"].endswith("Z") and labelled["annotated_at"].endswith("Z")
    annotation = labelled["annotations"][0]
    assert annotation["type"] == "modelarts/image_classification"
    assert annotation["annotated-by"] == developer.username and annotation["creation-time"]
    dataset_body = developer_client.get(f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/").json()
    assert (dataset_body["sample_count"], dataset_body["labelled_count"], dataset_body["unlabelled_count"]) == (2, 1, 1)


def test_batch_add_reports_every_bad_item_and_adds_nothing(workspace, developer_client, detection):
    SampleFactory(dataset=detection, source="s3://data/existing.jpg")
    response = developer_client.post(samples_url(detection), {"samples": [
        {"source": "s3://data/ok.jpg", "metadata": {"width": 100, "height": 100},
         "annotations": [{"name": "cat", "box": {"xmin": 1, "ymin": 1, "xmax": 50, "ymax": 50}}]},
        {"source": "s3://data/existing.jpg"},
        {"source": "ftp://data/x.jpg"},
        {"source": "s3://data/a.jpg",
         "annotations": [{"name": "horse", "box": {"xmin": 1, "ymin": 1, "xmax": 2, "ymax": 2}}]},
        {"source": "s3://data/b.jpg", "metadata": {"width": 100, "height": 100},
         "annotations": [{"name": "cat", "box": {"xmin": 1, "ymin": 1, "xmax": 150, "ymax": 50}}]},
        {"source": "s3://data/c.jpg", "annotations": [{"name": "cat", "type": "modelarts/image_classification"}]},
        {"source": "s3://data/ok.jpg"},
        {"source": 7},
        {"source": "s3://someone-elses-bucket/d.jpg"},
    ]}, format="json")
    assert response.status_code == 400
    errors = errors_by_attr(response)
    assert set(errors) == {
        "samples.1.source", "samples.2.source", "samples.3.annotations.0", "samples.4.annotations.0",
        "samples.5.annotations.0", "samples.6.source", "samples.7.source", "samples.8.source",
    }
    assert "is not a location of this workspace" in errors["samples.8.source"]
    assert "already in the dataset" in errors["samples.1.source"]
    assert "not in the dataset's label set" in errors["samples.3.annotations.0"]
    assert "outside the 100x100 image" in errors["samples.4.annotations.0"]
    assert "does not fit a object_detection dataset" in errors["samples.5.annotations.0"]
    assert Sample.objects.filter(dataset=detection).count() == 1


def test_text_spans_are_checked_against_the_text(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace, type="named_entity", labels=[{"name": "PER"}])
    span = {"name": "PER", "property": {"@modelarts:start_index": 0, "@modelarts:end_index": 5}}
    response = developer_client.post(samples_url(dataset), {"samples": [
        {"source": "content://Alice met Bob", "metadata": {"text": "Alice met Bob"}, "annotations": [span]},
        {"source": "content://Al", "metadata": {"text": "Al"}, "annotations": [span]},
    ]}, format="json")
    assert response.status_code == 400
    assert set(errors_by_attr(response)) == {"samples.1.annotations.0"}


def test_batch_annotate_and_unknown_ids(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    first, second = SampleFactory(dataset=dataset), SampleFactory(dataset=dataset)
    other = SampleFactory()  # another dataset's sample
    response = developer_client.post(samples_url(dataset, "batch-annotate/"), {"items": [
        {"id": first.id, "annotations": [{"name": "cat"}]},
        {"id": other.id, "annotations": [{"name": "cat"}]},
        {"id": 999999999, "annotations": []},
        {"id": second.id, "annotations": [{"name": "zebra"}]},
    ]}, format="json")
    assert response.status_code == 400
    assert set(errors_by_attr(response)) == {"items.1.id", "items.2.id", "items.3.annotations.0"}
    first.refresh_from_db()
    assert first.annotations == []
    response = developer_client.post(samples_url(dataset, "batch-annotate/"), {"items": [
        {"id": first.id, "annotations": [{"name": "cat"}, {"name": "dog"}], "usage": "eval"},
        {"id": second.id, "annotations": [{"name": "dog"}]},
    ]}, format="json")
    assert response.status_code == 200, response.json()
    first.refresh_from_db()
    assert [a["name"] for a in first.annotations] == ["cat", "dog"]
    assert (first.status, first.usage) == ("labelled", "eval")
    response = developer_client.post(samples_url(dataset, "batch-annotate/"), {"items": [
        {"id": second.id, "annotations": []},
    ]}, format="json")
    assert response.json()["samples"][0]["status"] == "unlabelled"
    dataset.refresh_from_db()
    assert (dataset.sample_count, dataset.labelled_count) == (2, 1)


def test_batch_delete(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    keep, drop = SampleFactory(dataset=dataset), SampleFactory(dataset=dataset)
    response = developer_client.post(samples_url(dataset, "batch-delete/"), {"ids": [drop.id, 424242]}, format="json")
    assert response.status_code == 400
    assert set(errors_by_attr(response)) == {"ids.1"}
    assert Sample.objects.filter(dataset=dataset).count() == 2
    response = developer_client.post(samples_url(dataset, "batch-delete/"), {"ids": [drop.id]}, format="json")
    assert response.json() == {"count": 1}
    assert list(Sample.objects.filter(dataset=dataset)) == [keep]
    dataset.refresh_from_db()
    assert dataset.sample_count == 1


def test_annotators_annotate_but_do_not_add_or_delete(workspace):
    dataset = DatasetFactory(workspace=workspace)
    sample = SampleFactory(dataset=dataset)
    annotator = client_for(member_of(workspace, Role.ANNOTATOR))
    response = annotator.post(samples_url(dataset, "batch-annotate/"),
                              {"items": [{"id": sample.id, "annotations": [{"name": "cat"}]}]}, format="json")
    assert response.status_code == 200
    response = annotator.post(samples_url(dataset), {"samples": [{"source": "s3://a/b.jpg"}]}, format="json")
    assert response.status_code == 403
    response = annotator.post(samples_url(dataset, "batch-delete/"), {"ids": [sample.id]}, format="json")
    assert response.status_code == 403


def test_list_filters_and_cursor_pages(workspace, developer_client, developer):
    dataset = DatasetFactory(workspace=workspace)
    samples = [SampleFactory(dataset=dataset) for _ in range(7)]
    developer_client.post(samples_url(dataset, "batch-annotate/"), {"items": [
        {"id": samples[1].id, "annotations": [{"name": "cat"}], "usage": "train"},
        {"id": samples[3].id, "annotations": [{"name": "dog"}, {"name": "cat"}]},
        {"id": samples[5].id, "annotations": [{"name": "dog"}]},
    ]}, format="json")

    def ids(**params):
        return [s["id"] for s in developer_client.get(samples_url(dataset), params).json()["results"]]

    assert ids(label="cat") == [samples[1].id, samples[3].id]
    assert ids(label="dog", status="labelled") == [samples[3].id, samples[5].id]
    assert ids(usage="train") == [samples[1].id]
    assert ids(annotated_by=developer.username) == [samples[1].id, samples[3].id, samples[5].id]
    assert len(ids(status="unlabelled")) == 4
    seen, page = [], developer_client.get(samples_url(dataset), {"page_size": 3}).json()
    while True:
        seen += [s["id"] for s in page["results"]]
        if not page["next"]:
            break
        page = developer_client.get(page["next"]).json()
    assert seen == [s.id for s in samples]
    assert ids(ordering="-source") == [s.id for s in samples]  # pages keep one order, whatever is asked
    assert developer_client.get(samples_url(dataset, f"{samples[0].id}/")).json()["source"] == samples[0].source
    assert developer_client.get(samples_url(dataset, f"{SampleFactory().id}/")).status_code == 404


def test_list_filters_select_what_sample_filter_selects(workspace, developer_client, developer):
    """The list's hand-written query against SampleFilter, which exports and annotation tasks use."""
    dataset, other = DatasetFactory(workspace=workspace), DatasetFactory(workspace=workspace)
    dataset.labels.append({"name": 'say "cat"\\', "color": "#0000ff", "attributes": []})
    dataset.save()
    sources = ["s3://a/x_1.jpg", "s3://a/xy1.jpg", "s3://a/50%.jpg", "s3://a/500.jpg", "s3://a/b\\c.jpg", "s3://b/1.jpg"]
    samples = [SampleFactory(dataset=dataset, source=source) for source in sources]
    stranger = SampleFactory(dataset=other, source=sources[0])
    developer_client.post(samples_url(dataset, "batch-annotate/"), {"items": [
        {"id": samples[0].id, "annotations": [{"name": "cat"}], "usage": "train"},
        {"id": samples[2].id, "annotations": [{"name": "dog"}, {"name": "cat"}], "usage": "eval"},
        {"id": samples[5].id, "annotations": [{"name": "dog"}]},
        {"id": samples[4].id, "annotations": [{"name": 'say "cat"\\'}]},
    ]}, format="json")
    developer_client.post(samples_url(other, "batch-annotate/"), {"items": [
        {"id": stranger.id, "annotations": [{"name": "cat"}]},
    ]}, format="json")

    def ids(params):
        return [s["id"] for s in developer_client.get(samples_url(dataset), params).json()["results"]]

    cases = [
        {}, {"label": "cat"}, {"label": "dog", "status": "labelled"}, {"label": "horse"}, {"label": ""},
        {"usage": "train"}, {"usage": "none"}, {"status": "unlabelled"}, {"annotated_by": developer.username},
        {"annotated_by": "nobody"}, {"source": "s3://a/x_"}, {"source": "s3://a/50%"}, {"source": "s3://a/b\\"},
        {"source": " s3://b/ "}, {"source": "s3://a/", "label": "cat", "usage": "eval", "status": "labelled"},
        {"label": 'say "cat"\\'}, {"label": "say"},
    ]
    for params in cases:
        expected = SampleFilter(params, queryset=Sample.objects.filter(dataset=dataset)).qs.order_by("position")
        assert ids(params) == [s.id for s in expected], params
    assert ids({"source": "s3://a/x_"}) == [samples[0].id]  # _ and % are not wildcards
    assert ids({"source": "s3://a/50%"}) == [samples[2].id]
    assert ids({"label": "cat"}) == [samples[0].id, samples[2].id]  # not the other dataset's
    assert ids({"label": 'say "cat"\\'}) == [samples[4].id]


def test_list_rejects_unknown_filter_values(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    response = developer_client.get(samples_url(dataset), {"status": "finished", "usage": "train"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error["attr"] for error in errors] == ["status"]
    assert "finished" in errors[0]["detail"]


def test_list_pages_as_drf_cursor_pagination_does(workspace, developer_client):
    """The list's pages against DRF's paginate_queryset over the ORM, forward and back, with
    positions that several samples share (DRF's cursors then carry offsets) and made-up cursors."""
    dataset = DatasetFactory(workspace=workspace)
    for position in [10, 20, 20, 20, 30, 40, 40, 50, 60, 70, 70, 80]:
        Sample.objects.filter(pk=SampleFactory(dataset=dataset).pk).update(position=position)

    def drf(url):
        paginator, request = SampleCursorPagination(), Request(APIRequestFactory().get(url))
        rows = CursorPagination.paginate_queryset(paginator, Sample.objects.filter(dataset=dataset).values(), request)
        return paginator.get_paginated_response([row["id"] for row in rows]).data

    def check(url):
        body = developer_client.get(url).json()
        assert {**body, "results": [s["id"] for s in body["results"]]} == drf(url), url
        return body

    def cursor(**tokens):
        return samples_url(dataset) + "?page_size=3&cursor=" + quote(b64encode(urlencode(tokens).encode()).decode())

    for size in (1, 3, 5):
        body, pages = check(f"{samples_url(dataset)}?page_size={size}"), 1
        while body["next"]:
            body, pages = check(body["next"]), pages + 1
        assert pages > 1
        while body["previous"]:
            body = check(body["previous"])
    for tokens in ({"p": 20}, {"o": 2, "p": 20}, {"o": 4}, {"r": 1, "p": 70}, {"r": 1, "o": 1, "p": 70}, {"r": 1}):
        check(cursor(**tokens))


def test_list_rejects_bad_filters_and_cursors(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    response = developer_client.get(samples_url(dataset), {"status": "bogus", "usage": "train"})
    assert response.status_code == 400
    assert response.json() == {"type": "validation_error", "errors": [{
        "code": "invalid_choice", "detail": "Select a valid choice. bogus is not one of the available choices.",
        "attr": "status",
    }]}
    response = developer_client.get(samples_url(dataset), {"label": "c\x00t"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "null_characters_not_allowed"
    response = developer_client.get(samples_url(dataset), {"cursor": "not-a-cursor"})
    assert response.status_code == 404 and response.json()["errors"][0]["detail"] == "Invalid cursor"


def test_list_shows_each_sample_as_its_detail_does_with_json_as_stored(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    metadata = {"width": 640, "height": 480, "caption": "chat noir — 黑猫", "exif": {"iso": 100, "gps": [1.5, -0.25]}}
    annotations = [
        {"name": "cat", "type": "modelarts/image_classification", "confidence": 0.875, "annotated-by": "ann",
         "property": {"empty": {}, "none": None, "flags": [True, False], "big": 12345678901234}},
        {"name": "dog", "type": "modelarts/image_classification"},
    ]
    samples = [
        SampleFactory(dataset=dataset, metadata=metadata, annotations=annotations, status="labelled",
                      annotated_by="ann", annotated_at=timezone.now().replace(microsecond=0)),
        SampleFactory(dataset=dataset, metadata={}, annotations=[]),
    ]
    listed = developer_client.get(samples_url(dataset)).json()["results"]
    assert listed == [developer_client.get(samples_url(dataset, f"{s.id}/")).json() for s in samples]
    assert (listed[0]["metadata"], listed[0]["annotations"]) == (metadata, annotations)
    assert listed[0]["annotated_at"].endswith("Z") and listed[1]["annotated_at"] is None


def test_sample_list_queries_do_not_grow_with_page_size(workspace, developer_client):
    dataset = DatasetFactory(workspace=workspace)
    for _ in range(30):
        SampleFactory(dataset=dataset)
    developer_client.get(samples_url(dataset))  # the key's first use records its last-used time once
    counts = []
    for size in (2, 25):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(samples_url(dataset), {"page_size": size, "label": "cat"}).json()
        assert len(body["results"]) == 0
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(samples_url(dataset), {"page_size": size, "status": "unlabelled"}).json()
        assert len(body["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]

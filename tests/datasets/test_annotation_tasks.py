"""Team labelling over HTTP: deal out, annotate own items, submit, reject with a comment,
resubmit, accept (annotations land on the samples), spot-check sampling, progress."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aiplatform.models import Role
from datasets.models import AnnotationItem, Sample
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import member_of

pytestmark = pytest.mark.django_db


def tasks_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/annotation-tasks/{suffix}"


@pytest.fixture
def team(workspace):
    alice, bob = member_of(workspace, Role.ANNOTATOR), member_of(workspace, Role.ANNOTATOR)
    return alice, bob, client_for(alice), client_for(bob)


@pytest.fixture
def dataset(workspace):
    dataset = DatasetFactory(workspace=workspace)
    for _ in range(6):
        SampleFactory(dataset=dataset)
    return dataset


def items(client, dataset, task_id, **params):
    return client.get(tasks_url(dataset, f"{task_id}/items/"), params).json()["results"]


def test_the_full_flow_with_rejection_and_acceptance(workspace, developer_client, developer, dataset, team):
    alice, bob, alice_client, bob_client = team
    labelled = Sample.objects.filter(dataset=dataset).first()
    developer_client.post(f"/api/v1/workspaces/{workspace.id}/datasets/{dataset.id}/samples/batch-annotate/",
                          {"items": [{"id": labelled.id, "annotations": [{"name": "dog"}]}]}, format="json")
    response = developer_client.post(tasks_url(dataset), {
        "name": "round 1", "scope": "unlabelled", "assignees": [alice.username, bob.username],
    }, format="json")
    assert response.status_code == 201, response.json()
    task = response.json()
    assert task["progress"] == {"total": 5, "assigned": 5, "submitted": 0, "accepted": 0, "rejected": 0}
    assert {a["username"]: a["total"] for a in task["annotators"]} == {alice.username: 3, bob.username: 2}

    # Each annotator sees only their own items, and cannot touch the other's.
    mine = items(alice_client, dataset, task["id"])
    theirs = items(bob_client, dataset, task["id"])
    assert {i["assignee"] for i in mine} == {alice.username} and len(mine) == 3
    assert labelled.id not in {i["sample"]["id"] for i in mine + theirs}
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/annotate/"),
                                 {"items": [{"id": theirs[0]["id"], "annotations": [{"name": "cat"}]}]}, format="json")
    assert response.status_code == 400
    assert "assigned to you" in response.json()["errors"][0]["detail"]

    # Labels outside the label set are refused per item; good ones are saved and submitted.
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/annotate/"), {"items": [
        {"id": mine[0]["id"], "annotations": [{"name": "cat"}]},
        {"id": mine[1]["id"], "annotations": [{"name": "unicorn"}]},
    ]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "items.1.annotations.0"
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/annotate/"), {"submit": True, "items": [
        {"id": item["id"], "annotations": [{"name": "cat"}]} for item in mine
    ]}, format="json")
    assert response.status_code == 200, response.json()
    assert {i["status"] for i in response.json()["items"]} == {"submitted"}
    sample = Sample.objects.get(pk=mine[0]["sample"]["id"])
    assert (sample.status, sample.annotations) == ("under_review", [])
    response = bob_client.post(tasks_url(dataset, f"{task['id']}/items/annotate/"),
                               {"items": [{"id": i["id"], "annotations": [{"name": "dog"}]} for i in theirs]},
                               format="json")
    assert response.status_code == 200
    response = bob_client.post(tasks_url(dataset, f"{task['id']}/items/submit/"),
                               {"ids": [i["id"] for i in theirs]}, format="json")
    assert response.status_code == 200, response.json()
    # Refused items (one already submitted, one not his) are named by their place in the body's ids.
    response = bob_client.post(tasks_url(dataset, f"{task['id']}/items/submit/"),
                               {"ids": [theirs[0]["id"], mine[0]["id"]]}, format="json")
    assert response.status_code == 400
    assert [e["attr"] for e in response.json()["errors"]] == ["ids.0", "ids.1"]

    # Annotators do not review.
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/review/"),
                                 {"accept_all_submitted": True}, format="json")
    assert response.status_code == 403

    # The reviewer rejects one with a comment, accepts another.
    response = developer_client.post(tasks_url(dataset, f"{task['id']}/items/review/"), {"decisions": [
        {"id": mine[0]["id"], "result": "rejected"},
    ]}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "decisions.0.comment"
    response = developer_client.post(tasks_url(dataset, f"{task['id']}/items/review/"), {"decisions": [
        {"id": mine[0]["id"], "result": "rejected", "comment": "that is a dog"},
        {"id": theirs[0]["id"], "result": "accepted"},
    ]}, format="json")
    assert response.status_code == 200, response.json()
    accepted = Sample.objects.get(pk=theirs[0]["sample"]["id"])
    assert accepted.status == "accepted"
    assert [a["name"] for a in accepted.annotations] == ["dog"]
    assert accepted.annotated_by == bob.username
    rejected = Sample.objects.get(pk=mine[0]["sample"]["id"])
    assert (rejected.status, rejected.annotations) == ("rejected", [])

    # The rejected item is back with its annotator, with the comment; she fixes and resubmits.
    back = items(alice_client, dataset, task["id"], status="rejected")
    assert [(i["id"], i["review_comment"]) for i in back] == [(mine[0]["id"], "that is a dog")]
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/annotate/"), {"submit": True, "items": [
        {"id": mine[0]["id"], "annotations": [{"name": "dog"}]},
    ]}, format="json")
    assert response.status_code == 200, response.json()

    body = developer_client.get(tasks_url(dataset, f"{task['id']}/")).json()
    assert body["progress"] == {"total": 5, "assigned": 0, "submitted": 4, "accepted": 1, "rejected": 0}
    stats = {a["username"]: a for a in body["annotators"]}
    assert (stats[alice.username]["submitted"], stats[bob.username]["accepted"]) == (3, 1)

    # A spot-check draws a share of the submitted items; then all submitted are accepted.
    sampled = developer_client.post(tasks_url(dataset, f"{task['id']}/items/review-sample/"),
                                    {"percent": 50, "seed": 1}, format="json").json()
    assert sampled["count"] == 2 and {i["status"] for i in sampled["items"]} == {"submitted"}
    response = developer_client.post(tasks_url(dataset, f"{task['id']}/items/review/"),
                                     {"accept_all_submitted": True}, format="json")
    assert response.json()["count"] == 4
    body = developer_client.get(tasks_url(dataset, f"{task['id']}/")).json()
    assert body["status"] == "completed" and body["completed_at"]
    assert body["progress"]["accepted"] == 5
    dataset.refresh_from_db()
    assert (dataset.sample_count, dataset.labelled_count) == (6, 6)
    cats = Sample.objects.filter(dataset=dataset, label_rows__name="cat").count()
    assert cats == 2
    response = alice_client.post(tasks_url(dataset, f"{task['id']}/items/submit/"),
                                 {"ids": [mine[1]["id"]]}, format="json")
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "illegal_transition"


def test_assignees_must_be_members_who_may_annotate(workspace, developer_client, dataset, team):
    alice, *_ = team
    viewer = member_of(workspace, Role.VIEWER)
    outsider = member_of(DatasetFactory().workspace, Role.ANNOTATOR)
    response = developer_client.post(tasks_url(dataset), {
        "name": "t", "assignees": [alice.username, viewer.username, outsider.username],
    }, format="json")
    assert response.status_code == 400
    errors = {e["attr"]: e["detail"] for e in response.json()["errors"]}
    assert set(errors) == {"assignees.1", "assignees.2"}
    assert "annotator role" in errors["assignees.1"]
    response = client_for(alice).post(tasks_url(dataset), {"name": "t", "assignees": [alice.username]}, format="json")
    assert response.status_code == 403


def test_filtered_scope_and_no_sample_in_two_active_tasks(workspace, developer_client, dataset, team):
    alice, bob, *_ = team
    first = developer_client.post(tasks_url(dataset), {
        "name": "one", "scope": "filter", "filters": {"source": "s3://data/"}, "assignees": [alice.username],
    }, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["progress"]["total"] == 6
    second = developer_client.post(tasks_url(dataset), {"name": "two", "scope": "all", "assignees": [bob.username]},
                                   format="json")
    assert second.status_code == 400 and second.json()["errors"][0]["attr"] == "scope"
    assert developer_client.delete(tasks_url(dataset, f"{first.json()['id']}/")).status_code == 204
    assert not AnnotationItem.objects.exists()
    second = developer_client.post(tasks_url(dataset), {"name": "two", "scope": "all", "assignees": [bob.username]},
                                   format="json")
    assert second.status_code == 201


def test_task_list_shows_progress_in_a_fixed_number_of_queries(workspace, developer_client, dataset, team):
    alice, *_ = team
    for n in range(3):
        SampleFactory(dataset=dataset)
        developer_client.post(tasks_url(dataset), {"name": f"t{n}", "scope": "unlabelled",
                                                   "assignees": [alice.username]}, format="json")
    counts = []
    for size in (1, 3):
        with CaptureQueriesContext(connection) as ctx:
            body = developer_client.get(tasks_url(dataset), {"page_size": size}).json()
        assert len(body["results"]) == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert sorted(t["progress"]["total"] for t in body["results"]) == [1, 1, 7]


def test_another_tenants_task_is_not_found(workspace, developer_client, dataset):
    their_dataset = DatasetFactory()
    their_annotator = member_of(their_dataset.workspace, Role.ANNOTATOR)
    SampleFactory(dataset=their_dataset)
    their_owner = client_for(member_of(their_dataset.workspace, Role.OWNER))
    task_id = their_owner.post(tasks_url(their_dataset), {"name": "t", "assignees": [their_annotator.username]},
                               format="json").json()["id"]
    assert developer_client.get(tasks_url(dataset, f"{task_id}/")).status_code == 404
    assert developer_client.get(tasks_url(dataset, f"{task_id}/items/")).status_code == 404
    assert developer_client.post(tasks_url(dataset, f"{task_id}/items/review/"), {"accept_all_submitted": True},
                                 format="json").status_code == 404

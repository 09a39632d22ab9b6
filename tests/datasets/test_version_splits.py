"""A version's split (by ratio, seeded, stratified by label) and its statistics, through the API."""

import json

import pytest

from datasets import tasks
from datasets.models import Sample
from datasets.splits import Statistics, hashed_split, stratified_eval_ids
from tests.datasets.factories import DatasetFactory
from tests.factories import workspace_storage

pytestmark = pytest.mark.django_db


def dataset_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/{suffix}"


def box(name, size=10, by="alice"):
    return {"name": name, "type": "modelarts/object_detection", "annotated-by": by,
            "box": {"xmin": 0, "ymin": 0, "xmax": size, "ymax": size}}


@pytest.fixture
def detection(workspace, local_root):
    """80 cats and 20 dogs (every fifth cat with a second box), 10 unlabelled, 5 marked EVAL by hand."""
    workspace_storage(local_root, workspace)
    dataset = DatasetFactory(workspace=workspace, type="object_detection", output_uri=f"file://ws-{workspace.pk}/out")
    for n in range(115):
        if n < 80:
            annotations = [box("cat")] + ([box("dog", by="bob")] if n % 5 == 0 else [])
        elif n < 100:
            annotations = [box("dog", by="bob")]
        else:
            annotations = [box("cat")] if n >= 110 else []
        Sample.objects.create(dataset=dataset, source=f"s3://data/{n:03d}.jpg", annotations=annotations,
                              metadata={"width": 100 + n, "height": 50 + n}, status="labelled" if annotations
                              else "unlabelled", usage="eval" if n >= 110 else "none")
    return dataset


def publish(client, dataset, body):
    response = client.post(dataset_url(dataset, "versions/"), body, format="json")
    assert response.status_code == 202, response.json()
    tasks.publish_version(response.json()["id"])
    version = client.get(dataset_url(dataset, f"versions/{response.json()['id']}/")).json()
    assert version["status"] == "ready", version
    return version


def manifest_usage(local_root, version):
    path = local_root / version["manifest_uri"].removeprefix("file://")
    return {line["source"]: line.get("usage") for line in map(json.loads, path.read_text().splitlines())}


def test_a_stratified_seeded_split_keeps_each_labels_proportion(developer_client, detection, local_root):
    body = {"name": "v1", "train_ratio": "0.75", "seed": 7, "stratified": True}
    version = publish(developer_client, detection, body)
    assert (version["seed"], version["stratified"]) == (7, True)
    stats = version["statistics"]
    # 80 cats: 20 EVAL; 20 dogs: 5 EVAL; the 5 marked EVAL by hand stay so; unlabelled ones are not split.
    assert stats["splits"] == {"EVAL": 30, "NONE": 10, "TRAIN": 75}
    # A sample counts under its first label: the 16 cats that show a dog too are split as cats.
    assert stats["labels"]["cat"]["EVAL"] == 20 + 5 and sum(stats["labels"]["dog"].values()) == 36
    assert (version["train_count"], version["eval_count"]) == (75, 30)
    first = manifest_usage(local_root, version)
    cats_eval = sum(1 for n in range(80) if first[f"s3://data/{n:03d}.jpg"] == "EVAL")
    dogs_eval = sum(1 for n in range(80, 100) if first[f"s3://data/{n:03d}.jpg"] == "EVAL")
    assert (cats_eval, dogs_eval) == (20, 5)
    assert all(first[f"s3://data/{n:03d}.jpg"] == "EVAL" for n in range(110, 115))
    assert all(first[f"s3://data/{n:03d}.jpg"] is None for n in range(100, 110))

    # The same seed draws the same split; another seed another one, in the same proportions.
    again = manifest_usage(local_root, publish(developer_client, detection, {**body, "name": "v2"}))
    assert again == first
    other = publish(developer_client, detection, {**body, "name": "v3", "seed": 8})
    assert other["statistics"]["splits"] == stats["splits"]
    assert manifest_usage(local_root, other) != first


def test_a_versions_statistics(developer_client, detection):
    version = publish(developer_client, detection, {"name": "v1", "train_ratio": "0.5", "seed": 1})
    stats = version["statistics"]
    assert stats["boxes"] == {"total": 121, "images": 105, "most_per_image": 2, "mean_per_image": 1.152,
                              "images_by_count": {"1": 89, "2": 16}}
    assert stats["image_sizes"] == {"width": {"min": 100, "max": 214}, "height": {"min": 50, "max": 164}}
    assert stats["annotators"] == {"alice": 85, "bob": 36}
    assert sum(stats["splits"].values()) == 115 and stats["splits"]["NONE"] == 10
    assert version["label_stats"] == {"cat": 85, "dog": 36}


def test_split_requests_are_checked(developer_client, detection):
    for body, attr in (({"name": "v", "seed": -1}, "seed"), ({"name": "v", "stratified": "maybe"}, "stratified"),
                       ({"name": "v", "seed": 2 ** 31}, "seed")):
        response = developer_client.post(dataset_url(detection, "versions/"), body, format="json")
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == attr, response.json()


def test_stratified_eval_ids_rounds_each_group():
    groups = {"a": range(1, 11), "b": range(11, 14), "c": [20]}
    chosen = stratified_eval_ids(groups, train_ratio=0.7, seed=3)
    assert len(chosen & set(range(1, 11))) == 3 and len(chosen & {11, 12, 13}) == 1 and 20 not in chosen
    assert chosen == stratified_eval_ids(groups, train_ratio=0.7, seed=3)
    assert stratified_eval_ids(groups, train_ratio=1, seed=3) == set()


def test_a_seeded_split_without_strata_comes_near_the_ratio():
    draws = [hashed_split(n, 0.8, 42) for n in range(10_000)]
    assert 7_700 < draws.count("TRAIN") < 8_300
    assert draws == [hashed_split(n, 0.8, 42) for n in range(10_000)]
    assert draws != [hashed_split(n, 0.8, 43) for n in range(10_000)]


def test_statistics_of_nothing():
    assert Statistics().as_dict()["boxes"] == {"total": 0, "images": 0, "most_per_image": 0, "mean_per_image": 0,
                                              "images_by_count": {}}

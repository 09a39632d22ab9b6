"""Exports in COCO, Pascal VOC, YOLO, Label Studio and CSV: written by the export task to storage,
downloaded through the task's link, and read back by the importers (round trips)."""

import io
import json
import tarfile
import tracemalloc
import urllib.request

import pytest

from datasets import tasks, writers
from datasets.manifest import ManifestSample
from datasets.models import Sample
from tests.datasets.factories import DatasetFactory
from tests.datasets.test_import_formats import COCO, png, put, run_import
from tests.factories import connect_bucket, workspace_storage

pytestmark = pytest.mark.django_db


def dataset_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/{suffix}"


@pytest.fixture
def own(local_root, workspace):
    return workspace_storage(local_root, workspace), f"file://ws-{workspace.pk}"


def run_export(client, dataset, body):
    response = client.post(dataset_url(dataset, "export-tasks/"), body, format="json")
    assert response.status_code == 202, response.json()
    tasks.run_export(response.json()["id"])
    task = client.get(dataset_url(dataset, f"export-tasks/{response.json()['id']}/")).json()
    assert task["status"] == "succeeded", task
    return task


def download(client, task) -> bytes:
    """The export, through its download link (served by the API for the embedded storage)."""
    return b"".join(client.get(task["result_url"]).streaming_content)


def kept(sample):
    """What a round trip keeps of a sample: its source, size and labelled boxes."""
    return sample.source, {k: sample.metadata.get(k) for k in ("width", "height")}, [
        {k: a.get(k) for k in ("name", "box", "iscrowd", "segmentation")} for a in sample.annotations]


def test_coco_round_trip_import_export_and_import_again(workspace, developer_client, own):
    folder, root = own
    put(folder, "coco/annotations/instances.json", json.dumps(COCO))
    source = DatasetFactory(workspace=workspace, type="object_detection", labels=[], output_uri=f"{root}/out")
    run_import(developer_client, source, {"kind": "coco", "source_uri": f"{root}/coco/annotations/instances.json"})
    task = run_export(developer_client, source, {"format": "coco", "target_uri": f"{root}/exports/"})
    assert task["result_uri"] == f"{root}/exports/{source.name}-{task['id']}.json"
    assert (task["format"], task["sample_count"], task["incomplete_count"]) == ("coco", 2, 0)
    document = json.loads(download(developer_client, task))
    assert [c["name"] for c in document["categories"]] == ["cat", "dog"]
    assert [(i["file_name"], i["width"], i["height"]) for i in document["images"]] == [
        (f"{root}/coco/a.jpg", 640, 480), (f"{root}/coco/g.jpg", 100, 100)]
    original = {a["id"]: a for a in COCO["annotations"]}
    assert [(a["image_id"], a["category_id"], a["bbox"], a["iscrowd"], a["segmentation"])
            for a in document["annotations"]] == [
        (1, 1, original[10]["bbox"], 0, original[10]["segmentation"]),
        (1, 2, original[11]["bbox"], 1, original[11]["segmentation"]),
        (2, 2, original[16]["bbox"], 0, []),
    ]

    # The exported file imports into another dataset as the same samples.
    copy = DatasetFactory(workspace=workspace, type="object_detection", labels=[])
    imported = run_import(developer_client, copy, {"kind": "auto", "source_uri": task["result_uri"]})
    assert (imported["kind"], imported["added"], imported["failed"]) == ("coco", 2, 0), imported
    before = sorted(map(kept, Sample.objects.filter(dataset=source)))
    after = sorted(map(kept, Sample.objects.filter(dataset=copy)))
    assert before == after

    # From a published version, to a named file.
    version = developer_client.post(dataset_url(source, "versions/"), {"name": "v1"}, format="json").json()
    tasks.publish_version(version["id"])
    task = run_export(developer_client, source, {"format": "coco", "version": version["id"],
                                                 "target_uri": f"{root}/exports/v1.json"})
    assert task["result_uri"] == f"{root}/exports/v1.json"
    assert json.loads((folder / "exports" / "v1.json").read_bytes()) == document


def yolo_dataset(workspace, root):
    dataset = DatasetFactory(workspace=workspace, type="object_detection",
                             labels=[{"name": "cat"}, {"name": "dog"}])
    for name, size, boxes in (
        ("a.png", {"width": 200, "height": 100}, [("dog", {"xmin": 50, "ymin": 25, "xmax": 150, "ymax": 75})]),
        ("b.png", {"width": 10, "height": 10}, []),
        ("c.png", {}, [("cat", {"xmin": 1, "ymin": 1, "xmax": 2, "ymax": 2})]),
    ):
        Sample.objects.create(dataset=dataset, source=f"{root}/pics/{name}", metadata=size, status="labelled",
                              annotations=[{"name": n, "type": "modelarts/object_detection", "box": b}
                                           for n, b in boxes])
    return dataset


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_yolo_export_is_an_archive_the_yolo_import_reads_back(workspace, developer_client, own):
    folder, root = own
    dataset = yolo_dataset(workspace, root)
    task = run_export(developer_client, dataset, {"format": "yolo", "target_uri": f"{root}/exports/y.tar"})
    assert (task["sample_count"], task["incomplete_count"]) == (3, 1)  # c.png's box: its size is unknown
    files = members(download(developer_client, task))
    bucket = f"ws-{workspace.pk}"
    assert sorted(files) == ["data.yaml", "images.txt", *(f"labels/{bucket}/pics/{n}.txt" for n in "abc")]
    assert files["data.yaml"].decode().endswith('names:\n  0: "cat"\n  1: "dog"\n')
    assert files[f"labels/{bucket}/pics/a.txt"] == b"1 0.500000 0.500000 0.500000 0.500000\n"
    assert files[f"labels/{bucket}/pics/b.txt"] == b""
    assert files["images.txt"].decode().splitlines() == [f"images/{bucket}/pics/{n}.png" for n in "abc"]

    # Unpacked beside the images (as `images/<bucket>/<key>`), it imports as the same boxes.
    for name, data in files.items():
        put(folder, f"unpacked/{name}", data)
    put(folder, f"unpacked/images/{bucket}/pics/a.png", png(200, 100))
    copy = DatasetFactory(workspace=workspace, type="object_detection", labels=[])
    imported = run_import(developer_client, copy, {"kind": "yolo", "source_uri": f"{root}/unpacked/"})
    assert (imported["added"], imported["failed"]) == (1, 2)  # b and c: label files without their images
    assert [e["path"] for e in imported["errors"]] == [f"{root}/unpacked/labels/{bucket}/pics/{n}.txt" for n in "bc"]
    sample = Sample.objects.get(dataset=copy)
    assert [(a["name"], a["box"]) for a in sample.annotations] == [
        ("dog", {"xmin": 50, "ymin": 25, "xmax": 150, "ymax": 75})]


def test_voc_export_writes_an_xml_file_per_sample_that_the_voc_import_reads(workspace, developer_client, own):
    folder, root = own
    dataset = yolo_dataset(workspace, root)
    task = run_export(developer_client, dataset, {"format": "voc"})
    assert task["result_uri"] == f"{root}/exports/{dataset.name}-{task['id']}.tar"
    files = members(download(developer_client, task))
    bucket = f"ws-{workspace.pk}"
    assert sorted(files) == [f"Annotations/{bucket}/pics/{n}.xml" for n in "abc"]
    for name, data in files.items():
        put(folder, f"voc/{name.rsplit('/', 1)[-1]}", data)
    copy = DatasetFactory(workspace=workspace, type="object_detection", labels=[])
    imported = run_import(developer_client, copy, {"kind": "voc", "source_uri": f"{root}/voc/",
                                                   "options": {"images_uri": f"{root}/pics/"}})
    assert (imported["added"], imported["failed"]) == (2, 1), imported
    assert "<size> needs a positive <width>" in imported["errors"][0]["reason"]
    assert sorted(map(kept, Sample.objects.filter(dataset=copy))) == [
        (f"{root}/pics/a.png", {"width": 200, "height": 100},
         [{"name": "dog", "box": {"xmin": 50, "ymin": 25, "xmax": 150, "ymax": 75}, "iscrowd": None,
           "segmentation": None}]),
        (f"{root}/pics/b.png", {"width": 10, "height": 10}, []),
    ]


def test_label_studio_and_csv_round_trips_for_text(workspace, developer_client, own):
    _, root = own
    dataset = DatasetFactory(workspace=workspace, type="text_classification", labels=[{"name": "sport"}])
    for text, label in (("Goal, late", "sport"), ("quiet \"day\"\nindeed", None)):
        Sample.objects.create(dataset=dataset, source=f"content://{text}", metadata={"text": text},
                              annotations=[{"name": label, "type": "modelarts/text_classification",
                                            "confidence": 0.5}] if label else [])
    for fmt in ("label_studio", "csv"):
        task = run_export(developer_client, dataset, {"format": fmt})
        copy = DatasetFactory(workspace=workspace, type="text_classification", labels=[])
        imported = run_import(developer_client, copy, {"kind": fmt, "source_uri": task["result_uri"]})
        assert (imported["added"], imported["failed"]) == (2, 0), imported
        assert sorted((s.source, [a["name"] for a in s.annotations]) for s in Sample.objects.filter(dataset=copy)) == [
            ("content://Goal, late", ["sport"]), ("content://quiet \"day\"\nindeed", [])]


def test_label_studio_boxes_round_trip(workspace, developer_client, own):
    _, root = own
    dataset = yolo_dataset(workspace, root)
    task = run_export(developer_client, dataset, {"format": "label_studio"})
    assert task["incomplete_count"] == 1
    copy = DatasetFactory(workspace=workspace, type="object_detection", labels=[])
    imported = run_import(developer_client, copy, {"kind": "label_studio", "source_uri": task["result_uri"]})
    assert (imported["added"], imported["failed"]) == (3, 0), imported
    a = Sample.objects.get(dataset=copy, source=f"{root}/pics/a.png")
    assert [(x["name"], x["box"]) for x in a.annotations] == [
        ("dog", {"xmin": 50, "ymin": 25, "xmax": 150, "ymax": 75})]


def test_an_export_to_s3_has_a_presigned_link(workspace, developer_client, s3):
    s3.create_bucket(Bucket="exports")
    connect_bucket(workspace.account, "exports")
    dataset = yolo_dataset(workspace, f"file://ws-{workspace.pk}")
    task = run_export(developer_client, dataset, {"format": "coco", "target_uri": "s3://exports/out/"})
    with urllib.request.urlopen(task["result_url"], timeout=10) as response:
        assert len(json.loads(response.read())["images"]) == 3
    for item in s3.list_objects_v2(Bucket="exports").get("Contents", []):
        s3.delete_object(Bucket="exports", Key=item["Key"])
    s3.delete_bucket(Bucket="exports")


def test_export_formats_must_fit_the_dataset(workspace, developer_client, own):
    dataset = DatasetFactory(workspace=workspace, type="text_classification")
    for fmt in ("coco", "voc", "yolo"):
        response = developer_client.post(dataset_url(dataset, "export-tasks/"), {"format": fmt}, format="json")
        assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "format", response.json()
    response = developer_client.post(dataset_url(dataset, "export-tasks/"), {"format": "tfrecord"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "format"


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc", "label_studio"])
def test_writers_stream_in_flat_memory(fmt):
    """Memory does not grow with the samples: from 20,000 to 60,000 samples the output triples
    (tens of MB for the archives) and the peak grows by at most the size of a chunk."""
    def samples(count):
        for n in range(count):
            yield ManifestSample(source=f"s3://b/images/{n:07d}.jpg", property={"width": 640, "height": 480},
                                 annotation=[{"name": "cat", "type": "modelarts/object_detection",
                                              "box": {"xmin": 1, "ymin": 2, "xmax": 300, "ymax": 400}}])

    peaks = []
    for count in (20_000, 60_000):
        tracemalloc.start()
        size = sum(map(len, writers.write(fmt, samples(count), labels=["cat"], dataset_type="object_detection",
                                          tally=writers.Tally())))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert size > count * 20
    assert peaks[1] < peaks[0] + 1.5 * writers.CHUNK_BYTES, peaks


def test_tar_headers_hold_long_and_unusual_names():
    names = ["data.yaml", "labels/" + "d/" * 60 + "x.txt", "labels/" + "n" * 120 + ".txt", "labels/ünïcode.txt"]
    archive = b"".join(writers._member(name, name.encode()) for name in names) + writers._end_of_archive()
    assert members(archive) == {name: name.encode() for name in names}


def test_rows_read_as_text_equal_the_orms_rows(workspace):
    """The oracle of services._rows: its JSON columns, read as text and decoded by orjson, equal
    what the ORM's values() gives, for unicode, integers beyond 64 bits, floats and nesting."""
    from datasets.services import MANIFEST_FIELDS, _rows

    dataset = DatasetFactory(workspace=workspace)
    for n, (metadata, annotations) in enumerate([
        ({"width": 640, "height": 480}, []),
        ({"text": "ünïcödé ✓ \"quoted\"\n", "big": 2 ** 70, "small": -(2 ** 65)},
         [{"name": "cat", "confidence": 0.125, "box": {"xmin": 1.5, "ymin": 0, "xmax": 1e-9, "ymax": 3e20}}]),
        ({}, [{"name": "dog", "segmentation": [[1, 2, 3]], "nested": {"a": [None, True, False, {}]}}]),
    ]):
        Sample.objects.create(dataset=dataset, source=f"s3://data/{n}.jpg", metadata=metadata,
                              annotations=annotations, usage=["none", "train", "eval"][n])
    queryset = Sample.objects.filter(dataset=dataset)
    expected = list(queryset.order_by("position").values(*MANIFEST_FIELDS))
    assert list(_rows(queryset)) == expected
    assert expected[1]["metadata"]["big"] == 2 ** 70

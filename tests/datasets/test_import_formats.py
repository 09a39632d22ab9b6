"""Imports in COCO, Pascal VOC, YOLO, Label Studio and CSV/TSV through the import task: its counts,
its per-record errors with their paths, its label policy and its idempotent re-runs. The files are
made here, in the embedded storage and on the local S3 server."""

import json
import struct

import pytest

from datasets import tasks
from datasets.formats import header_size, option_errors
from datasets.models import ImportTask, Sample
from tests.datasets.factories import DatasetFactory
from tests.factories import connect_bucket, workspace_storage

pytestmark = pytest.mark.django_db


def dataset_url(dataset, suffix=""):
    return f"/api/v1/workspaces/{dataset.workspace_id}/datasets/{dataset.id}/{suffix}"


@pytest.fixture
def own(local_root, workspace):
    """(the workspace's own folder in the embedded storage, its URI)."""
    return workspace_storage(local_root, workspace), f"file://ws-{workspace.pk}"


def put(folder, path, content):
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content if isinstance(content, bytes) else content.encode())


def run_import(client, dataset, body):
    response = client.post(dataset_url(dataset, "import-tasks/"), body, format="json")
    assert response.status_code == 202, response.json()
    tasks.run_import(response.json()["id"])
    return client.get(dataset_url(dataset, f"import-tasks/{response.json()['id']}/")).json()


def samples(dataset):
    return {s.source: s for s in Sample.objects.filter(dataset=dataset)}


def counts(task):
    return task["total"], task["processed"], task["added"], task["skipped"], task["failed"]


def png(width, height):
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", width, height) + b"\x08\x02"


def jpeg(width, height):
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, height, width) + b"\x03" + b"\x00" * 9
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def detection_dataset(workspace, **fields):
    return DatasetFactory(workspace=workspace, type="object_detection", labels=[], **fields)


# --- COCO -----------------------------------------------------------------------------------------

COCO = {
    "images": [
        {"id": 1, "file_name": "a.jpg", "width": 640, "height": 480},
        {"id": 2, "file_name": "b.jpg", "width": 100, "height": 100},
        {"id": 3, "file_name": "c.jpg", "width": 100, "height": 100},
        {"id": 1, "file_name": "again.jpg", "width": 10, "height": 10},
        {"id": 4, "file_name": "d.jpg", "width": -5, "height": 100},
        {"id": 5, "file_name": "e.jpg", "width": 100, "height": 100},
        {"id": 6, "file_name": "../../escape.jpg", "width": 100, "height": 100},
        {"id": 7, "file_name": "g.jpg", "width": 100, "height": 100},
    ],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    "annotations": [
        {"id": 10, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 50], "iscrowd": 0,
         "segmentation": [[10, 20, 110, 20, 110, 70]]},
        {"id": 11, "image_id": 1, "category_id": 2, "bbox": [0.5, 1.5, 20, 30], "iscrowd": 1,
         "segmentation": {"counts": [1, 2], "size": [480, 640]}},
        {"id": 12, "image_id": 2, "category_id": 9, "bbox": [0, 0, 10, 10]},
        {"id": 13, "image_id": 3, "category_id": 1, "bbox": [50, 50, 80, 10]},
        {"id": 14, "image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1]},
        {"id": 15, "image_id": 5, "category_id": 2, "bbox": [0, 0, -3, 10]},
        {"id": 16, "image_id": 7, "category_id": 2, "bbox": [1, 2, 3, 4]},
    ],
}


def test_coco_imports_boxes_crowds_and_polygons_and_names_each_bad_record(workspace, developer_client, own):
    folder, root = own
    put(folder, "coco/annotations/instances.json", json.dumps(COCO))
    dataset = detection_dataset(workspace)
    uri = f"{root}/coco/annotations/instances.json"
    task = run_import(developer_client, dataset, {"kind": "coco", "source_uri": uri})
    assert task["status"] == "succeeded", task
    assert counts(task) == (9, 9, 2, 0, 7)
    assert [(e["line"], e["path"]) for e in task["errors"]] == [
        (2, f"{uri}#/annotations/2"), (3, f"{uri}#/annotations/3"), (4, f"{uri}#/images/3"), (5, f"{uri}#/images/4"),
        (6, f"{uri}#/annotations/5"), (7, f"{uri}#/images/6"), (9, f"{uri}#/annotations/4"),
    ]
    reasons = [e["reason"] for e in task["errors"]]
    assert "category_id 9 is not among the categories" in reasons[0]
    assert "outside the 100x100 image" in reasons[1]
    assert "image id 1 is listed twice (first at #/images/0)" in reasons[2]
    assert "positive 'width' and 'height'" in reasons[3]
    assert "width and height must be positive" in reasons[4]
    assert "'../../escape.jpg' leaves the folder" in reasons[5]
    assert "image_id 99 is not among the images" in reasons[6]
    # The images' folder is the annotations folder's parent; a file_name that climbs out of it is
    # a bad record, never followed.
    found = samples(dataset)
    assert sorted(found) == [f"{root}/coco/a.jpg", f"{root}/coco/g.jpg"]
    first = found[f"{root}/coco/a.jpg"]
    assert first.metadata == {"width": 640, "height": 480}
    assert [(a["name"], a["box"], a["iscrowd"], a["segmentation"]) for a in first.annotations] == [
        ("cat", {"xmin": 10, "ymin": 20, "xmax": 110, "ymax": 70}, 0, [[10, 20, 110, 20, 110, 70]]),
        ("dog", {"xmin": 0.5, "ymin": 1.5, "xmax": 20.5, "ymax": 31.5}, 1, {"counts": [1, 2], "size": [480, 640]}),
    ]
    assert first.annotations[0]["type"] == "modelarts/object_detection"
    dataset.refresh_from_db()
    assert sorted(label["name"] for label in dataset.labels) == ["cat", "dog"]

    again = run_import(developer_client, dataset, {"kind": "coco", "source_uri": uri})
    assert (again["added"], again["skipped"], again["failed"]) == (0, 2, 7)
    assert Sample.objects.filter(dataset=dataset).count() == 2


@pytest.mark.parametrize(("content", "reason"), [
    (b'{"images": [', "is not valid JSON"),
    (b'{"annotations": []}', "is not a COCO file"),
    (b'{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}', "listed twice"),
])
def test_a_coco_file_that_is_no_coco_file_fails_the_import_and_imports_nothing(workspace, developer_client, own,
                                                                               content, reason):
    folder, root = own
    put(folder, "bad.json", content)
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": "coco", "source_uri": f"{root}/bad.json"})
    assert task["status"] == "failed" and reason in task["error"], task
    assert not Sample.objects.filter(dataset=dataset).exists()


def test_coco_on_s3_with_images_elsewhere_and_labels_refused(workspace, developer_client, s3):
    s3.create_bucket(Bucket="cocodata")
    connect_bucket(workspace.account, "cocodata")
    s3.put_object(Bucket="cocodata", Key="ann.json", Body=json.dumps(COCO).encode())
    dataset = DatasetFactory(workspace=workspace, type="object_detection", labels=[{"name": "cat"}])
    task = run_import(developer_client, dataset, {
        "kind": "coco", "source_uri": "s3://cocodata/ann.json", "new_labels": "refuse",
        "options": {"images_uri": "s3://cocodata/images/"}})
    assert task["status"] == "succeeded", task
    # a.jpg and g.jpg, the good images, are refused too: they show a dog, not in the label set.
    assert (task["added"], task["failed"]) == (0, 9)
    assert "label 'dog' is not in the dataset's label set" in task["errors"][0]["reason"]
    dataset.refresh_from_db()
    assert [label["name"] for label in dataset.labels] == ["cat"]
    for item in s3.list_objects_v2(Bucket="cocodata").get("Contents", []):
        s3.delete_object(Bucket="cocodata", Key=item["Key"])
    s3.delete_bucket(Bucket="cocodata")


# --- Pascal VOC -----------------------------------------------------------------------------------


def voc(filename, objects, width=200, height=100):
    boxes = "".join(
        f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
        f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
        for name, (x0, y0, x1, y1), difficult in objects
    )
    return (f"<annotation><folder>VOC</folder><filename>{filename}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{boxes}</annotation>")


def test_voc_folders_import_with_their_images_beside_and_bad_files_named(workspace, developer_client, own):
    folder, root = own
    put(folder, "VOC/Annotations/1.xml", voc("1.jpg", [("cat", (1, 2, 30, 40), 0), ("dog", (5, 5, 200, 100), 1)]))
    put(folder, "VOC/Annotations/2.xml", voc("2.jpg", [("cat", (1, 2, 300, 40), 0)]))
    put(folder, "VOC/Annotations/3.xml", "<annotation><filename>3.jpg</filename>")
    put(folder, "VOC/Annotations/4.xml", '<!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><annotation>&x;</annotation>')
    put(folder, "VOC/Annotations/5.xml", voc("5.jpg", []))
    put(folder, "VOC/JPEGImages/1.jpg", b"not read")
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": "voc", "source_uri": f"{root}/VOC/"})
    assert task["status"] == "succeeded", task
    assert counts(task) == (5, 5, 2, 0, 3)
    assert [e["path"] for e in task["errors"]] == [f"{root}/VOC/Annotations/{n}.xml" for n in (2, 3, 4)]
    assert "outside the 200x100 image" in task["errors"][0]["reason"]
    assert "not well-formed XML" in task["errors"][1]["reason"]
    assert "DOCTYPE" in task["errors"][2]["reason"]
    found = samples(dataset)
    assert sorted(found) == [f"{root}/VOC/JPEGImages/1.jpg", f"{root}/VOC/JPEGImages/5.jpg"]
    first = found[f"{root}/VOC/JPEGImages/1.jpg"]
    assert first.metadata == {"width": 200, "height": 100}
    assert [(a["name"], a["box"], a["difficult"]) for a in first.annotations] == [
        ("cat", {"xmin": 1, "ymin": 2, "xmax": 30, "ymax": 40}, 0),
        ("dog", {"xmin": 5, "ymin": 5, "xmax": 200, "ymax": 100}, 1),
    ]
    assert found[f"{root}/VOC/JPEGImages/5.jpg"].status == "unlabelled"
    again = run_import(developer_client, dataset, {"kind": "voc", "source_uri": f"{root}/VOC/"})
    assert (again["added"], again["skipped"]) == (0, 2)


# --- YOLO -----------------------------------------------------------------------------------------


def test_yolo_turns_normalised_boxes_into_pixels_with_the_image_size_from_its_header(workspace, developer_client,
                                                                                     own):
    folder, root = own
    put(folder, "y/data.yaml", "path: .\nnames:\n  0: cat\n  1: dog\n")
    put(folder, "y/images/train/a.png", png(200, 100))
    put(folder, "y/labels/train/a.txt", "0 0.5 0.5 0.5 0.5\n\n1 0.25 0.25 0.5 0.5\n")
    put(folder, "y/images/train/b.jpg", jpeg(640, 480))
    put(folder, "y/labels/train/b.txt", "1 0.5 0.5 0.1 0.1\n")
    put(folder, "y/images/train/c.jpg", jpeg(10, 10))  # no label file: a background image
    put(folder, "y/images/train/d.png", png(10, 10))
    put(folder, "y/labels/train/d.txt", "0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n")
    put(folder, "y/images/train/e.jpg", b"no image at all")
    put(folder, "y/labels/train/e.txt", "0 0.5 0.5 0.1 0.1\n")
    put(folder, "y/images/train/f.png", png(10, 10))
    put(folder, "y/labels/train/f.txt", "0 1.5 0.5 0.1 0.1\n")
    put(folder, "y/labels/train/lost.txt", "0 0.5 0.5 0.1 0.1\n")
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": "yolo", "source_uri": f"{root}/y/"})
    assert task["status"] == "succeeded", task
    assert counts(task) == (7, 7, 3, 0, 4)
    labels = f"{root}/y/labels/train"
    assert [e["path"] for e in task["errors"]] == [
        f"{labels}/d.txt:2", f"{root}/y/images/train/e.jpg", f"{labels}/f.txt:1", f"{labels}/lost.txt"]
    assert "class 7 is not among the 2 class names" in task["errors"][0]["reason"]
    assert "size could not be read" in task["errors"][1]["reason"]
    assert "normalised" in task["errors"][2]["reason"]
    assert "no image" in task["errors"][3]["reason"]
    found = samples(dataset)
    a = found[f"{root}/y/images/train/a.png"]
    assert (a.metadata["width"], a.metadata["height"]) == (200, 100)
    assert [(x["name"], x["box"]) for x in a.annotations] == [
        ("cat", {"xmin": 50, "ymin": 25, "xmax": 150, "ymax": 75}),
        ("dog", {"xmin": 0, "ymin": 0, "xmax": 100, "ymax": 50}),
    ]
    b = found[f"{root}/y/images/train/b.jpg"]
    assert b.annotations[0]["box"] == {"xmin": 288, "ymin": 216, "xmax": 352, "ymax": 264}
    assert found[f"{root}/y/images/train/c.jpg"].annotations == []
    dataset.refresh_from_db()
    assert [label["name"] for label in dataset.labels] == ["cat", "dog"]


def test_yolo_needs_its_class_names(workspace, developer_client, own):
    folder, root = own
    put(folder, "y/images/a.png", png(5, 5))
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": "yolo", "source_uri": f"{root}/y/"})
    assert task["status"] == "failed" and "No classes.txt or data.yaml" in task["error"]
    put(folder, "y/classes.txt", "cat\ndog\n")
    put(folder, "y/a.txt", "1 0.5 0.5 1 1\n")
    task = run_import(developer_client, dataset, {"kind": "yolo", "source_uri": f"{root}/y/"})
    assert (task["status"], task["added"]) == ("succeeded", 1)
    # a.txt pairs only with an image beside it (outside images/), and outside labels/ it is no label file.
    assert samples(dataset)[f"{root}/y/images/a.png"].annotations == []
    assert task["failed"] == 0


@pytest.mark.parametrize(("data", "size"), [
    (png(3000, 2000), (3000, 2000)),
    (jpeg(641, 479), (641, 479)),
    (b"GIF89a" + struct.pack("<HH", 12, 34), (12, 34)),
    (b"BM" + b"\x00" * 16 + struct.pack("<ii", 80, -60), (80, 60)),
    (b"RIFF\x00\x00\x00\x00WEBPVP8X" + b"\x00" * 8 + (99).to_bytes(3, "little") + (49).to_bytes(3, "little"),
     (100, 50)),
    (b"plain text", None),
    (png(1, 1)[:20], None),
])
def test_image_sizes_come_from_header_bytes(data, size):
    assert header_size(data) == size


# --- Label Studio ---------------------------------------------------------------------------------


def test_label_studio_rectangles_become_pixel_boxes(workspace, developer_client, own):
    folder, root = own
    export = [
        {"id": 1, "data": {"image": f"{root}/ls/1.jpg"}, "annotations": [
            {"was_cancelled": True, "result": []},
            {"result": [{"type": "rectanglelabels", "original_width": 200, "original_height": 100, "score": 0.8,
                         "value": {"x": 10, "y": 20, "width": 50, "height": 50, "rectanglelabels": ["cat"]}}]}]},
        {"id": 2, "data": {"image": "/data/upload/2.jpg"}, "annotations": []},
        {"id": 3, "data": {"image": f"{root}/ls/3.jpg"}, "annotations": [
            {"result": [{"type": "rectanglelabels", "value": {"x": 1, "y": 1, "width": 1, "height": 1,
                                                              "rectanglelabels": ["cat"]}}]}]},
        {"id": 4, "data": {"image": f"{root}/ls/4.jpg"}, "annotations": [
            {"result": [{"type": "polygonlabels", "value": {"points": []}}]}]},
    ]
    put(folder, "ls/export.json", json.dumps(export))
    dataset = detection_dataset(workspace)
    uri = f"{root}/ls/export.json"
    task = run_import(developer_client, dataset, {"kind": "label_studio", "source_uri": uri})
    assert counts(task) == (4, 4, 1, 0, 3), task
    assert [e["path"] for e in task["errors"]] == [f"{uri}#/1", f"{uri}#/2", f"{uri}#/3"]
    assert "give the option images_uri" in task["errors"][0]["reason"]
    assert "original_width" in task["errors"][1]["reason"]
    assert "'polygonlabels' is not imported" in task["errors"][2]["reason"]
    sample = samples(dataset)[f"{root}/ls/1.jpg"]
    assert sample.metadata == {"width": 200, "height": 100}
    assert [(a["name"], a["box"], a["confidence"]) for a in sample.annotations] == [
        ("cat", {"xmin": 20, "ymin": 20, "xmax": 120, "ymax": 70}, 0.8)]

    again = run_import(developer_client, dataset, {"kind": "label_studio", "source_uri": uri,
                                                   "options": {"images_uri": f"{root}/ls/uploads/"}})
    assert (again["added"], again["skipped"], again["failed"]) == (1, 1, 2)
    assert f"{root}/ls/uploads/data/upload/2.jpg" in samples(dataset)


def test_label_studio_choices_and_spans_for_text(workspace, developer_client, own):
    folder, root = own
    text = "Alice met Bob"
    put(folder, "ls/text.json", json.dumps([
        {"data": {"text": "great match"}, "annotations": [
            {"result": [{"type": "choices", "value": {"choices": ["sport"]}}]}]},
        {"data": {"text": "rain later"}, "annotations": []},
        {"data": {"image": "x"}, "annotations": []},
    ]))
    put(folder, "ls/ner.json", json.dumps([
        {"data": {"text": text}, "annotations": [{"result": [
            {"type": "labels", "value": {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]}},
            {"type": "labels", "value": {"start": 10, "end": 40, "labels": ["PER"]}}]}]},
    ]))
    classes = DatasetFactory(workspace=workspace, type="text_classification", labels=[])
    task = run_import(developer_client, classes, {"kind": "label_studio", "source_uri": f"{root}/ls/text.json"})
    assert counts(task) == (3, 3, 2, 0, 1), task
    assert "needs data.text" in task["errors"][0]["reason"]
    found = samples(classes)
    assert found["content://great match"].annotations[0]["name"] == "sport"
    assert found["content://great match"].annotations[0]["type"] == "modelarts/text_classification"
    assert found["content://rain later"].metadata == {"text": "rain later"}

    entities = DatasetFactory(workspace=workspace, type="named_entity", labels=[])
    task = run_import(developer_client, entities, {"kind": "label_studio", "source_uri": f"{root}/ls/ner.json"})
    assert (task["added"], task["failed"]) == (0, 1)
    assert "past the end of the 13-character text" in task["errors"][0]["reason"]


# --- CSV and TSV ----------------------------------------------------------------------------------


def test_csv_and_tsv_with_a_column_mapping(workspace, developer_client, own):
    folder, root = own
    put(folder, "t/news.csv", '\ufeffid,body,topic\n1,"Goal, in the last minute",sport\n2,"Sunny\nall day",weather\n'
                              '3,,sport\n4,too,many,fields\n\n5,No label yet,\n')
    dataset = DatasetFactory(workspace=workspace, type="text_classification", labels=[{"name": "sport"}])
    body = {"kind": "csv", "source_uri": f"{root}/t/news.csv",
            "options": {"text_column": "body", "label_column": "topic"}}
    task = run_import(developer_client, dataset, body)
    assert task["status"] == "succeeded", task
    assert (task["processed"], task["added"], task["failed"]) == (5, 3, 2)
    assert [(e["path"], e["reason"]) for e in task["errors"]] == [
        (f"{root}/t/news.csv:5", "the column 'body' is empty"),
        (f"{root}/t/news.csv:6", "the row has 4 fields; the header has 3"),
    ]
    found = samples(dataset)
    assert found["content://Goal, in the last minute"].annotations[0]["name"] == "sport"
    assert found["content://Sunny\nall day"].metadata == {"text": "Sunny\nall day"}
    assert found["content://No label yet"].status == "unlabelled"
    dataset.refresh_from_db()
    assert [label["name"] for label in dataset.labels] == ["sport", "weather"]
    assert run_import(developer_client, dataset, body)["skipped"] == 3

    put(folder, "t/more.tsv", "text\tlabel\nhello there\tweather\n")
    task = run_import(developer_client, dataset, {"kind": "csv", "source_uri": f"{root}/t/more.tsv"})
    assert (task["total"], task["added"]) == (1, 1)

    task = run_import(developer_client, dataset, {"kind": "csv", "source_uri": f"{root}/t/news.csv",
                                                  "options": {"label_column": "topic"}})
    assert task["status"] == "failed" and "no column 'text' (it has id, body, topic)" in task["error"]


# --- detection and refusals at the door -----------------------------------------------------------


def test_the_format_is_detected_when_asked(workspace, developer_client, own):
    folder, root = own
    put(folder, "auto/in.json", json.dumps(COCO))
    put(folder, "auto/y/classes.txt", "cat\n")
    put(folder, "auto/y/images/a.png", png(10, 10))
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": "auto", "source_uri": f"{root}/auto/in.json"})
    assert (task["kind"], task["status"], task["added"]) == ("coco", "succeeded", 2)
    task = run_import(developer_client, dataset, {"kind": "auto", "source_uri": f"{root}/auto/y/"})
    assert (task["kind"], task["added"]) == ("yolo", 1)
    text = DatasetFactory(workspace=workspace, type="text_classification")
    task = run_import(developer_client, text, {"kind": "auto", "source_uri": f"{root}/auto/in.json"})
    assert task["status"] == "failed" and "fills a dataset of type object_detection" in task["error"]


def test_format_requests_are_checked_before_anything_runs(workspace, developer_client, own):
    _, root = own
    dataset = detection_dataset(workspace)
    url = dataset_url(dataset, "import-tasks/")
    cases = [
        ({"kind": "coco", "source_uri": f"{root}/a.json", "options": {"text_column": "x"}}, "options.text_column"),
        ({"kind": "csv", "source_uri": f"{root}/a.csv"}, "kind"),
        ({"kind": "coco", "source_uri": f"{root}/a.json", "options": {"images_uri": "file://ws-0/theirs/"}},
         "options.images_uri"),
        ({"kind": "coco", "source_uri": f"{root}/a.json", "new_labels": "maybe"}, "new_labels"),
        ({"kind": "manifest", "source_uri": f"{root}/a.manifest", "options": {"images_uri": f"{root}/"}},
         "options.images_uri"),
        ({"kind": "prefix", "source_uri": f"{root}/a/", "options": {"text_column": "x"}}, "options.text_column"),
        ({"kind": "coco", "source_uri": f"{root}/a.json", "options": {"member": "a.json"}}, "options.member"),
    ]
    for body, attr in cases:
        response = developer_client.post(url, body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert response.json()["errors"][0]["attr"] == attr, response.json()
    assert not ImportTask.objects.exists()


def test_option_errors_name_what_each_format_takes():
    assert option_errors("coco", {"images_uri": "s3://b/i/"}) == {}
    assert "it takes: images_uri" in option_errors("voc", {"delimiter": ","})["options"]["delimiter"]
    assert option_errors("csv", {"delimiter": ";;"})["options"]["delimiter"].startswith("The delimiter is one")
    assert "Give the options as an object" in option_errors("csv", [])["options"]


@pytest.mark.parametrize(("kind", "document", "outcome"), [
    ("coco", {"images": [{"id": 1, "file_name": "a", "width": 1, "height": 1}],
              "annotations": [{"image_id": 1, "category_id": [1]}], "categories": []}, "category_id [1] is not among"),
    ("coco", {"images": [], "categories": [{"id": [1], "name": "x"}]}, "a category needs an 'id' and a 'name'"),
    ("coco", {"images": [], "categories": 7}, "the categories must be a list"),
    ("coco", {"images": [{"id": 1, "file_name": "a", "width": 9, "height": 9}], "categories": [{"id": 1, "name": "c"}],
              "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "iscrowd": True}]},
     "'iscrowd' must be 0 or 1"),
    ("label_studio", [{"data": {"image": "s3://b/a"}, "annotations": 5}], "'annotations' must be a list"),
    ("label_studio", [{"data": {"image": "s3://b/a"}, "annotations": [{"result": [5]}]}], "needs a 'value' object"),
    ("label_studio", 5, "it needs a list of tasks"),
])
def test_records_of_unexpected_shapes_are_bad_records_or_a_refusal(workspace, developer_client, own, kind, document,
                                                                   outcome):
    folder, root = own
    put(folder, "odd.json", json.dumps(document))
    dataset = detection_dataset(workspace)
    task = run_import(developer_client, dataset, {"kind": kind, "source_uri": f"{root}/odd.json"})
    reasons = task["error"] if task["status"] == "failed" else " ".join(e["reason"] for e in task["errors"])
    assert outcome in reasons, task
    assert "unexpected" not in task["error"]

"""Imports from an uploaded archive: unpacked into the workspace's own location and imported in
its format; unsafe archives (paths that leave the folder, links, zip bombs) refused whole, with
nothing written and nothing imported."""

import io
import json
import tarfile
import zipfile

import pytest

from datasets.models import Sample
from tests.datasets.factories import DatasetFactory
from tests.datasets.test_import_formats import COCO, png, put, run_import
from tests.factories import workspace_storage

pytestmark = pytest.mark.django_db


@pytest.fixture
def own(local_root, workspace):
    return workspace_storage(local_root, workspace), f"file://ws-{workspace.pk}"


def zipped(files: dict, links=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def tarred(files: dict, *, link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc"
            archive.addfile(info)
    return buffer.getvalue()


def detection(workspace):
    return DatasetFactory(workspace=workspace, type="object_detection", labels=[])


def unpacked(folder, task):
    target = folder / "imports" / task["id"]
    return sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) if target.exists() else []


def test_a_coco_zip_is_unpacked_into_the_workspace_and_imported(workspace, developer_client, own):
    folder, root = own
    document = {**COCO, "images": [{**image, "file_name": image["file_name"].replace("../../", "")}
                                   for image in COCO["images"]]}
    put(folder, "up/coco.zip", zipped({"annotations/instances.json": json.dumps(document),
                                       "a.jpg": b"jpeg", "notes/readme.txt": b"hello"}))
    dataset = detection(workspace)
    task = run_import(developer_client, dataset, {"kind": "coco", "source_uri": f"{root}/up/coco.zip"})
    assert task["status"] == "succeeded", task
    assert (task["added"], task["failed"]) == (3, 6), task
    assert unpacked(folder, task) == ["a.jpg", "annotations/instances.json", "notes/readme.txt"]
    base = f"{root}/imports/{task['id']}"
    assert sorted(Sample.objects.filter(dataset=dataset).values_list("source", flat=True)) == [
        f"{base}/a.jpg", f"{base}/escape.jpg", f"{base}/g.jpg"]
    assert task["source_uri"] == f"{root}/up/coco.zip"


def test_a_yolo_tarball_and_a_named_member(workspace, developer_client, own):
    folder, root = own
    put(folder, "up/y.tar.gz", tarred({"y/classes.txt": b"cat\n", "y/images/a.png": png(100, 50),
                                       "y/labels/a.txt": b"0 0.5 0.5 0.2 0.2\n"}))
    dataset = detection(workspace)
    task = run_import(developer_client, dataset, {"kind": "auto", "source_uri": f"{root}/up/y.tar.gz"})
    assert (task["status"], task["kind"], task["added"]) == ("succeeded", "yolo", 1), task
    sample = Sample.objects.get(dataset=dataset)
    assert sample.annotations[0]["box"] == {"xmin": 40, "ymin": 20, "xmax": 60, "ymax": 30}

    put(folder, "up/two.zip", zipped({"a.json": json.dumps(COCO), "b.json": "[]"}))
    task = run_import(developer_client, dataset, {"kind": "coco", "source_uri": f"{root}/up/two.zip"})
    assert task["status"] == "failed" and "has 2 (a.json, b.json): name one in the option member" in task["error"]
    task = run_import(developer_client, dataset, {"kind": "coco", "source_uri": f"{root}/up/two.zip",
                                                  "options": {"member": "a.json"}})
    assert (task["status"], task["added"]) == ("succeeded", 2), task


@pytest.mark.parametrize(("name", "archive", "reason"), [
    ("dots.zip", zipped({"ok.jpg": b"x", "../evil.jpg": b"x"}), "'..' segment"),
    ("abs.tar", tarred({"ok.jpg": b"x", "/etc/evil.jpg": b"x"}), "absolute path"),
    ("link.tgz", tarred({"ok.jpg": b"x"}, link="images"), "a link or a special file"),
    ("link.zip", zipped({"ok.jpg": b"x"}, links=["images"]), "a link or a special file"),
    ("broken.zip", b"PK\x03\x04 not really", "not a readable zip archive"),
])
def test_unsafe_archives_are_refused_whole(workspace, developer_client, own, name, archive, reason):
    folder, root = own
    put(folder, f"up/{name}", archive)
    dataset = detection(workspace)
    task = run_import(developer_client, dataset, {"kind": "prefix", "source_uri": f"{root}/up/{name}"})
    assert task["status"] == "failed" and reason in task["error"], task
    assert unpacked(folder, task) == [] and not (folder / "evil.jpg").exists() and not (folder / "up/evil.jpg").exists()
    assert not Sample.objects.filter(dataset=dataset).exists()


def test_a_zip_bomb_stops_at_the_cap_and_leaves_nothing(workspace, developer_client, own, settings):
    folder, root = own
    settings.DATASET_ARCHIVE_MAX_UNPACKED_BYTES = 100_000
    put(folder, "up/bomb.zip", zipped({"a.jpg": b"x" * 10, "zeros.jpg": b"\0" * 1_000_000}))
    assert (folder / "up/bomb.zip").stat().st_size < 5_000
    dataset = detection(workspace)
    task = run_import(developer_client, dataset, {"kind": "prefix", "source_uri": f"{root}/up/bomb.zip"})
    assert task["status"] == "failed" and "more than 100,000 bytes unpacked" in task["error"], task
    assert unpacked(folder, task) == []

    # A member that unpacks to more than it declares is stopped as it is written, and what was written goes.
    settings.DATASET_ARCHIVE_MAX_UNPACKED_BYTES = 10 ** 9
    data = bytearray(zipped({"a.jpg": b"x" * 10, "zeros.jpg": b"\0" * 1_000_000}))
    # The local header and the central directory both declare the member's size; both are lowered.
    declared = (1_000_000).to_bytes(4, "little")
    assert data.count(declared) == 2
    put(folder, "up/liar.zip", bytes(data.replace(declared, (1_000).to_bytes(4, "little"))))
    task = run_import(developer_client, dataset, {"kind": "prefix", "source_uri": f"{root}/up/liar.zip"})
    assert task["status"] == "failed", task
    assert "zeros.jpg" in task["error"] and unpacked(folder, task) == []
    assert not Sample.objects.filter(dataset=dataset).exists()

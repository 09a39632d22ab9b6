"""Exporting samples in the formats the importers read: COCO detection JSON, Pascal VOC and YOLO
(each a tar archive of its files), Label Studio's JSON export, and CSV for text classification.

Writers take a stream of samples and yield chunks of about a megabyte for a streaming upload;
what a format needs at its end (COCO's annotations after its images, YOLO's list of images) goes
to a temporary file on disk, so memory stays flat whatever the number of samples. Images are
referenced, never copied: COCO's `file_name` is the sample's source URI; VOC and YOLO name their
files after the source (`labels/<bucket>/<key without extension>.txt`), so that the sources copied
to `images/<bucket>/<key>` (e.g. `aws s3 sync s3://bucket images/bucket`) pair with them."""

import csv
import io
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from xml.sax.saxutils import escape

from aiplatform import jsoncodec

from .domain import INLINE_TEXT_SCHEME
from .formats import BOX, ENTITY, Format
from .manifest import ManifestSample, write_manifest

CHUNK_BYTES = 1024 * 1024
BLOCK = 512

# The file each format's export is, by its extension.
EXTENSIONS = {"manifest": ".manifest", Format.COCO: ".json", Format.LABEL_STUDIO: ".json", Format.CSV: ".csv",
              Format.VOC: ".tar", Format.YOLO: ".tar"}


@dataclass
class Tally:
    """What a writer wrote: samples, and those the format could not express in full (a box on an
    image of unknown size, for YOLO and Label Studio), which are written without those parts."""

    samples: int = 0
    partial: int = 0


def write(fmt: str, samples: Iterable[ManifestSample], *, labels: list[str], dataset_type: str,
          tally: Tally) -> Iterator[bytes]:
    """The export of `samples` in `fmt`, as chunks; `labels` is the label set, in its order."""
    counted = _counted(samples, tally)
    if fmt == "manifest":
        return write_manifest(counted)
    writers = {Format.COCO: _coco, Format.VOC: _voc, Format.YOLO: _yolo, Format.LABEL_STUDIO: _label_studio,
               Format.CSV: _csv}
    return _chunked(writers[fmt](counted, labels=labels, dataset_type=dataset_type, tally=tally))


def _counted(samples, tally):
    for sample in samples:
        tally.samples += 1
        yield sample


def _chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    buffer = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def _boxes(sample: ManifestSample):
    return [a for a in sample.annotation if a.get("type") == BOX and isinstance(a.get("box"), dict)]


def _size(sample: ManifestSample) -> tuple[float, float] | None:
    width, height = sample.property.get("width"), sample.property.get("height")
    if type(width) in (int, float) and type(height) in (int, float) and width > 0 and height > 0:
        return width, height
    return None


def _spooled(spool) -> Iterator[bytes]:
    """The spool's bytes from the start, in chunks."""
    spool.seek(0)
    while chunk := spool.read(CHUNK_BYTES):
        yield chunk


# --- COCO -----------------------------------------------------------------------------------------


def _coco(samples, *, labels, dataset_type, tally):
    categories = {name: index for index, name in enumerate(labels, start=1)}
    yield b'{"info":{"description":"exported by the AI platform"},"categories":'
    yield jsoncodec.dumps([{"id": i, "name": name, "supercategory": ""} for name, i in categories.items()])
    yield b',"images":['
    annotation_id = 0
    with tempfile.TemporaryFile() as spool:
        for image_id, sample in enumerate(samples, start=1):
            image = {"id": image_id, "file_name": sample.source}
            size = _size(sample)
            if size:
                image["width"], image["height"] = size
            yield (b"," if image_id > 1 else b"") + jsoncodec.dumps(image)
            for annotation in _boxes(sample):
                category = categories.get(annotation.get("name"))
                if category is None:
                    continue
                box = annotation["box"]
                w, h = box["xmax"] - box["xmin"], box["ymax"] - box["ymin"]
                annotation_id += 1
                record = {"id": annotation_id, "image_id": image_id, "category_id": category,
                          "bbox": [box["xmin"], box["ymin"], w, h], "area": w * h,
                          "iscrowd": annotation.get("iscrowd", 0), "segmentation": annotation.get("segmentation", [])}
                spool.write((b"," if annotation_id > 1 else b"") + jsoncodec.dumps(record))
        yield b'],"annotations":['
        yield from _spooled(spool)
    yield b"]}"


# --- archives (VOC, YOLO) -------------------------------------------------------------------------


# A ustar header's fixed parts: mode 0644, owner 0, mtime 0, a regular file, the ustar magic; and
# their sum with the checksum field as spaces, to which a header adds its name, prefix and size.
_MODE_OWNER = b"0000644\0" + b"0000000\0" * 2
_MTIME = b"00000000000\0"
_MAGIC = b"ustar\x0000"
_FIXED_SUM = sum(_MODE_OWNER) + sum(_MTIME) + 8 * ord(" ") + ord("0") + sum(_MAGIC)


def _header(name: str, size: int) -> bytes:
    """A member's tar header, made here: tarfile's takes ten times as long, which a million label
    files feel. Names that ustar cannot hold get tarfile's PAX header."""
    encoded = name.encode()
    prefix, _, rest = encoded.rpartition(b"/") if len(encoded) > 100 else (b"", b"", encoded)
    if len(rest) > 100 or len(prefix) > 155 or size >= 8 ** 11 or not encoded.isascii():
        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        return info.tobuf(format=tarfile.PAX_FORMAT)
    size_field = b"%011o\0" % size
    checksum = _FIXED_SUM + sum(rest) + sum(prefix) + sum(size_field)
    return b"".join((rest.ljust(100, b"\0"), _MODE_OWNER, size_field, _MTIME, b"%06o\0 " % checksum, b"0",
                     b"\0" * 100, _MAGIC, b"\0" * 80, prefix.ljust(155, b"\0"), b"\0" * 12))


def _member(name: str, data: bytes) -> bytes:
    return _header(name, len(data)) + data + b"\0" * (-len(data) % BLOCK)


def _spooled_member(name: str, spool) -> Iterator[bytes]:
    size = spool.tell()
    yield _header(name, size)
    yield from _spooled(spool)
    yield b"\0" * (-size % BLOCK)


def _end_of_archive() -> bytes:
    return b"\0" * (2 * BLOCK)


def _stem(source: str) -> str:
    """`<bucket>/<key without its extension>`, from a storage URI."""
    path = source.split("://", 1)[-1]
    head, dot, extension = path.rpartition(".")
    return head if dot and "/" not in extension else path


def _voc(samples, *, labels, dataset_type, tally):
    for sample in samples:
        stem = _stem(sample.source)
        size = _size(sample)
        width, height = size or ("", "")
        objects = "".join(
            f"<object><name>{escape(a['name'])}</name><pose>Unspecified</pose>"
            f"<truncated>{int(a.get('truncated', 0))}</truncated><difficult>{int(a.get('difficult', 0))}</difficult>"
            f"<bndbox><xmin>{a['box']['xmin']}</xmin><ymin>{a['box']['ymin']}</ymin><xmax>{a['box']['xmax']}</xmax>"
            f"<ymax>{a['box']['ymax']}</ymax></bndbox></object>"
            for a in _boxes(sample)
        )
        filename = sample.source.rsplit("/", 1)[-1]
        xml = (f"<annotation><folder>JPEGImages</folder><filename>{escape(filename)}</filename>"
               f"<path>{escape(sample.source)}</path><source><database>AI platform</database></source>"
               f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
               f"<segmented>0</segmented>{objects}</annotation>\n")
        yield _member(f"Annotations/{stem}.xml", xml.encode())
    yield _end_of_archive()


def _yolo(samples, *, labels, dataset_type, tally):
    classes = {name: index for index, name in enumerate(labels)}
    names = "".join(f"  {index}: {jsoncodec.dumps(name).decode()}\n" for name, index in classes.items())
    yield _member("data.yaml", f"path: .\ntrain: images.txt\nval: images.txt\nnames:\n{names}".encode())
    with tempfile.TemporaryFile() as listing:
        for sample in samples:
            stem = _stem(sample.source)
            listing.write(f"images/{sample.source.split('://', 1)[-1]}\n".encode())
            boxes = _boxes(sample)
            size = _size(sample)
            if boxes and size is None:
                tally.partial += 1
                boxes = []
            lines = []
            for annotation in boxes:
                if annotation.get("name") not in classes:
                    continue
                box, (width, height) = annotation["box"], size
                lines.append(f"{classes[annotation['name']]} {(box['xmin'] + box['xmax']) / 2 / width:.6f} "
                             f"{(box['ymin'] + box['ymax']) / 2 / height:.6f} "
                             f"{(box['xmax'] - box['xmin']) / width:.6f} {(box['ymax'] - box['ymin']) / height:.6f}\n")
            yield _member(f"labels/{stem}.txt", "".join(lines).encode())
        yield from _spooled_member("images.txt", listing)
    yield _end_of_archive()


# --- Label Studio ---------------------------------------------------------------------------------


def _label_studio(samples, *, labels, dataset_type, tally):
    yield b"["
    for number, sample in enumerate(samples, start=1):
        text = sample.source.startswith(INLINE_TEXT_SCHEME)
        if text:
            data = {"text": sample.property.get("text") or sample.source.removeprefix(INLINE_TEXT_SCHEME)}
        else:
            data = {"image": sample.source}
        target = "text" if text else "image"
        results, partial = [], False
        choices = []
        for annotation in sample.annotation:
            kind = annotation.get("type")
            if kind == BOX:
                size = _size(sample)
                if size is None or not isinstance(annotation.get("box"), dict):
                    partial = True
                    continue
                (width, height), box = size, annotation["box"]
                result = {"type": "rectanglelabels", "from_name": "label", "to_name": target,
                          "original_width": width, "original_height": height,
                          "value": {"x": box["xmin"] * 100 / width, "y": box["ymin"] * 100 / height,
                                    "width": (box["xmax"] - box["xmin"]) * 100 / width,
                                    "height": (box["ymax"] - box["ymin"]) * 100 / height, "rotation": 0,
                                    "rectanglelabels": [annotation["name"]]}}
            elif kind == ENTITY:
                span = annotation.get("property") or {}
                start, end = span.get("@modelarts:start_index"), span.get("@modelarts:end_index")
                result = {"type": "labels", "from_name": "label", "to_name": target,
                          "value": {"start": start, "end": end, "labels": [annotation["name"]]}}
                if isinstance(start, int) and isinstance(end, int):
                    result["value"]["text"] = data.get("text", "")[start:end]
            else:
                choices.append(annotation)
                continue
            if "confidence" in annotation:
                result["score"] = annotation["confidence"]
            results.append(result)
        if choices:
            results.insert(0, {"type": "choices", "from_name": "choice", "to_name": target,
                               "value": {"choices": [a["name"] for a in choices]}})
        tally.partial += partial
        task = {"id": number, "data": data, "annotations": [{"result": results}] if results else []}
        yield (b"," if number > 1 else b"") + jsoncodec.dumps(task)
    yield b"]"


# --- CSV ------------------------------------------------------------------------------------------


def _csv(samples, *, labels, dataset_type, tally):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    for sample in samples:
        text = sample.property.get("text") or sample.source.removeprefix(INLINE_TEXT_SCHEME)
        # Several labels are joined by ';' (the importer takes the column as one label).
        writer.writerow([text, ";".join(dict.fromkeys(a["name"] for a in sample.annotation))])
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()

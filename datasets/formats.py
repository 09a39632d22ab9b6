"""Importing datasets in formats other than the platform's manifest: COCO detection JSON, Pascal
VOC XML folders, YOLO (classes.txt or data.yaml and a label file per image), Label Studio's JSON
export, and CSV/TSV for text classification.

Each reader turns its source into the import's stream of items, (number, ManifestSample or
ManifestLineError), the same stream a manifest gives, so an import in any format has the manifest
import's guarantees: batches, counts, per-record errors, idempotent re-runs and resumption. The
order is fixed by the source, so a resumed import skips exactly what an earlier attempt wrote.
A bad record names where it is: `uri#/json/pointer`, `uri:line`, or the file's URI. What makes a
whole source unusable (not JSON, no class names) raises SourceError, which fails the task."""

import csv
import math
import posixpath
import struct
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import yaml

from aiplatform import jsoncodec
from aiplatform.storage import ObjectStorage, StorageError

from .domain import ANNOTATION_TYPES, IMAGE_EXTENSIONS, INLINE_TEXT_SCHEME, DatasetType, annotation_error
from .manifest import ManifestLineError, ManifestSample

BOX = "modelarts/object_detection"
ENTITY = "modelarts/text_entity"
# A whole-file format (COCO, Label Studio) is parsed in memory, which takes several times the
# file's size: refused beyond this size (COCO 2017's train annotations, 448 MB, fit).
MAX_DOCUMENT_BYTES = 512 * 1024 * 1024
# One VOC XML file, a YOLO label file, classes.txt or data.yaml.
MAX_SMALL_FILE_BYTES = 4 * 1024 * 1024
# How much of an image is read to find its size in its header.
MAX_HEADER_BYTES = 512 * 1024
MAX_INLINE_TEXT = 1024 - len(INLINE_TEXT_SCHEME)  # Sample.source's length


class Format:
    """Import kinds beyond `prefix` and `manifest`, and `auto`: detected from the source."""

    COCO = "coco"
    VOC = "voc"
    YOLO = "yolo"
    LABEL_STUDIO = "label_studio"
    CSV = "csv"
    AUTO = "auto"


# The dataset types each format can fill.
DATASET_TYPES = {
    Format.COCO: (DatasetType.OBJECT_DETECTION,),
    Format.VOC: (DatasetType.OBJECT_DETECTION,),
    Format.YOLO: (DatasetType.OBJECT_DETECTION,),
    Format.LABEL_STUDIO: (DatasetType.IMAGE_CLASSIFICATION, DatasetType.OBJECT_DETECTION,
                          DatasetType.TEXT_CLASSIFICATION, DatasetType.NAMED_ENTITY),
    Format.CSV: (DatasetType.TEXT_CLASSIFICATION,),
}

MEMBER = {"member": "the file to read inside an archive (a .zip, .tar or .tar.gz source)"}

# The options each import kind takes, with what they mean (for the 400 that names an unknown one).
OPTIONS = {
    "prefix": {},
    "manifest": MEMBER,
    Format.COCO: {"images_uri": "where the images' file_name values are relative to", **MEMBER},
    Format.VOC: {"images_uri": "where the XML files' <filename> values are relative to"},
    Format.YOLO: {},
    Format.LABEL_STUDIO: {"images_uri": "what relative paths in the tasks' data are relative to", **MEMBER},
    Format.CSV: {"text_column": "the column holding the text (default 'text')",
                 "label_column": "the column holding the label (default 'label'; empty: unlabelled)",
                 "delimiter": "one character (default ',' and a tab for .tsv)", **MEMBER},
    Format.AUTO: {"images_uri": "as for the format detected", "text_column": "for CSV", "label_column": "for CSV",
                  "delimiter": "for CSV", **MEMBER},
}


class SourceError(Exception):
    """The source as a whole cannot be imported; the message says why and what to give instead."""


class _BadRecord(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(reason)
        self.path = path


def option_errors(kind: str, options, *, archive: bool = False) -> dict:
    """What is wrong with an import's options, by option name; empty when they are usable."""
    if not isinstance(options, dict):
        return {"options": "Give the options as an object, e.g. {\"images_uri\": \"s3://bucket/images/\"}."}
    known = OPTIONS.get(kind, {})
    errors = {}
    for name, value in options.items():
        if name == "member" and name in known and not archive:
            errors[name] = "Only an archive source (.zip, .tar, .tar.gz, .tgz) has members."
        elif name not in known:
            accepted = ", ".join(f"{k} ({v})" for k, v in known.items()) or "none"
            errors[name] = f"A {kind} import takes no option '{name}'; it takes: {accepted}."
        elif not isinstance(value, str) or not value:
            errors[name] = "Give a non-empty string."
        elif name == "delimiter" and len(value) != 1:
            errors[name] = "The delimiter is one character, e.g. ',' or ';' (a tab: '\\t')."
    return {"options": errors} if errors else {}


# --- reading the source ---------------------------------------------------------------------------


def _read_all(storage: ObjectStorage, uri: str, limit: int) -> bytes:
    data = bytearray()
    for chunk in storage.read_chunks(uri):
        data += chunk
        if len(data) > limit:
            raise SourceError(f"'{uri}' is larger than {limit // (1024 * 1024):,} MiB, the most this import reads.")
    return bytes(data)


def _load_json(storage: ObjectStorage, uri: str):
    try:
        return jsoncodec.loads(_read_all(storage, uri, MAX_DOCUMENT_BYTES))
    except ValueError as exc:
        raise SourceError(f"'{uri}' is not valid JSON: {exc}.") from None


def _folder(uri: str) -> str:
    return uri.rsplit("/", 1)[0] + "/"


def _join(base: str, path: str) -> str:
    """`path` under the folder `base`, or `path` itself when it is a URI already; ValueError for a
    path that would leave the folder."""
    if "://" in path:
        return path
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError(f"the path '{path[:200]}' leaves the folder it is relative to")
    return base.rstrip("/") + "/" + path.lstrip("/")


def _number(value) -> bool:
    return type(value) in (int, float)


def _exact(value: float):
    """To a thousandth of a pixel, whole numbers as ints (a box read from text compares equal to
    the one written)."""
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


@dataclass
class FormatSource:
    """A source being read: its items, and their count once the reader knows it (for progress)."""

    items: Callable[[], Iterator[tuple[int, ManifestSample | ManifestLineError]]]
    total: int | None = None


def open_source(*, kind: str, storage: ObjectStorage, uri: str, options: dict, dataset_type: str,
                admits: Callable[[str], bool]) -> FormatSource:
    """The reader of a source in `kind` (not `auto`: see detect). `admits` says whether the
    workspace may read an object a listing found (a prefix `data` also lists `data-theirs/…`)."""
    source = FormatSource(items=lambda: iter(()))
    readers = {
        Format.COCO: _coco, Format.VOC: _voc, Format.YOLO: _yolo, Format.LABEL_STUDIO: _label_studio,
        Format.CSV: _csv,
    }
    reader = readers[kind]
    source.items = lambda: reader(source, storage=storage, uri=uri, options=options, dataset_type=dataset_type,
                                  admits=admits)
    return source


def detect(*, storage: ObjectStorage, uri: str, admits: Callable[[str], bool]) -> str:
    """The import kind a source is in: by the file's extension and first character, or for a
    prefix by what it holds (data.yaml or classes.txt: YOLO; XML files: VOC; else every object)."""
    lowered = uri.lower()
    if lowered.endswith((".manifest", ".jsonl")):
        return "manifest"
    if lowered.endswith((".csv", ".tsv")):
        return Format.CSV
    if lowered.endswith(".json"):
        for chunk in storage.read_chunks(uri):
            text = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
            if text:
                return Format.LABEL_STUDIO if text[:1] == b"[" else Format.COCO
        raise SourceError(f"'{uri}' is empty.")
    if not uri.endswith("/"):
        raise SourceError(f"The format of '{uri}' cannot be told from its name; name the kind (coco, voc, yolo, "
                          "label_studio, csv, manifest), or give a prefix ending in '/'.")
    found_xml = False
    for item in storage.list(uri):
        if not admits(item.uri):
            continue
        name = posixpath.basename(item.uri).lower()
        if name in ("data.yaml", "data.yml", "classes.txt"):
            return Format.YOLO
        found_xml = found_xml or name.endswith(".xml")
    return Format.VOC if found_xml else "prefix"


# --- COCO -----------------------------------------------------------------------------------------


def _coco(source: FormatSource, *, storage, uri, options, dataset_type, admits):
    document = _load_json(storage, uri)
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise SourceError(f"'{uri}' is not a COCO file: it needs an object with a list of 'images'.")
    categories = {}
    if not isinstance(document.get("categories") or [], list):
        raise SourceError(f"{uri}#/categories: the categories must be a list.")
    for index, category in enumerate(document.get("categories") or []):
        if (not isinstance(category, dict) or not isinstance(category.get("id"), int | str)
                or not isinstance(category.get("name"), str) or not category["name"]):
            raise SourceError(f"{uri}#/categories/{index}: a category needs an 'id' and a 'name'.")
        if category.get("id") in categories:
            raise SourceError(f"{uri}#/categories/{index}: category id {category.get('id')!r} is listed twice.")
        categories[category.get("id")] = category["name"]
    images_uri = options.get("images_uri") or _default_images(uri)
    by_image: dict = {}
    annotations = document.get("annotations") or []
    if not isinstance(annotations, list):
        raise SourceError(f"{uri}#/annotations: the annotations must be a list.")
    ids = set()
    for image in document["images"]:
        if isinstance(image, dict) and isinstance(image.get("id"), int | str):
            ids.add(image["id"])
    orphans = []
    for index, annotation in enumerate(annotations):
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        if isinstance(image_id, int | str) and image_id in ids:
            by_image.setdefault(image_id, []).append(index)
        else:
            orphans.append(index)
    source.total = len(document["images"]) + len(orphans)
    number = 0
    seen = {}
    for index, image in enumerate(document["images"]):
        number += 1
        where = f"{uri}#/images/{index}"
        item = _coco_image(image, where, seen, images_uri)
        if isinstance(item, str):
            yield number, ManifestLineError(line=number, reason=item, path=where)
            continue
        seen[image["id"]] = index
        for position in by_image.pop(image["id"], ()):
            annotation, problem = _coco_annotation(annotations[position], categories, item.property, dataset_type)
            if problem:
                yield number, ManifestLineError(line=number, reason=f"annotation: {problem}",
                                                path=f"{uri}#/annotations/{position}")
                break
            item.annotation.append(annotation)
        else:
            yield number, item
    for index in orphans:
        number += 1
        annotation = annotations[index]
        image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
        reason = (f"image_id {image_id!r} is not among the images" if image_id is not None
                  else "an annotation is an object with an image_id")
        yield number, ManifestLineError(line=number, reason=reason, path=f"{uri}#/annotations/{index}")


def _default_images(uri: str) -> str:
    """COCO files usually sit in annotations/, beside the images' folder; else with the images."""
    folder = _folder(uri)
    if folder.rstrip("/").rsplit("/", 1)[-1] == "annotations":
        return _folder(folder.rstrip("/"))
    return folder


def _coco_image(image, where: str, seen: dict, images_uri: str) -> ManifestSample | str:
    if not isinstance(image, dict) or not isinstance(image.get("id"), int | str):
        return "an image is an object with an 'id'"
    if image["id"] in seen:
        return f"image id {image['id']!r} is listed twice (first at #/images/{seen[image['id']]})"
    name = image.get("file_name")
    if not isinstance(name, str) or not name:
        return "the image needs a 'file_name'"
    width, height = image.get("width"), image.get("height")
    if not (_number(width) and _number(height) and width > 0 and height > 0):
        return "the image needs a positive 'width' and 'height'"
    try:
        source = _join(images_uri, name)
    except ValueError as exc:
        return str(exc)
    return ManifestSample(source=source, property={"width": width, "height": height})


def _coco_annotation(annotation: dict, categories: dict, metadata: dict, dataset_type: str):
    category = annotation.get("category_id")
    name = categories.get(category) if isinstance(category, int | str) else None
    if name is None:
        return None, f"category_id {annotation.get('category_id')!r} is not among the categories"
    bbox = annotation.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_number, bbox))):
        return None, "'bbox' must be [x, y, width, height]"
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return None, f"the box's width and height must be positive, not {w} and {h}"
    result = {"name": name, "type": BOX,
              "box": {"xmin": x, "ymin": y, "xmax": _exact(x + w), "ymax": _exact(y + h)}}
    iscrowd = annotation.get("iscrowd", 0)
    if type(iscrowd) is not int or iscrowd not in (0, 1):
        return None, "'iscrowd' must be 0 or 1"
    result["iscrowd"] = iscrowd
    segmentation = annotation.get("segmentation")
    if segmentation:
        if not isinstance(segmentation, list | dict):
            return None, "'segmentation' must be a list of polygons or an RLE object"
        result["segmentation"] = segmentation
    problem = annotation_error(dataset_type=dataset_type, annotation=result, metadata=metadata, label_names=None)
    return result, problem


# --- Pascal VOC -----------------------------------------------------------------------------------


def _listing(storage, uri: str, admits) -> list:
    if not uri.endswith("/"):
        raise SourceError(f"'{uri}' is a file; this format is read from a folder: give a prefix ending in '/'.")
    return [item for item in storage.list(uri) if admits(item.uri)]


def _voc(source: FormatSource, *, storage, uri, options, dataset_type, admits):
    files = [item for item in _listing(storage, uri, admits) if item.uri.lower().endswith(".xml")]
    if not files:
        raise SourceError(f"No .xml annotation files under '{uri}'.")
    source.total = len(files)
    for number, item in enumerate(files, start=1):
        try:
            sample = _voc_sample(storage, item, options.get("images_uri"), dataset_type)
        except ValueError as exc:
            yield number, ManifestLineError(line=number, reason=str(exc), path=item.uri)
        else:
            yield number, sample


def _voc_sample(storage, item, images_uri: str | None, dataset_type: str) -> ManifestSample:
    if item.size > MAX_SMALL_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_SMALL_FILE_BYTES // (1024 * 1024)} MiB")
    data = _read_all(storage, item.uri, MAX_SMALL_FILE_BYTES)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        # Entities can expand a small file into gigabytes; VOC files have no use for them.
        raise ValueError("a DOCTYPE or ENTITY declaration is not accepted in an annotation file")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        raise ValueError("<filename> is missing")
    width, height = _voc_number(root, "size/width"), _voc_number(root, "size/height")
    if width is None or height is None or width <= 0 or height <= 0:
        raise ValueError("<size> needs a positive <width> and <height>")
    metadata = {"width": width, "height": height}
    annotations = []
    for index, element in enumerate(root.findall("object")):
        name = (element.findtext("name") or "").strip()
        corners = [_voc_number(element, f"bndbox/{edge}") for edge in ("xmin", "ymin", "xmax", "ymax")]
        if not name or None in corners:
            raise ValueError(f"object {index + 1}: it needs a <name> and a <bndbox> of xmin, ymin, xmax, ymax")
        annotation = {"name": name, "type": BOX, "box": dict(zip(("xmin", "ymin", "xmax", "ymax"), corners,
                                                                  strict=True))}
        for flag in ("difficult", "truncated"):
            value = _voc_number(element, flag)
            if value is not None:
                annotation[flag] = value
        problem = annotation_error(dataset_type=dataset_type, annotation=annotation, metadata=metadata,
                                   label_names=None)
        if problem:
            raise ValueError(f"object {index + 1}: {problem}")
        annotations.append(annotation)
    return ManifestSample(source=_join(images_uri or _voc_images(item.uri), filename), property=metadata,
                          annotation=annotations)


def _voc_number(element, path: str):
    text = (element.findtext(path) or "").strip()
    try:
        value = float(text) if text else None
    except ValueError:
        value = math.nan
    if value is not None and not math.isfinite(value):
        raise ValueError(f"<{path}> is not a number: {text[:40]!r}")
    return None if value is None else _exact(value)


def _voc_images(xml_uri: str) -> str:
    """VOC keeps Annotations/ beside JPEGImages/; elsewhere the images sit with their XML files."""
    folder = _folder(xml_uri).rstrip("/")
    parent, _, name = folder.rpartition("/")
    return f"{parent}/JPEGImages/" if name == "Annotations" else folder + "/"


# --- YOLO -----------------------------------------------------------------------------------------


def _yolo(source: FormatSource, *, storage, uri, options, dataset_type, admits):
    listing = _listing(storage, uri, admits)
    names = _yolo_names(storage, listing, uri)
    labels = {item.uri: item for item in listing
              if item.uri.endswith(".txt") and posixpath.basename(item.uri) != "classes.txt"}
    images = [item for item in listing if item.uri.lower().endswith(IMAGE_EXTENSIONS)]
    paired = {_yolo_label_uri(item.uri) for item in images}
    # Other text files (lists of images such as train.txt) are no label files unless under labels/.
    orphans = [label for label in labels if label not in paired and "/labels/" in label]
    source.total = len(images) + len(orphans)
    number = 0
    for image in images:
        number += 1
        label = labels.get(_yolo_label_uri(image.uri))
        try:
            yield number, _yolo_sample(storage, image, label, names, dataset_type)
        except _BadRecord as exc:
            yield number, ManifestLineError(line=number, reason=str(exc), path=exc.path)
    for label in orphans:
        number += 1
        yield number, ManifestLineError(line=number, reason="no image has this label file's name (images/…/<name>"
                                                             ".jpg or the same folder)", path=label)


def _yolo_names(storage, listing: list, uri: str) -> list[str]:
    """The class names: data.yaml's `names` (a list, or a mapping from index), else classes.txt
    (a name a line); the shallowest file wins."""
    candidates = sorted((item for item in listing
                         if posixpath.basename(item.uri) in ("data.yaml", "data.yml", "classes.txt")),
                        key=lambda item: (item.uri.count("/"), not item.uri.endswith(("yaml", "yml"))))
    if not candidates:
        raise SourceError(f"No classes.txt or data.yaml under '{uri}': YOLO needs the class names.")
    found = candidates[0].uri
    text = _read_all(storage, found, MAX_SMALL_FILE_BYTES).decode("utf-8", errors="replace")
    if found.endswith("classes.txt"):
        names = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SourceError(f"'{found}' is not valid YAML: {str(exc).splitlines()[0]}.") from None
        names = document.get("names") if isinstance(document, dict) else None
        if isinstance(names, dict) and all(isinstance(k, int) for k in names):
            names = [names.get(i) for i in range(max(names, default=-1) + 1)]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise SourceError(f"'{found}' gives no class names: a name a line in classes.txt, or `names:` as a list "
                          "(or {0: name, …}) in data.yaml.")
    return names


def _yolo_label_uri(image_uri: str) -> str:
    """images/…/x.jpg pairs with labels/…/x.txt; an image outside images/ with x.txt beside it."""
    stem = image_uri.rsplit(".", 1)[0]
    head, sep, tail = stem.rpartition("/images/")
    return f"{head}/labels/{tail}.txt" if sep else f"{stem}.txt"


def _yolo_sample(storage, image, label, names: list[str], dataset_type: str) -> ManifestSample:
    sample = ManifestSample(source=image.uri, property={"size": image.size})
    if label is None:
        return sample
    if label.size > MAX_SMALL_FILE_BYTES:
        raise _BadRecord(label.uri, f"the file is larger than {MAX_SMALL_FILE_BYTES // (1024 * 1024)} MiB")
    lines = _read_all(storage, label.uri, MAX_SMALL_FILE_BYTES).decode("utf-8", errors="replace").splitlines()
    if not any(line.strip() for line in lines):
        return sample
    size = image_size(storage, image.uri)
    if size is None:
        raise _BadRecord(image.uri, "the image's size could not be read from its header (PNG, JPEG, GIF, BMP "
                         "and WebP are read); boxes need it")
    width, height = size
    sample.property.update(width=width, height=height)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{label.uri}:{number}"
        fields = line.split()
        try:
            values = [float(value) for value in fields]
        except ValueError:
            raise _BadRecord(where, "a line is five numbers: class x_center y_center width height") from None
        if len(values) != 5 or not values[0].is_integer():
            raise _BadRecord(where, "a line is five numbers: class x_center y_center width height")
        index, cx, cy, w, h = int(values[0]), *values[1:]
        if not 0 <= index < len(names):
            raise _BadRecord(where, f"class {index} is not among the {len(names)} class names")
        if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
            raise _BadRecord(where, "coordinates are normalised: between 0 and 1, with a positive width and height")
        box = {"xmin": max(0, _exact((cx - w / 2) * width)), "ymin": max(0, _exact((cy - h / 2) * height)),
               "xmax": min(width, _exact((cx + w / 2) * width)), "ymax": min(height, _exact((cy + h / 2) * height))}
        annotation = {"name": names[index], "type": BOX, "box": box}
        problem = annotation_error(dataset_type=dataset_type, annotation=annotation, metadata=sample.property,
                                   label_names=None)
        if problem:
            raise _BadRecord(where, problem)
        sample.annotation.append(annotation)
    return sample


def image_size(storage, uri: str) -> tuple[int, int] | None:
    """(width, height) from the first bytes of an image, read until its header is complete."""
    head = b""
    try:
        for chunk in storage.read_chunks(uri):
            head += chunk
            size = header_size(head)
            if size is not None or len(head) >= MAX_HEADER_BYTES:
                return size
    except StorageError:
        return None
    return header_size(head)


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, BMP, WebP or JPEG image from its header bytes; None when
    the bytes are none of these or end before the size."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"BM" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return width, abs(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
        return None
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


# Start-of-frame markers carry the size; C4 (Huffman tables), C8 and CC (arithmetic) do not.
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")
        if marker in _JPEG_FRAMES:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
        position += 2 + length
    return None


# --- Label Studio ---------------------------------------------------------------------------------

# The data key that holds a task's object, by dataset type.
LABEL_STUDIO_DATA = {
    DatasetType.IMAGE_CLASSIFICATION: "image", DatasetType.OBJECT_DETECTION: "image",
    DatasetType.TEXT_CLASSIFICATION: "text", DatasetType.NAMED_ENTITY: "text",
}


def _label_studio(source: FormatSource, *, storage, uri, options, dataset_type, admits):
    document = _load_json(storage, uri)
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise SourceError(f"'{uri}' is not a Label Studio export: it needs a list of tasks.")
    source.total = len(document)
    for index, task in enumerate(document):
        number = index + 1
        try:
            sample = _label_studio_sample(task, options.get("images_uri"), dataset_type)
        except ValueError as exc:
            yield number, ManifestLineError(line=number, reason=str(exc), path=f"{uri}#/{index}")
        else:
            yield number, sample


def _label_studio_sample(task, images_uri: str | None, dataset_type: str) -> ManifestSample:
    key = LABEL_STUDIO_DATA[dataset_type]
    data = task.get("data") if isinstance(task, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"the task needs data.{key} (a {dataset_type} dataset takes its '{key}')")
    if key == "text":
        if len(value) > MAX_INLINE_TEXT:
            raise ValueError(f"the text has {len(value):,} characters; inline texts have at most {MAX_INLINE_TEXT:,}")
        sample = ManifestSample(source=INLINE_TEXT_SCHEME + value, property={"text": value})
    elif "://" in value:
        sample = ManifestSample(source=value)
    elif images_uri:
        sample = ManifestSample(source=_join(images_uri, value))
    else:
        raise ValueError(f"data.{key} '{value[:80]}' is a path, not a storage URI; give the option images_uri "
                         "that it is relative to")
    # The latest annotation that was not cancelled is the one that stands (older exports: completions).
    given = task.get("annotations") or task.get("completions") or []
    if not isinstance(given, list):
        raise ValueError("the task's 'annotations' must be a list")
    annotations = [a for a in given if isinstance(a, dict) and not a.get("was_cancelled")]
    results = annotations[-1].get("result") or [] if annotations else []
    if not isinstance(results, list):
        raise ValueError("an annotation's 'result' must be a list")
    for index, result in enumerate(results):
        value = result.get("value") if isinstance(result, dict) else None
        if not isinstance(value, dict):
            raise ValueError(f"result {index}: it needs a 'value' object")
        kind = result.get("type")
        if kind == "choices":
            made = [{"name": name, "type": ANNOTATION_TYPES[dataset_type][0]} for name in _names(value, "choices")]
        elif kind == "labels":
            made = [{"name": name, "type": ENTITY, "property": {"@modelarts:start_index": value.get("start"),
                                                              "@modelarts:end_index": value.get("end")}}
                    for name in _names(value, "labels")]
        elif kind == "rectanglelabels":
            made = _label_studio_boxes(result, value, sample)
        else:
            raise ValueError(f"result {index}: type '{kind}' is not imported (choices, labels, rectanglelabels are)")
        for annotation in made:
            if isinstance(result.get("score"), float | int):
                annotation["confidence"] = result["score"]
            problem = annotation_error(dataset_type=dataset_type, annotation=annotation, metadata=sample.property,
                                       label_names=None)
            if problem:
                raise ValueError(f"result {index}: {problem}")
            sample.annotation.append(annotation)
    return sample


def _names(value: dict, key: str) -> list:
    names = value.get(key)
    if not isinstance(names, list) or not names:
        raise ValueError(f"a {key} result needs value.{key}, a list of label names")
    return names


def _label_studio_boxes(result: dict, value: dict, sample: ManifestSample) -> list:
    width, height = result.get("original_width"), result.get("original_height")
    if not (_number(width) and _number(height) and width > 0 and height > 0):
        raise ValueError("a rectangle needs original_width and original_height to turn percentages into pixels")
    if not all(_number(value.get(k)) for k in ("x", "y", "width", "height")):
        raise ValueError("a rectangle needs numbers x, y, width and height (percentages)")
    if value.get("rotation"):
        raise ValueError("rotated rectangles are not imported; boxes are upright")
    sample.property.update(width=width, height=height)
    box = {"xmin": _exact(value["x"] * width / 100), "ymin": _exact(value["y"] * height / 100),
           "xmax": _exact((value["x"] + value["width"]) * width / 100),
           "ymax": _exact((value["y"] + value["height"]) * height / 100)}
    return [{"name": name, "type": BOX, "box": dict(box)} for name in _names(value, "rectanglelabels")]


# --- CSV and TSV ----------------------------------------------------------------------------------


def _csv(source: FormatSource, *, storage, uri, options, dataset_type, admits):
    delimiter = options.get("delimiter") or ("\t" if uri.lower().endswith(".tsv") else ",")
    text_column, label_column = options.get("text_column", "text"), options.get("label_column", "label")
    lines = (line.decode("utf-8", errors="replace") + "\n" for line in storage.read_lines(uri))
    reader = csv.reader(_without_bom(lines), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(f"'{uri}' is empty; it needs a header row naming its columns.") from None
    except csv.Error as exc:
        raise SourceError(f"'{uri}': {exc}.") from None
    header = [name.strip() for name in header]
    if text_column not in header:
        raise SourceError(f"'{uri}' has no column '{text_column}' (it has {', '.join(header)}); name the text's "
                          "column in the option text_column.")
    text_at = header.index(text_column)
    label_at = header.index(label_column) if label_column in header else None
    if label_at is None and "label_column" in options:
        raise SourceError(f"'{uri}' has no column '{label_column}' (it has {', '.join(header)}).")
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield number, ManifestLineError(line=number, reason=str(exc), path=f"{uri}:{reader.line_num}")
            continue
        if not any(cell.strip() for cell in row):
            continue
        number += 1
        where = f"{uri}:{reader.line_num}"
        if len(row) != len(header):
            yield number, ManifestLineError(line=number, path=where,
                                            reason=f"the row has {len(row)} fields; the header has {len(header)}")
            continue
        text = row[text_at]
        if not text.strip():
            yield number, ManifestLineError(line=number, reason=f"the column '{text_column}' is empty", path=where)
        elif len(text) > MAX_INLINE_TEXT:
            yield number, ManifestLineError(line=number, path=where, reason=(
                f"the text has {len(text):,} characters; inline texts have at most {MAX_INLINE_TEXT:,}"))
        else:
            label = row[label_at].strip() if label_at is not None else ""
            annotation = [{"name": label, "type": ANNOTATION_TYPES[dataset_type][0]}] if label else []
            yield number, ManifestSample(source=INLINE_TEXT_SCHEME + text, property={"text": text},
                                         annotation=annotation)


def _without_bom(lines: Iterator[str]) -> Iterator[str]:
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from lines

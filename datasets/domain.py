"""Pure rules of datasets: what each dataset type accepts as files and as annotations."""

import re
from datetime import datetime

from django.db import models


class DatasetType(models.TextChoices):
    IMAGE_CLASSIFICATION = "image_classification", "Image classification"
    OBJECT_DETECTION = "object_detection", "Object detection"
    TEXT_CLASSIFICATION = "text_classification", "Text classification"
    NAMED_ENTITY = "named_entity", "Named entity recognition"
    TEXT_TRIPLET = "text_triplet", "Text triplet"
    AUDIO_CLASSIFICATION = "audio_classification", "Audio classification"
    SPEECH = "speech", "Speech (audio content)"
    TABLE = "table", "Table"
    VIDEO = "video", "Video"
    FREE_FORMAT = "free_format", "Free format"


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
TEXT_EXTENSIONS = (".txt", ".csv", ".tsv", ".json", ".jsonl")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".m4a")

# Objects an import from a prefix takes as samples; None takes every object.
EXTENSIONS = {
    DatasetType.IMAGE_CLASSIFICATION: IMAGE_EXTENSIONS,
    DatasetType.OBJECT_DETECTION: IMAGE_EXTENSIONS,
    DatasetType.TEXT_CLASSIFICATION: TEXT_EXTENSIONS,
    DatasetType.NAMED_ENTITY: TEXT_EXTENSIONS,
    DatasetType.TEXT_TRIPLET: TEXT_EXTENSIONS,
    DatasetType.AUDIO_CLASSIFICATION: AUDIO_EXTENSIONS,
    DatasetType.SPEECH: AUDIO_EXTENSIONS,
    DatasetType.TABLE: (".csv", ".tsv", ".parquet"),
    DatasetType.VIDEO: (".mp4", ".avi", ".mov", ".mkv"),
    DatasetType.FREE_FORMAT: None,
}

# The annotation types (manifest `type`) each dataset type accepts; the first is the default.
ANNOTATION_TYPES = {
    DatasetType.IMAGE_CLASSIFICATION: ("modelarts/image_classification",),
    DatasetType.OBJECT_DETECTION: ("modelarts/object_detection",),
    DatasetType.TEXT_CLASSIFICATION: ("modelarts/text_classification",),
    DatasetType.NAMED_ENTITY: ("modelarts/text_entity",),
    DatasetType.TEXT_TRIPLET: ("modelarts/text_entity", "modelarts/text_triplet"),
    DatasetType.AUDIO_CLASSIFICATION: ("modelarts/audio_classification",),
    DatasetType.SPEECH: ("modelarts/audio_content",),
    DatasetType.TABLE: ("modelarts/table",),
    DatasetType.VIDEO: ("modelarts/video_classification",),
    DatasetType.FREE_FORMAT: ("modelarts/free_format",),
}

# Text samples may carry their text inline instead of in an object.
INLINE_TEXT_SCHEME = "content://"
LABEL_NAME_LENGTH = 100  # SampleLabel.name's
ANNOTATOR_LENGTH = 150  # Sample.annotated_by's, a username's
TEXT_TYPES = (DatasetType.TEXT_CLASSIFICATION, DatasetType.NAMED_ENTITY, DatasetType.TEXT_TRIPLET)

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6")
ATTRIBUTE_TYPES = ("boolean", "text", "number", "choice")


def accepts_object(dataset_type: str, uri: str) -> bool:
    extensions = EXTENSIONS[dataset_type]
    return extensions is None or uri.lower().endswith(extensions)


def default_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def label_set_errors(labels) -> dict:
    """What is wrong with a label set, by label index and field; empty when it is valid."""
    if not isinstance(labels, list):
        return {"labels": "Give a list of labels: [{\"name\": \"cat\", \"color\": \"#ff0000\"}]."}
    errors = {}
    seen = set()
    for index, label in enumerate(labels):
        if not isinstance(label, dict):
            errors[index] = {"name": "Each label is an object with a name, and optionally color and attributes."}
            continue
        problems = {}
        name = label.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > LABEL_NAME_LENGTH:
            problems["name"] = f"A label needs a name of 1 to {LABEL_NAME_LENGTH} characters."
        elif name in seen:
            problems["name"] = f"The label '{name}' is listed twice; names must be unique."
        else:
            seen.add(name)
        colour = label.get("color")
        if colour is not None and (not isinstance(colour, str) or not COLOUR.match(colour)):
            problems["color"] = "Give the colour as #rrggbb, e.g. #ff0000."
        attributes = label.get("attributes", [])
        if not isinstance(attributes, list) or any(
            not isinstance(a, dict) or not isinstance(a.get("name"), str)
            or a.get("type", "text") not in ATTRIBUTE_TYPES
            for a in attributes
        ):
            problems["attributes"] = (
                f"Attributes are a list of {{\"name\": ..., \"type\": one of {', '.join(ATTRIBUTE_TYPES)}}}."
            )
        unknown = set(label) - {"name", "color", "attributes"}
        if unknown:
            problems["name"] = f"Unknown label fields: {', '.join(sorted(unknown))}."
        if problems:
            errors[index] = problems
    return {"labels": errors} if errors else {}


def normalized_label_set(labels: list) -> list:
    return [
        {
            "name": label["name"],
            "color": label.get("color") or default_colour(i),
            "attributes": label.get("attributes", []),
        }
        for i, label in enumerate(labels)
    ]


def _number(value) -> bool:
    return type(value) in (int, float)


def annotation_error(*, dataset_type: str, annotation: dict, metadata: dict, label_names) -> str | None:
    """What is wrong with one annotation of a sample, or None. `label_names` None accepts any label."""
    kind = annotation.get("type")
    accepted = ANNOTATION_TYPES[dataset_type]
    if kind not in accepted:
        return f"type '{kind}' does not fit a {dataset_type} dataset; use {' or '.join(accepted)}."
    name = annotation.get("name")
    if not isinstance(name, str) or not name:
        return "an annotation needs the label 'name'."
    if len(name) > LABEL_NAME_LENGTH:
        return f"a label name has at most {LABEL_NAME_LENGTH} characters."
    if label_names is not None and name not in label_names:
        return f"label '{name}' is not in the dataset's label set; add it to the dataset's labels first."
    confidence = annotation.get("confidence")
    if confidence is not None and (not _number(confidence) or not 0 <= confidence <= 1):
        return "confidence must be a number between 0 and 1."
    if kind == "modelarts/object_detection":
        return _box_error(annotation, metadata)
    if kind == "modelarts/text_entity":
        return _span_error(annotation, metadata)
    return None


def _box_error(annotation, metadata):
    box = annotation.get("box")
    if box is None:
        if annotation.get("annotation-loc"):
            return None
        return "an object detection annotation needs a box {xmin, ymin, xmax, ymax} (or an annotation-loc)."
    if not isinstance(box, dict) or not all(_number(box.get(k)) for k in ("xmin", "ymin", "xmax", "ymax")):
        return "the box needs numbers xmin, ymin, xmax and ymax."
    if not (0 <= box["xmin"] < box["xmax"] and 0 <= box["ymin"] < box["ymax"]):
        return "the box needs 0 <= xmin < xmax and 0 <= ymin < ymax."
    width, height = metadata.get("width"), metadata.get("height")
    if _number(width) and _number(height) and (box["xmax"] > width or box["ymax"] > height):
        return f"the box lies outside the {width}x{height} image."
    return None


def _span_error(annotation, metadata):
    properties = annotation.get("property") or {}
    start, end = properties.get("@modelarts:start_index"), properties.get("@modelarts:end_index")
    if not (isinstance(start, int) and isinstance(end, int)):
        return "an entity needs property @modelarts:start_index and @modelarts:end_index (integers)."
    if not 0 <= start < end:
        return "an entity needs 0 <= @modelarts:start_index < @modelarts:end_index."
    text = metadata.get("text")
    if isinstance(text, str) and end > len(text):
        return f"the entity ends at {end}, past the end of the {len(text)}-character text."
    return None


def creation_time(moment: datetime) -> str:
    """The manifest's creation-time format (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")

"""Manifests: JSON lines in the ModelArts style, one sample per line.

    {"source": "s3://bucket/cat1.jpg", "usage": "TRAIN", "id": "7",
     "property": {"width": 640, "height": 480},
     "annotation": [{"name": "cat", "type": "modelarts/image_classification",
                     "annotated-by": "alice", "creation-time": "2026-11-23 10:00:00", "confidence": 0.9}]}

The reader takes an iterable of lines and yields one result per line, so a manifest of any size
is read in constant memory; the writer yields lines for a stream of samples."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from aiplatform import jsoncodec

USAGES = {"TRAIN", "EVAL", "INFERENCE"}


@dataclass
class ManifestSample:
    source: str
    usage: str = ""  # one of USAGES, or "" for none
    id: str = ""
    property: dict = field(default_factory=dict)
    annotation: list = field(default_factory=list)


@dataclass(frozen=True)
class ManifestLineError:
    line: int
    reason: str
    path: str = ""  # where in the source, for formats other than the manifest (a file, a JSON pointer)


def parse_line(text: bytes | str) -> ManifestSample:
    """One manifest line as a sample; raises ValueError saying what is wrong with it."""
    if (b"\\u0000" if isinstance(text, bytes) else "\\u0000") in text:
        raise ValueError("the line contains a NUL character (\\u0000), which cannot be stored")
    data = jsoncodec.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    source = data.get("source")
    if not isinstance(source, str) or not source:
        raise ValueError("'source' is required and must be a non-empty string")
    usage = data.get("usage") or ""
    if not isinstance(usage, str) or (usage and usage.upper() not in USAGES):
        raise ValueError(f"'usage' must be one of {', '.join(sorted(USAGES))}")
    sample_id = data.get("id", "")
    if not isinstance(sample_id, str | int):
        raise ValueError("'id' must be a string")
    properties = data.get("property") or {}
    if not isinstance(properties, dict):
        raise ValueError("'property' must be an object")
    annotations = data.get("annotation") or []
    if not isinstance(annotations, list):
        raise ValueError("'annotation' must be a list")
    for index, annotation in enumerate(annotations):
        if not isinstance(annotation, dict):
            raise ValueError(f"annotation {index} must be an object")
        if not isinstance(annotation.get("name"), str) or not annotation["name"]:
            raise ValueError(f"annotation {index} needs a 'name'")
        if not isinstance(annotation.get("type"), str) or not annotation["type"]:
            raise ValueError(f"annotation {index} needs a 'type' such as modelarts/image_classification")
    return ManifestSample(
        source=source, usage=usage.upper(), id=str(sample_id), property=properties, annotation=annotations
    )


def read_manifest(lines: Iterable[bytes | str]) -> Iterator[tuple[int, ManifestSample | ManifestLineError]]:
    """Yields (line number, sample or error) for each non-blank line; numbers start at 1."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, parse_line(line)
        except ValueError as exc:
            yield number, ManifestLineError(line=number, reason=str(exc))


def manifest_line(sample: ManifestSample) -> bytes:
    data = {"source": sample.source}
    if sample.usage:
        data["usage"] = sample.usage
    if sample.id:
        data["id"] = sample.id
    if sample.property:
        data["property"] = sample.property
    data["annotation"] = sample.annotation
    return jsoncodec.dumps(data) + b"\n"


def write_manifest(samples: Iterable[ManifestSample], *, lines_per_chunk: int = 1000) -> Iterator[bytes]:
    """The manifest of a stream of samples, as chunks of a few hundred KB for a streaming upload."""
    chunk = []
    for sample in samples:
        chunk.append(manifest_line(sample))
        if len(chunk) >= lines_per_chunk:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)

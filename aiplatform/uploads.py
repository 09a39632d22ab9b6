"""Uploads in parts into a workspace's own locations (its managed location, grants, its account's
storage connections), resumable and size-limited.

An upload names one object. S3/OBS parts go straight to the storage service through presigned
links made with the credentials that reach the location for this workspace (the account's own for
a storage connection, never the platform's for a tenant's bucket); parts for the embedded storage
go through the API, streamed to a staging folder. Either way the object appears whole when the
upload completes, and a client that lost its connection asks which parts arrived and sends the
rest.

The upload's id is signed and carries what the upload is (workspace, user, object, size, part
size, the backend's own upload id): no row to keep, and another workspace or user holding the id
gets the 404 of an upload that does not exist."""

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing
from rest_framework.exceptions import NotFound, ValidationError

from . import locations
from .errors import Conflict
from .models import Workspace
from .storage import LocalStorage, ObjectInfo, ObjectStorage, PartInfo, StorageError, parse_uri

SALT = "aiplatform.uploads"
MAX_PARTS = 1000
MIB = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    id: str
    workspace_id: str
    user_id: int
    uri: str
    size: int
    part_size: int
    backend_id: str
    started_at: float

    @property
    def part_count(self) -> int:
        return max(1, math.ceil(self.size / self.part_size))

    def part_length(self, number: int) -> int:
        """The bytes part `number` must hold: `part_size`, except the last one."""
        return min(self.part_size, self.size - (number - 1) * self.part_size)

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.started_at + settings.UPLOAD_SESSION_SECONDS, tz=UTC)


def part_size_for(size: int) -> int:
    """UPLOAD_PART_BYTES, or larger (whole MiB) where the object would need more than MAX_PARTS."""
    return max(settings.UPLOAD_PART_BYTES, math.ceil(size / MAX_PARTS / MIB) * MIB)


def _storage(workspace: Workspace, uri: str, field: str = "uri") -> ObjectStorage:
    try:
        return locations.storage_at(workspace=workspace, uri=uri, write=True)
    except StorageError as exc:
        raise ValidationError({field: str(exc)}) from None


def start_upload(*, workspace: Workspace, user, uri: str, size: int) -> Upload:
    """Opens an upload of `size` bytes to `uri`, which must be a writable location of the workspace."""
    if size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError({"size": f"An upload may hold at most {settings.UPLOAD_MAX_BYTES} bytes "
                                       "(UPLOAD_MAX_BYTES); split the data into several objects."})
    try:
        key = parse_uri(uri).key
    except StorageError as exc:
        raise ValidationError({"uri": str(exc)}) from None
    if not key or key.endswith("/"):
        raise ValidationError({"uri": f"'{uri}' names a folder; give the object's name (e.g. {uri.rstrip('/')}"
                                      "/data.manifest)."})
    storage = _storage(workspace, uri)
    if isinstance(storage, LocalStorage):
        storage.sweep_uploads(older_than_seconds=settings.UPLOAD_SESSION_SECONDS)
    try:
        backend_id = storage.start_upload(uri)
    except StorageError as exc:
        raise ValidationError({"uri": str(exc)}) from None
    payload = {"w": str(workspace.pk), "u": user.pk, "uri": uri, "size": size, "ps": part_size_for(size),
               "b": backend_id, "t": time.time()}
    return _from_payload(signing.dumps(payload, salt=SALT, compress=True), payload)


def _from_payload(upload_id: str, payload: dict) -> Upload:
    return Upload(id=upload_id, workspace_id=payload["w"], user_id=payload["u"], uri=payload["uri"],
                  size=payload["size"], part_size=payload["ps"], backend_id=payload["b"], started_at=payload["t"])


def find_upload(*, workspace: Workspace, user, upload_id: str) -> Upload:
    """The caller's open upload in this workspace; 404 for anything else (forged, expired, another's)."""
    try:
        upload = _from_payload(upload_id, signing.loads(upload_id, salt=SALT, max_age=settings.UPLOAD_SESSION_SECONDS))
    except (signing.BadSignature, KeyError, TypeError):
        upload = None
    if upload is None or upload.workspace_id != str(workspace.pk) or upload.user_id != user.pk:
        raise NotFound(f"No upload with this id in this workspace (uploads expire "
                       f"{settings.UPLOAD_SESSION_SECONDS} seconds after they start; start a new one).")
    return upload


@dataclass(frozen=True)
class PartState:
    number: int
    size: int
    uploaded: bool
    etag: str | None
    url: str


def upload_state(*, workspace: Workspace, upload: Upload, api_part_url: Callable[[int], str]) -> dict:
    """The upload as a client resumes it: every part with its size, whether it arrived (and its
    ETag), and where to PUT it (a fresh presigned link, or the API's part endpoint)."""
    storage = _storage(workspace, upload.uri)
    try:
        received = {part.number: part for part in storage.list_parts(upload.uri, upload.backend_id)}
    except StorageError as exc:
        raise NotFound(str(exc)) from None
    parts, presigned = [], False
    for number in range(1, upload.part_count + 1):
        part = received.get(number)
        done = part is not None and part.size == upload.part_length(number)
        url = storage.part_upload_url(upload.uri, upload.backend_id, number, settings.UPLOAD_LINK_SECONDS)
        presigned = url is not None
        parts.append(PartState(number=number, size=upload.part_length(number), uploaded=done,
                               etag=part.etag if done else None, url=url or api_part_url(number)))
    return {"id": upload.id, "uri": upload.uri, "size": upload.size, "part_size": upload.part_size,
            "part_count": upload.part_count, "transport": "presigned" if presigned else "api",
            "expires_at": upload.expires_at, "parts": parts}


def write_part(*, workspace: Workspace, upload: Upload, number: int, length: int | None,
               chunks: Iterable[bytes]) -> PartInfo:
    """Stores part `number` from the request body (embedded storage only), which must hold exactly
    the part's bytes; a body that ends early stores nothing."""
    if not 1 <= number <= upload.part_count:
        raise NotFound(f"The upload has parts 1 to {upload.part_count}.")
    expected = upload.part_length(number)
    if length != expected and not (expected == 0 and length is None):
        raise ValidationError({"Content-Length": f"Part {number} holds {expected} bytes; send exactly those "
                                                 f"(Content-Length: {expected})."})
    storage = _storage(workspace, upload.uri)
    if storage.part_upload_url(upload.uri, upload.backend_id, number, 1) is not None:
        raise ValidationError({"number": "The parts of this upload go straight to the storage service: PUT "
                                         "them to the presigned links that GET …/uploads/{id}/ gives."})
    try:
        return storage.write_part(upload.uri, upload.backend_id, number, _exactly(chunks, expected))
    except StorageError as exc:
        raise NotFound(str(exc)) from None


def _exactly(chunks: Iterable[bytes], expected: int) -> Iterator[bytes]:
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > expected:
            raise ValidationError({"Content-Length": f"The body holds more than the part's {expected} bytes."})
        yield chunk
    if received != expected:
        raise ValidationError({"Content-Length": f"The body ended after {received} of the part's {expected} "
                                                 "bytes; send the part again."})


def complete_upload(*, workspace: Workspace, upload: Upload) -> ObjectInfo:
    """Makes the object from its parts, once every part arrived whole. Completing an upload that
    already completed answers the same object, so a client that lost the answer may ask again."""
    storage = _storage(workspace, upload.uri)
    try:
        parts = storage.list_parts(upload.uri, upload.backend_id)
    except StorageError:
        done = next((o for o in storage.list(upload.uri) if o.uri == upload.uri and o.size == upload.size), None)
        if done is None:
            raise NotFound(f"The upload of {upload.uri} is not open (aborted or expired); start a new one.") from None
        return done
    by_number = {part.number: part for part in parts}
    missing = [n for n in range(1, upload.part_count + 1)
               if n not in by_number or by_number[n].size != upload.part_length(n)]
    if missing:
        shown = ", ".join(str(n) for n in missing[:20]) + (" …" if len(missing) > 20 else "")
        raise Conflict(f"{len(missing)} of {upload.part_count} parts have not arrived whole: {shown}. Send them, "
                       "then complete the upload again.", code="upload_incomplete")
    chosen = [by_number[n] for n in range(1, upload.part_count + 1)]
    try:
        size = storage.complete_upload(upload.uri, upload.backend_id, chosen)
    except StorageError as exc:
        raise Conflict(str(exc), code="upload_incomplete") from None
    return ObjectInfo(uri=upload.uri, size=size)


def abort_upload(*, workspace: Workspace, upload: Upload) -> None:
    """Drops the upload and the parts it received."""
    try:
        _storage(workspace, upload.uri).abort_upload(upload.uri, upload.backend_id)
    except StorageError as exc:
        raise NotFound(str(exc)) from None

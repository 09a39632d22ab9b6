"""Uploads into the workspace's locations through the platform's upload API (parts straight to
S3/OBS through presigned links, or through the API for the embedded storage), and downloads of
files the platform serves, each with a progress bar on a terminal."""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import APIConnectionError, APIStatusError
from ._http import retry_delay
from ._progress import progress_bar
from ._types import RequestOptions

if TYPE_CHECKING:
    from ._client import Client
    from .models import Upload, UploadedObject

MD5_HEX = re.compile(r"[0-9a-f]{32}")


def download(client: Client, url: str, *, save_to: str | Path | None = None, query: Mapping[str, Any] | None = None,
             options: RequestOptions | None = None, external: bool = False, description: str | None = None,
             progress: bool | None = None) -> bytes:
    """The file at `url` (an API path, or a link the platform gave), also written to `save_to`
    when given: into a `.part` file first, renamed when whole, so an interrupted download never
    leaves half a file under the name. A download that breaks is started again (max_retries)."""
    transport = client._transport
    retries = (options or {}).get("max_retries", transport.settings.max_retries)
    target = Path(save_to) if save_to is not None else None
    name = description or (target.name if target else url.split("?")[0].rsplit("/", 2)[-2])
    attempt = 0
    while True:
        received = 0
        total: int | None = None
        chunks: list[bytes] = []
        partial = target.with_name(target.name + ".part") if target else None
        try:
            with transport.stream("GET", url, params=query, options=options, authenticate=not external,
                                  rebase=not external) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                with progress_bar(f"download {name}", total, progress) as advance, \
                        (open(partial, "wb") if partial else _Discard()) as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                        chunks.append(chunk)
                        received += len(chunk)
                        advance(len(chunk))
            if total is not None and received != total:
                raise APIConnectionError(f"The download of {name} ended after {received} of {total} bytes.")
        except APIConnectionError as exc:
            if partial:
                partial.unlink(missing_ok=True)
            if attempt < retries:
                time.sleep(retry_delay(attempt, None))
                attempt += 1
                continue
            size = f" of {total}" if total is not None else ""
            raise APIConnectionError(f"The download of {name} was interrupted after {received}{size} bytes "
                                     f"({attempt + 1} tries): {exc.message} Nothing was saved; run it again.",
                                     request_id=exc.request_id) from None
        if partial and target:
            os.replace(partial, target)
        return b"".join(chunks)


class _Discard:
    def __enter__(self) -> _Discard:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, data: bytes) -> None:
        return None


def upload(client: Client, source: str | Path | bytes, uri: str, *, progress: bool | None = None,
           workspace: str | None = None) -> UploadedObject:
    """Writes `source` (a file, or bytes) to `uri` in the workspace's locations, part by part; a
    part that fails is sent again, and one whose link expired gets a fresh link."""
    data = source if isinstance(source, bytes) else None
    path = None if data is not None else Path(source)  # type: ignore[arg-type]
    size = len(data) if data is not None else path.stat().st_size  # type: ignore[union-attr]
    uploads = client.uploads if workspace is None else client.with_options(workspace=workspace).uploads
    session = uploads.create(uri=uri, size=size)
    name = path.name if path else uri.rsplit("/", 1)[-1]
    with progress_bar(f"upload {name}", size, progress) as advance, \
            (open(path, "rb") if path else _Bytes(data or b"")) as handle:
        for part in session.parts:
            if part.uploaded:
                advance(part.size)
                continue
            handle.seek((part.number - 1) * session.part_size)
            chunk = handle.read(part.size)
            session = _send_part(client, uploads, session, part.number, chunk)
            advance(len(chunk))
    return uploads.complete(session.id)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def __enter__(self) -> _Bytes:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def seek(self, offset: int) -> None:
        self._at = offset

    def read(self, n: int) -> bytes:
        return self._data[self._at:self._at + n]


def _send_part(client: Client, uploads: Any, session: Upload, number: int, chunk: bytes) -> Upload:
    """Sends one part and checks the storage got exactly its bytes (its ETag is their MD5)."""
    transport = client._transport
    retries = transport.settings.max_retries
    digest = hashlib.md5(chunk, usedforsecurity=False).hexdigest()
    attempt = 0
    while True:
        part = next(p for p in session.parts if p.number == number)
        presigned = session.transport == "presigned"
        try:
            response = transport.request(
                "PUT", part.url, content=chunk, authenticate=not presigned, rebase=not presigned,
                headers=None if presigned else {"Content-Type": "application/octet-stream"},
                options={"max_retries": retries})
            etag = _etag(response)
            if etag is None or not MD5_HEX.fullmatch(etag) or etag == digest:
                return session
            problem: Exception = APIConnectionError(f"Part {number} arrived damaged (MD5 {etag}, sent {digest}).")
        except APIStatusError as exc:
            if not (presigned and exc.status_code == 403):
                raise
            problem = exc  # the link expired: a fresh one comes with the upload's state
        except APIConnectionError as exc:
            problem = exc
        if attempt >= retries:
            raise problem
        time.sleep(retry_delay(attempt, None))
        attempt += 1
        session = uploads.retrieve(session.id)


def _etag(response: httpx.Response) -> str | None:
    if "json" in response.headers.get("Content-Type", ""):
        value = response.json().get("etag")
        return str(value) if value else None
    header = response.headers.get("ETag")
    return header.strip('"') if header else None

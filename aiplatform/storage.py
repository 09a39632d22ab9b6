"""Object storage addressed by URIs, shared by every app.

`s3://bucket/key` and `obs://bucket/key` go to an S3-compatible service through boto3 (OBS, S3
and MinIO alike); `file://bucket/key` goes to a directory under LOCAL_STORAGE_ROOT, the embedded
default. Which credentials reach a tenant's location is decided in aiplatform.locations; the rest
of the code goes through it and uses the `ObjectStorage` interface only.
"""

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from django.conf import settings
from django.core import signing
from django.urls import reverse

from .models import StorageGrant

logger = logging.getLogger(__name__)

S3_SCHEMES = ("s3", "obs")
LOCAL_SCHEME = "file"
# S3 refuses parts under 5 MiB (except the last); 8 MiB keeps memory small and requests few.
PART_SIZE = 8 * 1024 * 1024
DOWNLOAD_SALT = "aiplatform.storage.download"
BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# A leading '/', an empty segment ('//'), or a '.' or '..' segment: what could leave the bucket.
UNSAFE_KEY = re.compile(r"^/|//|(?:^|/)\.\.?(?:/|$)")


class StorageError(Exception):
    """The platform could not read or write a location. The message says why, without secrets."""


@dataclass(frozen=True)
class Location:
    scheme: str
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.key}"

    def child(self, name: str) -> "Location":
        base = self.key.rstrip("/")
        return Location(self.scheme, self.bucket, f"{base}/{name}" if base else name)


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int


@dataclass(frozen=True)
class PartInfo:
    """A part of an upload in parts: its number (from 1), size and ETag (MD5 of its bytes)."""

    number: int
    size: int
    etag: str


def parse_uri(uri: str) -> Location:
    """Splits `scheme://bucket/key`; raises StorageError naming what is wrong. A key is relative:
    no leading '/', no empty, '.' or '..' segments and no control characters, so that it can never
    name anything outside its bucket."""
    scheme, sep, rest = (uri or "").partition("://")
    if not sep or scheme not in (*S3_SCHEMES, LOCAL_SCHEME):
        raise StorageError(f"'{uri}' is not a storage URI; use s3://bucket/path, obs://bucket/path or file://bucket/path.")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StorageError(f"'{uri}' names no bucket; use {scheme}://bucket/path.")
    if not BUCKET_NAME.fullmatch(bucket):
        raise StorageError(f"'{uri}': '{bucket}' is not a bucket name; use letters, digits, '.', '-' and '_'.")
    if CONTROL_CHARACTER.search(key):
        raise StorageError(f"'{uri}' contains control characters.")
    if UNSAFE_KEY.search(key):
        raise StorageError(f"'{uri}': a path may not start with '/' or contain '//', '.' or '..' segments.")
    return Location(scheme, bucket, key)


class ObjectStorage(ABC):
    """What the platform needs from object storage. Every method takes a URI of this backend."""

    @abstractmethod
    def list(self, prefix_uri: str) -> Iterator[ObjectInfo]:
        """The objects under a prefix, in key order, fetched page by page."""

    @abstractmethod
    def read_chunks(self, uri: str) -> Iterator[bytes]:
        """The object's bytes, streamed."""

    @abstractmethod
    def write(self, uri: str, chunks: Iterable[bytes]) -> int:
        """Writes the object from a stream of chunks (in parts when large); returns its size."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Removes the object; a missing object is not an error."""

    @abstractmethod
    def download_url(self, uri: str, expires_in: int = 3600, scope: dict | None = None) -> str:
        """A link that lets its holder download the object until it expires; `scope` (whose
        workspace and user asked) binds links that the platform serves itself."""

    # Uploads in parts: a client sends the parts of one object in any order, again where a part
    # failed, and the object appears whole when the upload completes (never half of it).

    @abstractmethod
    def start_upload(self, uri: str) -> str:
        """Starts an upload in parts of the object; returns the upload's id."""

    @abstractmethod
    def part_upload_url(self, uri: str, upload_id: str, number: int, expires_in: int) -> str | None:
        """A presigned link that takes the part's bytes in a PUT; None when this backend has none
        (the platform writes the part with `write_part`)."""

    @abstractmethod
    def write_part(self, uri: str, upload_id: str, number: int, chunks: Iterable[bytes]) -> PartInfo:
        """Writes (or replaces) one part."""

    @abstractmethod
    def list_parts(self, uri: str, upload_id: str) -> "list[PartInfo]":
        """The parts received so far, by number; StorageError when the upload is not open."""

    @abstractmethod
    def complete_upload(self, uri: str, upload_id: str, parts: "list[PartInfo]") -> int:
        """Makes the object of `parts` (numbered 1…n); returns its size."""

    @abstractmethod
    def abort_upload(self, uri: str, upload_id: str) -> None:
        """Drops an upload and its parts; one that is not open is not an error."""

    def read_lines(self, uri: str) -> Iterator[bytes]:
        """The object's lines without their line endings, streamed (never the whole object)."""
        pending = b""
        for chunk in self.read_chunks(uri):
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                yield line.rstrip(b"\r")
        if pending:
            yield pending.rstrip(b"\r")


class S3Storage(ObjectStorage):
    """An S3-compatible service reached with one set of credentials; `credentials` names whose
    they are in error messages (the platform's, or a storage connection's)."""

    def __init__(self, *, endpoint_url: str | None, region: str | None, access_key_id: str | None,
                 secret_access_key: str | None, path_style: bool, session_token: str | None = None,
                 credentials: str = "the platform's storage credentials"):
        self._credentials = credentials
        try:
            self._client = self._make_client(endpoint_url, region, access_key_id, secret_access_key, session_token,
                                             path_style)
        except (BotoCoreError, ValueError) as exc:
            raise StorageError(f"The settings of {credentials} are not usable ({type(exc).__name__}); check the "
                               "region and the endpoint.") from None

    @staticmethod
    def _make_client(endpoint_url, region, access_key_id, secret_access_key, session_token, path_style):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            aws_session_token=session_token or None,
            config=Config(
                s3={"addressing_style": "path" if path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    def _fail(self, location: Location, exc: Exception) -> StorageError:
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            reasons = {
                "NoSuchBucket": f"bucket '{location.bucket}' does not exist",
                "NoSuchKey": f"object '{location.uri}' does not exist",
                "404": f"object '{location.uri}' does not exist",
                "AccessDenied": f"access to '{location.uri}' is denied; check {self._credentials}",
                "403": f"access to '{location.uri}' is denied; check {self._credentials}",
                "InvalidAccessKeyId": f"the access key of {self._credentials} is not valid",
                "SignatureDoesNotMatch": f"the secret key of {self._credentials} is not valid",
            }
            return StorageError(f"Cannot access {location.uri}: {reasons.get(code, code or 'storage error')}.")
        # botocore's messages name the endpoint, which callers outside the platform must not learn.
        logger.warning("storage request for %s failed: %s", location.uri, exc)
        if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError)):
            return StorageError(f"Cannot access {location.uri}: the storage service did not answer in time; "
                                "try again later.")
        if isinstance(exc, EndpointConnectionError):
            return StorageError(f"Cannot access {location.uri}: the storage service could not be reached; "
                                "try again later.")
        return StorageError(f"Cannot access {location.uri}: the storage request failed ({type(exc).__name__}).")

    def list(self, prefix_uri):
        location = parse_uri(prefix_uri)
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key):
                for item in page.get("Contents", []):
                    yield ObjectInfo(uri=f"{location.scheme}://{location.bucket}/{item['Key']}", size=item["Size"])
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None

    def read_chunks(self, uri):
        location = parse_uri(uri)
        try:
            body = self._client.get_object(Bucket=location.bucket, Key=location.key)["Body"]
            yield from body.iter_chunks(chunk_size=1024 * 1024)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None

    def write(self, uri, chunks):
        location = parse_uri(uri)
        try:
            return self._write(location, chunks)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None

    def _write(self, location, chunks):
        buffer = bytearray()
        upload_id = None
        parts = []
        size = 0
        try:
            for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= PART_SIZE:
                    if upload_id is None:
                        upload_id = self._client.create_multipart_upload(
                            Bucket=location.bucket, Key=location.key
                        )["UploadId"]
                    parts.append(self._upload_part(location, upload_id, len(parts) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                self._client.put_object(Bucket=location.bucket, Key=location.key, Body=bytes(buffer))
                return size
            if buffer:
                parts.append(self._upload_part(location, upload_id, len(parts) + 1, bytes(buffer)))
            self._client.complete_multipart_upload(
                Bucket=location.bucket, Key=location.key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            return size
        except BaseException:
            if upload_id is not None:
                self._client.abort_multipart_upload(Bucket=location.bucket, Key=location.key, UploadId=upload_id)
            raise

    def _upload_part(self, location, upload_id, number, data):
        etag = self._client.upload_part(
            Bucket=location.bucket, Key=location.key, UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        return {"ETag": etag, "PartNumber": number}

    def delete(self, uri):
        location = parse_uri(uri)
        try:
            self._client.delete_object(Bucket=location.bucket, Key=location.key)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None

    def download_url(self, uri, expires_in=3600, scope=None):
        location = parse_uri(uri)
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=expires_in
        )

    def start_upload(self, uri):
        location = parse_uri(uri)
        try:
            return self._client.create_multipart_upload(Bucket=location.bucket, Key=location.key)["UploadId"]
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None

    def part_upload_url(self, uri, upload_id, number, expires_in):
        location = parse_uri(uri)
        return self._client.generate_presigned_url(
            "upload_part", ExpiresIn=expires_in,
            Params={"Bucket": location.bucket, "Key": location.key, "UploadId": upload_id, "PartNumber": number},
        )

    def write_part(self, uri, upload_id, number, chunks):
        location = parse_uri(uri)
        data = b"".join(chunks)
        try:
            part = self._upload_part(location, upload_id, number, data)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None
        return PartInfo(number=number, size=len(data), etag=part["ETag"].strip('"'))

    def list_parts(self, uri, upload_id):
        location = parse_uri(uri)
        try:
            pages = self._client.get_paginator("list_parts").paginate(
                Bucket=location.bucket, Key=location.key, UploadId=upload_id)
            return [PartInfo(number=p["PartNumber"], size=p["Size"], etag=p["ETag"].strip('"'))
                    for page in pages for p in page.get("Parts", [])]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise StorageError(f"The upload of {location.uri} is not open (completed or aborted).") from None
            raise self._fail(location, exc) from None
        except BotoCoreError as exc:
            raise self._fail(location, exc) from None

    def complete_upload(self, uri, upload_id, parts):
        location = parse_uri(uri)
        try:
            self._client.complete_multipart_upload(
                Bucket=location.bucket, Key=location.key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"ETag": f'"{p.etag}"', "PartNumber": p.number} for p in parts]},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(location, exc) from None
        return sum(p.size for p in parts)

    def abort_upload(self, uri, upload_id):
        location = parse_uri(uri)
        try:
            self._client.abort_multipart_upload(Bucket=location.bucket, Key=location.key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise self._fail(location, exc) from None
        except BotoCoreError as exc:
            raise self._fail(location, exc) from None


class LocalStorage(ObjectStorage):
    """Buckets are directories under `root`; download links are signed URLs of this API.

    Paths are walked a component at a time from the bucket's directory, refusing symbolic links
    (O_NOFOLLOW), so neither a crafted key nor a link that sandboxed code left in its own location
    reaches anything outside the bucket."""

    def __init__(self, *, root: Path, creates_buckets: bool = False):
        self.root = Path(root)
        self.creates_buckets = creates_buckets

    def path(self, location: Location) -> Path:
        """Where the location lies on disk (for binding into sandboxes); the key is checked, but a
        link along the path is only refused by the methods that open it."""
        return self.root / location.bucket / location.key

    def _bucket_fd(self, location: Location, *, create: bool = False) -> int:
        if create and self.creates_buckets:
            (self.root / location.bucket).mkdir(parents=True, exist_ok=True)
        try:
            return os.open(self.root / location.bucket, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise StorageError(f"Cannot access {location.uri}: bucket '{location.bucket}' does not exist.") from None
        except OSError as exc:
            raise self._fail(location, exc) from None

    @staticmethod
    def _fail(location: Location, exc: OSError) -> StorageError:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            return StorageError(f"Cannot access {location.uri}: the path holds a symbolic link or a file where "
                                "a folder belongs; the platform follows neither.")
        if exc.errno == errno.ENOENT:
            return StorageError(f"Cannot access {location.uri}: object does not exist.")
        return StorageError(f"Cannot access {location.uri}: {exc.strerror}.")

    def _open_dir(self, location: Location, parts: list[str], *, create: bool = False) -> int:
        """A descriptor of the folder `parts` below the bucket, each step refusing links."""
        fd = self._bucket_fd(location, create=create)
        try:
            for part in parts:
                if create:
                    try:
                        os.mkdir(part, dir_fd=fd)
                    except FileExistsError:
                        pass
                child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError as exc:
            os.close(fd)
            raise self._fail(location, exc) from None
        return fd

    def _open_file(self, location: Location):
        *parents, name = location.key.split("/")
        if not name:
            raise StorageError(f"Cannot access {location.uri}: it names a folder, not an object.")
        fd = self._open_dir(location, parents)
        try:
            # Non-blocking: opening a FIFO that sandboxed code left in its location would otherwise
            # wait for a writer forever, holding an API worker or an import.
            handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError as exc:
            raise self._fail(location, exc) from None
        finally:
            os.close(fd)
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            raise StorageError(f"Cannot access {location.uri}: it is not an object.")
        os.set_blocking(handle, True)
        return os.fdopen(handle, "rb")

    def list(self, prefix_uri):
        location = parse_uri(prefix_uri)
        folder, _, _ = location.key.rpartition("/")
        # Walk only the folder the prefix lies in, in key order like S3.
        os.close(self._bucket_fd(location))  # a missing bucket is an error; a missing folder lists nothing
        try:
            fd = self._open_dir(location, folder.split("/") if folder else [])
        except StorageError:
            return
        try:
            yield from self._walk(location, fd, folder)
        finally:
            os.close(fd)

    def _walk(self, location: Location, fd: int, folder: str):
        entries = sorted(os.scandir(fd), key=lambda e: e.name)
        for entry in entries:
            key = f"{folder}/{entry.name}" if folder else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if not (key + "/").startswith(location.key) and not location.key.startswith(key + "/"):
                    continue
                try:
                    child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError:
                    continue
                try:
                    yield from self._walk(location, child, key)
                finally:
                    os.close(child)
            elif entry.is_file(follow_symlinks=False) and key.startswith(location.key):
                yield ObjectInfo(uri=f"{location.scheme}://{location.bucket}/{key}",
                                 size=entry.stat(follow_symlinks=False).st_size)

    def read_chunks(self, uri):
        location = parse_uri(uri)
        with self._open_file(location) as handle:
            try:
                while chunk := handle.read(1024 * 1024):
                    yield chunk
            except OSError as exc:
                raise self._fail(location, exc) from None

    def open(self, uri: str):
        """The object as an open binary file (for streaming responses)."""
        return self._open_file(parse_uri(uri))

    def write(self, uri, chunks):
        location = parse_uri(uri)
        *parents, name = location.key.split("/")
        if not name:
            raise StorageError(f"Cannot write {uri}: it names a folder; give an object's name.")
        fd = self._open_dir(location, parents, create=True)
        size = 0
        # Written aside and renamed, so readers never see half an object.
        temporary = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            handle = os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                                       dir_fd=fd), "wb")
            try:
                with handle:
                    for chunk in chunks:
                        handle.write(chunk)
                        size += len(chunk)
                os.rename(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                os.unlink(temporary, dir_fd=fd)
                raise
        except OSError as exc:
            raise self._fail(location, exc) from None
        finally:
            os.close(fd)
        return size

    def delete(self, uri):
        location = parse_uri(uri)
        *parents, name = location.key.split("/")
        if not name:
            return
        try:
            fd = self._open_dir(location, parents)
        except StorageError:
            return
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._fail(location, exc) from None
        finally:
            os.close(fd)

    def download_url(self, uri, expires_in=3600, scope=None):
        # The lifetime is the server's (STORAGE_DOWNLOAD_LINK_SECONDS when checked), not the link's.
        token = signing.dumps({"uri": uri, "scope": scope or {}}, salt=DOWNLOAD_SALT, compress=True)
        return f"{reverse('storage-download')}?{urlencode({'token': token})}"

    # Parts wait in a staging folder beside the buckets (no bucket can be named '.uploads'), one
    # folder per upload holding the object's URI and its parts, each named `<number>-<md5>`.

    def _staging(self, upload_id: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
            raise StorageError("Not an upload id of the embedded storage.")
        return self.root / ".uploads" / upload_id

    def _open_staging(self, uri: str, upload_id: str) -> Path:
        folder = self._staging(upload_id)
        try:
            target = (folder / "target").read_text()
        except FileNotFoundError:
            raise StorageError(f"The upload of {uri} is not open (completed, aborted or expired).") from None
        if target != uri:
            raise StorageError(f"The upload {upload_id} is not one of {uri}.")
        return folder

    def start_upload(self, uri):
        location = parse_uri(uri)
        if not location.key or location.key.endswith("/"):
            raise StorageError(f"Cannot write {uri}: it names a folder; give an object's name.")
        os.close(self._bucket_fd(location, create=True))
        upload_id = secrets.token_hex(16)
        folder = self._staging(upload_id)
        folder.mkdir(parents=True)
        (folder / "target").write_text(uri)
        return upload_id

    def part_upload_url(self, uri, upload_id, number, expires_in):
        return None

    def write_part(self, uri, upload_id, number, chunks):
        folder = self._open_staging(uri, upload_id)
        temporary = folder / f".{number}.{secrets.token_hex(6)}.tmp"
        digest, size = hashlib.md5(usedforsecurity=False), 0
        try:
            with open(temporary, "xb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            final = folder / f"{number}-{digest.hexdigest()}"
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        for older in folder.glob(f"{number}-*"):
            if older != final:
                older.unlink(missing_ok=True)
        return PartInfo(number=number, size=size, etag=digest.hexdigest())

    def list_parts(self, uri, upload_id):
        folder = self._open_staging(uri, upload_id)
        newest: dict[int, os.DirEntry] = {}
        for entry in os.scandir(folder):
            number, dash, etag = entry.name.partition("-")
            if not dash or not number.isdigit() or not entry.is_file(follow_symlinks=False):
                continue
            seen = newest.get(int(number))
            if seen is None or entry.stat().st_mtime_ns > seen.stat().st_mtime_ns:
                newest[int(number)] = entry
        return [PartInfo(number=n, size=e.stat().st_size, etag=e.name.partition("-")[2])
                for n, e in sorted(newest.items())]

    def complete_upload(self, uri, upload_id, parts):
        folder = self._open_staging(uri, upload_id)

        def stream(part: PartInfo):
            with open(folder / f"{part.number}-{part.etag}", "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk

        try:
            size = self.write(uri, chain.from_iterable(stream(part) for part in parts))
        except FileNotFoundError:
            raise StorageError(f"A part of the upload of {uri} changed while it completed; send it again.") from None
        shutil.rmtree(folder, ignore_errors=True)
        return size

    def abort_upload(self, uri, upload_id):
        try:
            folder = self._open_staging(uri, upload_id)
        except StorageError:
            return
        shutil.rmtree(folder, ignore_errors=True)

    def sweep_uploads(self, *, older_than_seconds: float) -> None:
        """Drops the staging folders of uploads started longer ago than that (never completed)."""
        staging = self.root / ".uploads"
        if not staging.is_dir():
            return
        cutoff = time.time() - older_than_seconds
        for folder in staging.iterdir():
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue

    @staticmethod
    def read_download_token(token: str, *, max_age: int) -> tuple[str, dict] | None:
        """The (uri, scope) a download link was made for, or None when forged or expired."""
        try:
            payload = signing.loads(token, salt=DOWNLOAD_SALT, max_age=max_age)
            uri, scope = payload["uri"], payload["scope"]
            parse_uri(uri)
        except (signing.BadSignature, StorageError, KeyError, TypeError):
            return None
        return uri, scope


def platform_storage(uri: str) -> ObjectStorage:
    """The backend that serves this URI with the PLATFORM's credentials. Only for locations the
    platform owns (workspaces' managed locations, what an operator granted): tenants' URIs go
    through aiplatform.locations, which decides whose credentials reach them."""
    location = parse_uri(uri)
    if location.scheme == LOCAL_SCHEME:
        return local_storage()
    return _s3_storage(
        settings.OBJECT_STORAGE_ENDPOINT_URL,
        settings.OBJECT_STORAGE_REGION,
        settings.OBJECT_STORAGE_ACCESS_KEY_ID,
        settings.OBJECT_STORAGE_SECRET_ACCESS_KEY,
        settings.OBJECT_STORAGE_PATH_STYLE,
    )


@lru_cache(maxsize=8)
def _s3_storage(endpoint_url, region, access_key_id, secret_access_key, path_style) -> S3Storage:
    # boto3 clients are thread-safe and costly to build: one per configuration.
    return S3Storage(endpoint_url=endpoint_url, region=region, access_key_id=access_key_id,
                     secret_access_key=secret_access_key, path_style=path_style)


def local_storage() -> LocalStorage:
    return LocalStorage(root=settings.LOCAL_STORAGE_ROOT)


# --- what a workspace's workloads may reach ------------------------------------------------------


@dataclass(frozen=True)
class StorageBinding:
    """A location a workload may reach: a URI prefix, read-only or writable."""

    uri: str
    writable: bool


def workspace_root_uri(workspace_id) -> str:
    """The workspace's platform-managed location (ends in '/')."""
    base = settings.PLATFORM_STORAGE_URI
    if base.rstrip("/") == f"{LOCAL_SCHEME}:":
        return f"{LOCAL_SCHEME}://ws-{workspace_id}/"
    return f"{base.rstrip('/')}/ws-{workspace_id}/"


@lru_cache(maxsize=4)
def _platform_base(platform_storage_uri: str) -> Location:
    return parse_uri(workspace_root_uri("x"))


def in_platform_area(location) -> bool:
    """Whether a location lies where the platform keeps workspaces' own locations: an embedded
    bucket named ws-…, or anywhere in the bucket of an S3/OBS PLATFORM_STORAGE_URI."""
    base = _platform_base(settings.PLATFORM_STORAGE_URI)
    if base.scheme == LOCAL_SCHEME:
        return location.scheme == LOCAL_SCHEME and location.bucket.startswith("ws-")
    return location.scheme in S3_SCHEMES and location.bucket == base.bucket


def workload_bindings(*, workspace_id) -> tuple[StorageBinding, ...]:
    """Every location of the platform's own storage that the workloads of this workspace may
    reach: its managed location and what was granted to it (storage connections reach theirs
    with the account's credentials instead)."""
    grants = StorageGrant.objects.filter(workspace_id=workspace_id).values_list("uri", "read_only")
    return (StorageBinding(uri=workspace_root_uri(workspace_id), writable=True),
            *(StorageBinding(uri=uri, writable=not read_only) for uri, read_only in grants
              if not in_platform_area(parse_uri(uri))))


def local_directory(uri: str) -> Path:
    """The directory of the embedded storage behind a `file://` prefix."""
    location = parse_uri(uri)
    if location.scheme != LOCAL_SCHEME:
        raise StorageError(f"'{uri}' is not a location of the embedded storage.")
    return local_storage().path(location)

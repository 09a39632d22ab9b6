"""Object storage addressed by URIs, shared by every app.

`s3://bucket/key` and `obs://bucket/key` go to an S3-compatible service through boto3 (OBS, S3
and MinIO alike); `file://bucket/key` goes to a directory under LOCAL_STORAGE_ROOT, the embedded
default. The rest of the code calls `storage_for(uri)` and uses the `ObjectStorage` interface only.
"""

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.urls import reverse

S3_SCHEMES = ("s3", "obs")
LOCAL_SCHEME = "file"
# S3 refuses parts under 5 MiB (except the last); 8 MiB keeps memory small and requests few.
PART_SIZE = 8 * 1024 * 1024
DOWNLOAD_SALT = "aiplatform.storage.download"


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


def parse_uri(uri: str) -> Location:
    """Splits `scheme://bucket/key`; raises StorageError naming what is wrong."""
    scheme, sep, rest = (uri or "").partition("://")
    if not sep or scheme not in (*S3_SCHEMES, LOCAL_SCHEME):
        raise StorageError(f"'{uri}' is not a storage URI; use s3://bucket/path, obs://bucket/path or file://bucket/path.")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StorageError(f"'{uri}' names no bucket; use {scheme}://bucket/path.")
    if ".." in key.split("/") or bucket in (".", ".."):
        raise StorageError(f"'{uri}' may not contain '..'.")
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
    def download_url(self, uri: str, expires_in: int = 3600) -> str:
        """A presigned link that lets its holder download the object until it expires."""

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
    def __init__(self, *, endpoint_url: str | None, region: str | None, access_key_id: str | None,
                 secret_access_key: str | None, path_style: bool):
        self._endpoint_url = endpoint_url
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
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
                "AccessDenied": f"access to '{location.uri}' is denied; check the platform's storage credentials",
                "403": f"access to '{location.uri}' is denied; check the platform's storage credentials",
                "InvalidAccessKeyId": "the platform's storage access key is not valid",
                "SignatureDoesNotMatch": "the platform's storage secret key is not valid",
            }
            return StorageError(f"Cannot access {location.uri}: {reasons.get(code, code or 'storage error')}.")
        # BotoCoreError messages name the endpoint and the failure, never the credentials.
        return StorageError(f"Cannot access {location.uri}: {exc}.")

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

    def download_url(self, uri, expires_in=3600):
        location = parse_uri(uri)
        return self._client.generate_presigned_url(
            "get_object", Params={"Bucket": location.bucket, "Key": location.key}, ExpiresIn=expires_in
        )


class LocalStorage(ObjectStorage):
    """Buckets are directories under `root`; download links are signed URLs of this API."""

    def __init__(self, *, root: Path):
        self.root = Path(root)

    def path(self, location: Location) -> Path:
        return self.root / location.bucket / location.key

    def list(self, prefix_uri):
        location = parse_uri(prefix_uri)
        bucket_dir = self.root / location.bucket
        if not bucket_dir.is_dir():
            raise StorageError(f"Cannot access {prefix_uri}: bucket '{location.bucket}' does not exist.")
        # Walk only the directory the prefix lies in, in key order like S3.
        start = bucket_dir / location.key.rpartition("/")[0]
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                key = path.relative_to(bucket_dir).as_posix()
                if key.startswith(location.key):
                    yield ObjectInfo(uri=f"{location.scheme}://{location.bucket}/{key}", size=path.stat().st_size)

    def read_chunks(self, uri):
        location = parse_uri(uri)
        try:
            with open(self.path(location), "rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk
        except FileNotFoundError:
            raise StorageError(f"Cannot access {uri}: object does not exist.") from None
        except OSError as exc:
            raise StorageError(f"Cannot access {uri}: {exc.strerror}.") from None

    def write(self, uri, chunks):
        location = parse_uri(uri)
        target = self.path(location)
        if not (self.root / location.bucket).is_dir():
            raise StorageError(f"Cannot access {uri}: bucket '{location.bucket}' does not exist.")
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        # Written aside and renamed, so readers never see half an object.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
            try:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
            except BaseException:
                os.unlink(handle.name)
                raise
        os.replace(handle.name, target)
        return size

    def delete(self, uri):
        self.path(parse_uri(uri)).unlink(missing_ok=True)

    def download_url(self, uri, expires_in=3600):
        token = signing.dumps({"uri": uri, "ttl": expires_in}, salt=DOWNLOAD_SALT)
        return f"{reverse('storage-download')}?{urlencode({'token': token})}"

    def open_signed(self, token: str):
        """The file a download link points to, or None when the link is forged or expired."""
        try:
            payload = signing.loads(token, salt=DOWNLOAD_SALT)
            signing.loads(token, salt=DOWNLOAD_SALT, max_age=payload["ttl"])
            path = self.path(parse_uri(payload["uri"]))
        except (signing.BadSignature, StorageError, KeyError, TypeError):
            return None
        return open(path, "rb") if path.is_file() else None


def storage_for(uri: str) -> ObjectStorage:
    """The backend that serves this URI, configured from settings."""
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


def workload_bindings(*, workspace_id) -> tuple[StorageBinding, ...]:
    """Every location the workloads of this workspace may reach."""
    return (StorageBinding(uri=workspace_root_uri(workspace_id), writable=True),)


def local_directory(uri: str) -> Path:
    """The directory of the embedded storage behind a `file://` prefix."""
    location = parse_uri(uri)
    if location.scheme != LOCAL_SCHEME:
        raise StorageError(f"'{uri}' is not a location of the embedded storage.")
    return local_storage().path(location)

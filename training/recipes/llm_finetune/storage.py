"""The recipe's view of object storage: every location becomes a local folder.

file://bucket/key is the platform's embedded storage, which the local backend mounts under
AIP_LOCAL_STORAGE_ROOT: read and written in place. s3:// and obs:// locations are read into a local
mirror before use and written back after each checkpoint and at the end, with the credentials the
platform gives the workload (AIP_STORAGE_CREDENTIALS: one entry per location it may reach)."""

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_SCHEME = "file"
S3_SCHEMES = ("s3", "obs")


class StorageProblem(Exception):
    pass


def _parts(uri: str) -> tuple[str, str, str]:
    split = urlsplit(uri)
    if not split.scheme:
        return "", "", uri
    return split.scheme, split.netloc, split.path.lstrip("/")


class Location:
    """A folder (or file) of object storage and the local path that stands for it."""

    def __init__(self, uri: str, local: Path, remote: tuple[object, str, str] | None = None):
        self.uri, self.local, self._remote = uri, local, remote

    @property
    def is_remote(self) -> bool:
        return self._remote is not None

    def child(self, name: str) -> "Location":
        remote = None
        if self._remote:
            client, bucket, key = self._remote
            remote = (client, bucket, f"{key.rstrip('/')}/{name}".lstrip("/"))
        return Location(f"{self.uri.rstrip('/')}/{name}", self.local / name, remote)

    def pull(self) -> "Location":
        """Mirror the remote objects under this location locally (kept ones whose size matches)."""
        if not self._remote:
            if not self.local.exists():
                raise StorageProblem(f"there is nothing at {self.uri}")
            return self
        client, bucket, key = self._remote
        found = False
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                found = True
                relative = item["Key"][len(key):].lstrip("/")
                target = self.local / relative if relative else self.local
                if target.exists() and target.stat().st_size == item["Size"]:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, item["Key"], str(target))
        if not found:
            raise StorageProblem(f"there is nothing at {self.uri}")
        return self

    def push(self, relative: str = "") -> None:
        """Upload the local files under this location (or one sub-path of it)."""
        if not self._remote:
            return
        client, bucket, key = self._remote
        root = self.local / relative if relative else self.local
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            name = path.relative_to(self.local).as_posix()
            client.upload_file(str(path), bucket, f"{key.rstrip('/')}/{name}".lstrip("/"))

    def exists(self, relative: str) -> bool:
        if not self._remote:
            return (self.local / relative).exists()
        client, bucket, key = self._remote
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{key.rstrip('/')}/{relative}".lstrip("/"), MaxKeys=1)
        return bool(listed.get("Contents"))


class Storage:
    def __init__(self, *, local_root: str, credentials: list[dict], mirror_root: Path):
        self.local_root = Path(local_root)
        self.credentials = sorted(credentials, key=lambda c: len(c["uri"]), reverse=True)
        self.mirror_root = mirror_root

    @classmethod
    def from_env(cls) -> "Storage":
        mirror = Path(os.environ.get("AIP_RECIPE_MIRROR") or tempfile.mkdtemp(prefix="aip-mirror-"))
        return cls(local_root=os.environ.get("AIP_LOCAL_STORAGE_ROOT", "."),
                   credentials=json.loads(os.environ.get("AIP_STORAGE_CREDENTIALS") or "[]"), mirror_root=mirror)

    def at(self, uri: str) -> Location:
        scheme, bucket, key = _parts(uri)
        if scheme == "":
            return Location(uri, Path(uri))
        if scheme == LOCAL_SCHEME:
            if not bucket:  # file:///absolute/path
                return Location(uri, Path("/" + key))
            path = Path(os.path.normpath(self.local_root / bucket / key))
            if self.local_root.resolve() not in path.resolve().parents and path.resolve() != self.local_root.resolve():
                raise StorageProblem(f"{uri} leaves the storage root")
            return Location(uri, path)
        if scheme in S3_SCHEMES:
            return Location(uri, self.mirror_root / scheme / bucket / key, (self._client(uri), bucket, key))
        raise StorageProblem(f"unsupported location {uri}: use file://, s3:// or obs://")

    def _client(self, uri: str):
        entry = next((c for c in self.credentials if uri.startswith(c["uri"].rstrip("/"))), None)
        try:
            import boto3
        except ModuleNotFoundError:
            raise StorageProblem(f"reading {uri} needs boto3 in the recipe's environment") from None
        options = {}
        if entry:
            options = {"aws_access_key_id": entry["access_key_id"], "aws_secret_access_key": entry["secret_access_key"],
                       "aws_session_token": entry.get("session_token") or None,
                       "endpoint_url": entry.get("endpoint_url") or None, "region_name": entry.get("region") or None}
            if entry.get("path_style"):
                from botocore.config import Config

                options["config"] = Config(s3={"addressing_style": "path"})
        return boto3.client("s3", **options)

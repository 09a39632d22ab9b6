"""Which storage locations a workspace may name, and whose credentials reach them (DESIGN.md §6).

A workspace reaches, in this order:
  * its platform-managed location (`workspace_root_uri`), with the platform's credentials;
  * locations an operator (or the migration that scoped storage) granted it, likewise;
  * locations in its account's storage connections, with the account's own credentials.
Anything else is refused, whoever's bucket it is: the platform's credentials never read or write a
location on a tenant's behalf unless the location is that tenant's. Services check every URI a
tenant gives with `check`; the code that later reads or writes it goes through `storage_at`."""

import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache
from threading import Lock

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.exceptions import NotFound, ValidationError

from . import crypto, selectors
from .models import StorageConnection, StorageGrant, Workspace
from .storage import (
    LOCAL_SCHEME,
    LocalStorage,
    ObjectStorage,
    S3Storage,
    StorageError,
    in_platform_area,
    parse_uri,
    platform_storage,
    workspace_root_uri,
)

logger = logging.getLogger(__name__)

# Assumed-role credentials are renewed this long before they expire.
RENEW_BEFORE_SECONDS = 300


def covers(prefix: str, uri: str) -> bool:
    """Whether `uri` lies at or under `prefix`, segment by segment (file://b/data covers
    file://b/data/x and file://b/data itself, not file://b/database)."""
    base = prefix.rstrip("/")
    return uri == base or uri.startswith(base + "/")


@dataclass(frozen=True)
class Reach:
    """How a workspace reaches a location: the storage with the right credentials, whether it may
    write there, and through what (said in messages)."""

    storage: ObjectStorage
    writable: bool
    via: str


class WorkspaceLocations:
    """The locations of one workspace; its grants and its account's connections are read once,
    so a page of download links costs no more queries than one."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.root = workspace_root_uri(workspace.pk)
        self._grants = None
        self._connections = None

    @property
    def grants(self) -> list[StorageGrant]:
        if self._grants is None:
            self._grants = list(StorageGrant.objects.filter(workspace_id=self.workspace.pk))
        return self._grants

    @property
    def connections(self) -> list[StorageConnection]:
        if self._connections is None:
            self._connections = list(StorageConnection.objects.filter(account_id=self.workspace.account_id))
        return self._connections

    def loaded(self) -> "WorkspaceLocations":
        """Reads the grants and connections now, for code that then runs where it must not touch
        the database (an import's reader threads)."""
        _ = self._places
        return self

    @cached_property
    def _places(self) -> list[tuple[str, StorageGrant | StorageConnection]]:
        """Each grant, then each connection (the most specific prefix first: it wins when an
        account registered a bucket and a prefix of it), with its location as a base without the
        trailing '/': a sample's source is checked against them by the hundred thousand."""
        connections = sorted(self.connections, key=lambda c: len(c.prefix), reverse=True)
        return [(place.uri.rstrip("/"), place) for place in (*self.grants, *connections)]

    def _place(self, uri: str) -> StorageGrant | StorageConnection | None:
        """What makes `uri` the workspace's (None: its own location); StorageError when nothing does."""
        location = parse_uri(uri)
        if covers(self.root, uri):
            return None
        if in_platform_area(location):
            # Other workspaces' locations (and the rest of the platform's bucket) are nobody
            # else's, whatever a grant or a connection says.
            raise StorageError(f"'{uri}' is not a location of this workspace; use its own location {self.root}.")
        for base, place in self._places:
            if (uri == base or uri.startswith(base) and uri[len(base)] == "/") and (
                    isinstance(place, StorageGrant) or location.scheme != LOCAL_SCHEME):
                return place
        if location.scheme == LOCAL_SCHEME:
            raise StorageError(f"'{uri}' is not a location of this workspace; use its own location {self.root}.")
        raise StorageError(f"'{uri}' is not a location of this workspace. Use its own location {self.root}, or "
                           f"have an account admin register a storage connection for bucket '{location.bucket}' "
                           "with the account's credentials (POST /api/v1/storage-connections/).")

    def refusal(self, uri: str) -> str | None:
        """Why the workspace may not name `uri`, or None when it may: in memory, nothing dialled
        (for the sources of samples, checked by the thousand)."""
        try:
            self._place(uri)
        except StorageError as exc:
            return str(exc)
        return None

    def reach(self, uri: str) -> Reach:
        """How this workspace reaches `uri`; StorageError (a message for the tenant) when it may not."""
        place = self._place(uri)
        if place is None:
            storage = platform_storage(uri)
            if isinstance(storage, LocalStorage):
                # The embedded storage keeps a folder per workspace, made when first written.
                storage = LocalStorage(root=storage.root, creates_buckets=True)
            return Reach(storage, writable=True, via="the workspace's own location")
        if isinstance(place, StorageGrant):
            return Reach(platform_storage(uri), writable=not place.read_only,
                         via=f"the location {place.uri} granted to the workspace")
        return Reach(connection_storage(place), writable=not place.read_only,
                     via=f"storage connection '{place.name}'")

    def storage_at(self, uri: str, *, write: bool = False) -> ObjectStorage:
        """The storage that reads (or, with `write`, writes) `uri` for this workspace."""
        found = self.reach(uri)
        if write and not found.writable:
            raise StorageError(f"'{uri}' is read-only for this workspace ({found.via}); write to its own location "
                               f"{self.root} instead.")
        return found.storage

    def download_url(self, *, user, uri: str) -> str | None:
        """A link that downloads `uri` for a while (STORAGE_DOWNLOAD_LINK_SECONDS). Links the platform
        serves itself are bound to the workspace and the user, and stop working when either loses
        the location; presigned S3 links carry their own expiry."""
        try:
            storage = self.storage_at(uri)
        except StorageError:
            return None
        scope = {"workspace": str(self.workspace.pk), "user": getattr(user, "pk", None)}
        return storage.download_url(uri, expires_in=settings.STORAGE_DOWNLOAD_LINK_SECONDS, scope=scope)


def storage_at(*, workspace: Workspace, uri: str, write: bool = False) -> ObjectStorage:
    """The storage that reads (or, with `write`, writes) `uri` for this workspace; StorageError
    (a message for the tenant) when the workspace may not."""
    return WorkspaceLocations(workspace).storage_at(uri, write=write)


def check(*, workspace: Workspace, uri: str, field: str, write: bool = False) -> str:
    """`uri` when the workspace may use it so; otherwise a 400 naming `field` and what to use."""
    try:
        storage_at(workspace=workspace, uri=uri, write=write)
    except StorageError as exc:
        raise ValidationError({field: str(exc)}) from None
    return uri


def default_location(*, workspace: Workspace, path: str) -> str:
    """A location under the workspace's own, for things created without one."""
    return workspace_root_uri(workspace.pk) + path


# --- download links -----------------------------------------------------------------------------------


def open_download(token: str):
    """The open file a download link of the embedded storage names, or None when the link is
    forged, expired, or its user may no longer read that location."""
    found = LocalStorage.read_download_token(token, max_age=settings.STORAGE_DOWNLOAD_LINK_SECONDS)
    if found is None:
        return None
    uri, scope = found
    user = get_user_model().objects.filter(pk=scope.get("user"), is_active=True).first()
    if user is None or parse_uri(uri).scheme != LOCAL_SCHEME:
        return None
    try:
        workspace, _, _ = selectors.workspace_and_role(user=user, workspace_id=scope.get("workspace"))
        storage = storage_at(workspace=workspace, uri=uri)
        if not isinstance(storage, LocalStorage):
            return None
        return storage.open(uri)
    except (NotFound, StorageError):
        return None


# --- storage connections --------------------------------------------------------------------------


def _endpoint(connection: StorageConnection) -> str:
    return connection.endpoint_url or settings.OBJECT_STORAGE_ENDPOINT_URL


def connection_storage(connection: StorageConnection) -> S3Storage:
    """The S3 backend with the connection's own credentials (assumed-role ones when it names a role)."""
    if connection.role_arn:
        key_id, secret, token = assumed_credentials(
            role_arn=connection.role_arn, external_id=connection.external_id,
            session_name=f"aip-{str(connection.account_id)[:8]}", scope_uri=connection.uri,
            read_only=connection.read_only,
        )[:3]
    else:
        key_id, secret, token = connection.access_key_id, crypto.decrypt(connection.secret_access_key_encrypted), ""
    return _connection_client(_endpoint(connection), connection.region or settings.OBJECT_STORAGE_REGION,
                              connection.path_style, key_id, secret, token, f"storage connection '{connection.name}'")


@lru_cache(maxsize=64)
def _connection_client(endpoint, region, path_style, key_id, secret, token, label) -> S3Storage:
    return S3Storage(endpoint_url=endpoint, region=region, access_key_id=key_id, secret_access_key=secret,
                     session_token=token, path_style=path_style, credentials=label)


def session_policy(*, scope_uri: str, read_only: bool) -> str:
    """An IAM session policy that narrows assumed credentials to one bucket prefix."""
    location = parse_uri(scope_uri)
    prefix = location.key
    objects = f"arn:aws:s3:::{location.bucket}/{prefix}*"
    actions = ["s3:GetObject"] if read_only else ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                                  "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    statements = [
        {"Effect": "Allow", "Action": actions, "Resource": [objects]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{location.bucket}"],
         **({"Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}} if prefix else {})},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


_assumed: dict = {}
_assumed_lock = Lock()


def assumed_credentials(*, role_arn: str, external_id: str, session_name: str, scope_uri: str, read_only: bool,
                        seconds: int | None = None, fresh: bool = False) -> tuple[str, str, str, float]:
    """(access key, secret, session token, expiry as epoch seconds) of `role_arn` assumed by the
    platform and narrowed to `scope_uri`; reused until shortly before they expire, unless `fresh`
    (what a workload takes away must last it the whole lifetime)."""
    seconds = seconds or settings.STORAGE_CREDENTIALS_SECONDS
    key = (role_arn, external_id, session_name, scope_uri, read_only, seconds)
    with _assumed_lock:
        cached = None if fresh else _assumed.get(key)
        if cached and cached[3] - RENEW_BEFORE_SECONDS > time.time():
            return cached
    client = boto3.session.Session().client(
        "sts", endpoint_url=settings.OBJECT_STORAGE_ENDPOINT_URL or None, region_name=settings.OBJECT_STORAGE_REGION,
        aws_access_key_id=settings.OBJECT_STORAGE_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.OBJECT_STORAGE_SECRET_ACCESS_KEY or None,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )
    arguments = {"RoleArn": role_arn, "RoleSessionName": session_name, "DurationSeconds": max(seconds, 900),
                 "Policy": session_policy(scope_uri=scope_uri, read_only=read_only)}
    if external_id:
        arguments["ExternalId"] = external_id
    try:
        answer = client.assume_role(**arguments)["Credentials"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise StorageError(f"The platform could not assume role {role_arn} ({code}); check the role's trust "
                           "policy names the platform and the external id.") from None
    except BotoCoreError as exc:
        logger.warning("assume_role %s failed: %s", role_arn, exc)
        raise StorageError("The security token service could not be reached; try again later.") from None
    found = (answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"],
             answer["Expiration"].timestamp())
    with _assumed_lock:
        _assumed[key] = found
    return found


# --- credentials for workloads --------------------------------------------------------------------


def workload_storage_credentials(workload) -> dict[str, str]:
    """What a workload gets to reach its workspace's S3/OBS locations, as secret env values:
    AIP_STORAGE_CREDENTIALS, a JSON list of {uri, endpoint_url, region, path_style, read_only,
    access_key_id, secret_access_key, session_token, expires_at}, one per location; and the AWS_*
    variables of boto3's own chain for the workspace's own location. Never the platform's keys:
    its locations come with assumed-role credentials narrowed to them (PLATFORM_STORAGE_ROLE_ARN),
    or not at all; a connection's come with the account's keys or its role's credentials."""
    workspace = workload.workspace
    entries = []
    places = [(workspace_root_uri(workspace.pk), False)]
    places += [(grant.uri, grant.read_only) for grant in StorageGrant.objects.filter(workspace_id=workspace.pk)
               if not in_platform_area(parse_uri(grant.uri))]
    if settings.PLATFORM_STORAGE_ROLE_ARN:
        for uri, read_only in places:
            if parse_uri(uri).scheme == LOCAL_SCHEME:
                continue  # bound into the sandbox by the local backend instead
            key, secret, token, expires = assumed_credentials(
                role_arn=settings.PLATFORM_STORAGE_ROLE_ARN, external_id=settings.PLATFORM_STORAGE_ROLE_EXTERNAL_ID,
                session_name=f"aip-ws-{str(workspace.pk)[:8]}", scope_uri=uri, read_only=read_only, fresh=True)
            entries.append(_entry(uri, settings.OBJECT_STORAGE_ENDPOINT_URL, settings.OBJECT_STORAGE_REGION,
                                  settings.OBJECT_STORAGE_PATH_STYLE, read_only, key, secret, token, expires))
    for connection in StorageConnection.objects.filter(account_id=workspace.account_id):
        if connection.role_arn:
            key, secret, token, expires = assumed_credentials(
                role_arn=connection.role_arn, external_id=connection.external_id,
                session_name=f"aip-ws-{str(workspace.pk)[:8]}", scope_uri=connection.uri,
                read_only=connection.read_only, fresh=True)
        else:
            federated = federated_credentials(connection, session_name=f"aip-ws-{str(workspace.pk)[:8]}")
            if federated is None:
                continue
            key, secret, token, expires = federated
        entries.append(_entry(connection.uri, _endpoint(connection),
                              connection.region or settings.OBJECT_STORAGE_REGION, connection.path_style,
                              connection.read_only, key, secret, token, expires))
    if not entries:
        return {}
    values = {"AIP_STORAGE_CREDENTIALS": json.dumps(entries)}
    own = entries[0] if entries[0]["uri"] == workspace_root_uri(workspace.pk) else None
    if own is not None:
        values.update(AWS_ACCESS_KEY_ID=own["access_key_id"], AWS_SECRET_ACCESS_KEY=own["secret_access_key"],
                      AWS_SESSION_TOKEN=own["session_token"])
    return values


def federated_credentials(connection: StorageConnection, *, session_name: str) -> tuple | None:
    """Short-lived credentials made from a key-based connection's keys (STS GetFederationToken)
    with a policy narrowed to its location and its read-only flag: what a workload gets instead of
    the account's long-lived keys. None, logged, where the provider offers no such service: the
    workload then gets nothing for that connection."""
    try:
        client = boto3.session.Session().client(
            "sts", endpoint_url=_endpoint(connection) or None,
            region_name=connection.region or settings.OBJECT_STORAGE_REGION,
            aws_access_key_id=connection.access_key_id,
            aws_secret_access_key=crypto.decrypt(connection.secret_access_key_encrypted),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
        answer = client.get_federation_token(
            Name=session_name[:32], DurationSeconds=max(settings.STORAGE_CREDENTIALS_SECONDS, 900),
            Policy=session_policy(scope_uri=connection.uri, read_only=connection.read_only))["Credentials"]
    except (ClientError, BotoCoreError, ValueError) as exc:
        logger.warning("no short-lived credentials for storage connection %s: %s", connection.pk, exc)
        return None
    return (answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"],
            answer["Expiration"].timestamp())


def _entry(uri, endpoint, region, path_style, read_only, key, secret, token, expires) -> dict:
    return {"uri": uri, "endpoint_url": endpoint or "", "region": region or "", "path_style": path_style,
            "read_only": read_only, "access_key_id": key, "secret_access_key": secret, "session_token": token or "",
            "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) if expires else None}

"""Uploads in parts into a workspace's own locations: the embedded storage through the API (streamed,
size-limited, resumable), S3/OBS through presigned links made with the credentials that reach the
location for the workspace, never another workspace's or the platform's for a tenant's bucket."""

import hashlib
import os
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from aiplatform import services
from aiplatform.models import Role
from tests.conftest import client_for
from tests.factories import WorkspaceFactory, connect_bucket, member_of, workspace_storage

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def url(workspace, path=""):
    return f"/api/v1/workspaces/{workspace.pk}/uploads/{path}"


def put_part(client, part, data):
    path = urlparse(part["url"]).path
    return client.put(path, data=data, content_type="application/octet-stream")


@pytest.fixture
def small_parts(settings):
    settings.UPLOAD_PART_BYTES = 5 * MIB


def test_an_upload_to_the_embedded_storage_resumes_and_completes_once(workspace, developer, local_root,
                                                                       small_parts):
    client = client_for(developer)
    data = os.urandom(11 * MIB)
    uri = f"file://ws-{workspace.pk}/models/news/weights.bin"
    started = client.post(url(workspace), {"uri": uri, "size": len(data)}, format="json")
    assert started.status_code == 201, started.json()
    upload = started.json()
    assert (upload["transport"], upload["part_size"], upload["part_count"]) == ("api", 5 * MIB, 3)
    assert [p["size"] for p in upload["parts"]] == [5 * MIB, 5 * MIB, MIB]
    assert not any(p["uploaded"] for p in upload["parts"])
    first, second, last = upload["parts"]

    # The last part first; then a part with the wrong length is refused naming the header.
    written = put_part(client, last, data[10 * MIB:])
    assert written.status_code == 200, written.json()
    assert written.json() == {"number": 3, "size": MIB, "etag": hashlib.md5(data[10 * MIB:]).hexdigest()}
    short = put_part(client, first, data[:MIB])
    assert short.status_code == 400 and short.json()["errors"][0]["attr"] == "Content-Length"

    # Completing too early names what is missing; the state says what arrived.
    early = client.post(url(workspace, f"{upload['id']}/complete/"))
    assert early.status_code == 409 and early.json()["errors"][0]["code"] == "upload_incomplete"
    assert "1, 2" in early.json()["errors"][0]["detail"]
    state = client.get(url(workspace, f"{upload['id']}/")).json()
    assert [p["uploaded"] for p in state["parts"]] == [False, False, True]

    assert put_part(client, first, data[:5 * MIB]).status_code == 200
    assert put_part(client, second, os.urandom(5 * MIB)).status_code == 200
    assert put_part(client, second, data[5 * MIB:10 * MIB]).status_code == 200  # sent again: replaces
    done = client.post(url(workspace, f"{upload['id']}/complete/"))
    assert done.status_code == 200, done.json()
    assert done.json() == {"uri": uri, "size": len(data)}
    stored = workspace_storage(local_root, workspace) / "models/news/weights.bin"
    assert stored.read_bytes() == data
    # A client that lost the answer completes again and gets the same object; the staging is gone.
    assert client.post(url(workspace, f"{upload['id']}/complete/")).json() == {"uri": uri, "size": len(data)}
    assert not any((local_root / ".uploads").iterdir())


def test_an_empty_object_and_an_aborted_upload(workspace, developer, local_root):
    client = client_for(developer)
    uri = f"file://ws-{workspace.pk}/empty.txt"
    upload = client.post(url(workspace), {"uri": uri, "size": 0}, format="json").json()
    assert upload["part_count"] == 1 and upload["parts"][0]["size"] == 0
    empty = put_part(client, upload["parts"][0], b"")
    assert empty.status_code == 200, empty.json()
    assert client.post(url(workspace, f"{upload['id']}/complete/")).json() == {"uri": uri, "size": 0}

    aborted = client.post(url(workspace), {"uri": f"file://ws-{workspace.pk}/gone.bin", "size": 10},
                          format="json").json()
    assert client.delete(url(workspace, f"{aborted['id']}/")).status_code == 204
    assert client.get(url(workspace, f"{aborted['id']}/")).status_code == 404
    assert client.post(url(workspace, f"{aborted['id']}/complete/")).status_code == 404
    assert not (workspace_storage(local_root, workspace) / "gone.bin").exists()


def test_uploads_go_only_into_the_workspaces_locations(workspace, developer, local_root, settings):
    client = client_for(developer)
    other = WorkspaceFactory()
    cases = [
        ({"uri": f"file://ws-{other.pk}/stolen.bin", "size": 1}, "uri", "not a location of this workspace"),
        ({"uri": "s3://someone-elses-bucket/x.bin", "size": 1}, "uri", "storage connection"),
        ({"uri": f"file://ws-{workspace.pk}/folder/", "size": 1}, "uri", "names a folder"),
        ({"uri": f"file://ws-{workspace.pk}//etc/passwd", "size": 1}, "uri", "may not start with '/'"),
        ({"uri": f"file://ws-{workspace.pk}/big.bin", "size": settings.UPLOAD_MAX_BYTES + 1}, "size", "at most"),
        ({"uri": f"file://ws-{workspace.pk}/neg.bin", "size": -1}, "size", "greater than or equal to 0"),
    ]
    for body, field, words in cases:
        response = client.post(url(workspace), body, format="json")
        assert response.status_code == 400, (body, response.json())
        error = response.json()["errors"][0]
        assert error["attr"] == field and words in error["detail"], (body, error)
    assert not (local_root / ".uploads").exists() or not any((local_root / ".uploads").iterdir())


def test_an_upload_is_its_uploaders_only(workspace, developer, local_root):
    upload = client_for(developer).post(url(workspace), {"uri": f"file://ws-{workspace.pk}/a.bin", "size": 3},
                                        format="json").json()
    colleague = client_for(member_of(workspace, Role.DEVELOPER))
    stranger_ws = WorkspaceFactory()
    stranger = client_for(member_of(stranger_ws, Role.DEVELOPER))
    viewer = client_for(member_of(workspace, Role.VIEWER))
    for client, path in ((colleague, url(workspace, f"{upload['id']}/")),
                         (stranger, url(stranger_ws, f"{upload['id']}/")),
                         (client_for(developer), url(workspace, "forged.id:abc/"))):
        assert client.get(path).status_code == 404
        assert client.post(path + "complete/").status_code == 404
    assert put_part(colleague, upload["parts"][0], b"abc").status_code == 404
    assert put_part(viewer, upload["parts"][0], b"abc").status_code == 403
    assert viewer.post(url(workspace), {"uri": f"file://ws-{workspace.pk}/v.bin", "size": 1},
                       format="json").status_code == 403


def test_s3_parts_go_to_presigned_links_made_with_the_accounts_own_credentials(workspace, developer, s3,
                                                                                small_parts):
    s3.create_bucket(Bucket="team-data")
    # The account's own key (the test server takes any), not the platform's.
    connection = services.save_storage_connection(
        account=workspace.account, name="team", scheme="s3", bucket="team-data", prefix="uploads",
        access_key_id="TENANTKEY", secret_access_key="tenant-secret", path_style=True)
    client = client_for(developer)
    data = os.urandom(6 * MIB)
    uri = "s3://team-data/uploads/corpus.jsonl"
    upload = client.post(url(workspace), {"uri": uri, "size": len(data)}, format="json").json()
    assert upload["transport"] == "presigned" and upload["part_count"] == 2
    for part in upload["parts"]:
        query = parse_qs(urlparse(part["url"]).query)
        signer = query.get("AWSAccessKeyId") or [query["X-Amz-Credential"][0].split("/")[0]]
        assert signer == [connection.access_key_id]
        assert query["partNumber"] == [str(part["number"])]
    # Parts go straight to the storage service; the API never sees them.
    refused = client.put(url(workspace, f"{upload['id']}/parts/1/"), data=data[:5 * MIB],
                         content_type="application/octet-stream")
    assert refused.status_code == 400 and "presigned" in refused.json()["errors"][0]["detail"]
    first = upload["parts"][0]
    assert requests.put(first["url"], data=data[:5 * MIB], timeout=30).status_code == 200
    state = client.get(url(workspace, f"{upload['id']}/")).json()
    assert [p["uploaded"] for p in state["parts"]] == [True, False]
    assert state["parts"][0]["etag"] == hashlib.md5(data[:5 * MIB]).hexdigest()
    assert requests.put(state["parts"][1]["url"], data=data[5 * MIB:], timeout=30).status_code == 200
    done = client.post(url(workspace, f"{upload['id']}/complete/"))
    assert done.json() == {"uri": uri, "size": len(data)}, done.json()
    assert s3.get_object(Bucket="team-data", Key="uploads/corpus.jsonl")["Body"].read() == data
    assert client.post(url(workspace, f"{upload['id']}/complete/")).json() == {"uri": uri, "size": len(data)}
    # A read-only connection takes no uploads.
    connect_bucket(workspace.account, "team-data", prefix="archive", read_only=True)
    response = client.post(url(workspace), {"uri": "s3://team-data/archive/x", "size": 1}, format="json")
    assert response.status_code == 400 and "read-only" in response.json()["errors"][0]["detail"]


def test_the_schema_is_generated_once_and_revalidated(anonymous_client):
    first = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert first.status_code == 200 and first["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/parts/{number}/" in first.json()["paths"]
    again = anonymous_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json",
                                 HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    yaml = anonymous_client.get("/api/schema/")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi: 3")
    assert yaml["ETag"] != first["ETag"]


def test_every_answer_names_its_request(anonymous_client, developer_client):
    mine = developer_client.get("/api/v1/me/", HTTP_X_REQUEST_ID="sdk-3f9c0e1a2b4d")
    assert mine["X-Request-Id"] == "sdk-3f9c0e1a2b4d"
    made = anonymous_client.get("/api/v1/me/", HTTP_X_REQUEST_ID="<script>")
    assert made.status_code == 401 and len(made["X-Request-Id"]) == 32 and made["X-Request-Id"] != "<script>"

"""Storage scoped per workspace: a tenant names only its workspace's own location, what was granted
to it, and its account's storage connections; everything else is refused naming the field."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from aiplatform import crypto, locations, services
from aiplatform.models import Role, StorageConnection, StorageGrant
from datasets import tasks as dataset_tasks
from datasets.models import Dataset, DatasetVersion, ExportTask, ImportTask
from tests.conftest import client_for
from tests.datasets.factories import DatasetFactory, SampleFactory
from tests.factories import (
    AccountMemberFactory,
    WorkspaceFactory,
    connect_bucket,
    cpu_flavor,
    make_pool,
    member_of,
)

pytestmark = pytest.mark.django_db


def url(workspace, path):
    return f"/api/v1/workspaces/{workspace.pk}/{path}"


@pytest.fixture
def tenant_a(local_root):
    workspace = WorkspaceFactory()
    return workspace, client_for(member_of(workspace, Role.DEVELOPER))


@pytest.fixture
def tenant_b(local_root):
    workspace = WorkspaceFactory()
    return workspace, client_for(member_of(workspace, Role.DEVELOPER))


def published_version(workspace, client):
    """A dataset of `workspace` with a published version in the workspace's own location."""
    created = client.post(url(workspace, "datasets/"), {"name": "pets", "type": "image_classification",
                                                        "labels": [{"name": "cat"}]}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["output_uri"] == f"file://ws-{workspace.pk}/datasets/"
    dataset = Dataset.objects.get(pk=created.json()["id"])
    SampleFactory(dataset=dataset, source=f"file://ws-{workspace.pk}/img/1.jpg")
    version = client.post(url(workspace, f"datasets/{dataset.pk}/versions/"), {"name": "v1"}, format="json").json()
    dataset_tasks.publish_version(version["id"])
    return dataset, DatasetVersion.objects.get(pk=version["id"])


def refused(response, field):
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == field, error
    assert any(words in error["detail"] for words in ("is not a location of this workspace", "may not", "read-only",
                                                     "a path may not")), error
    return error["detail"]


def test_another_tenants_manifest_cannot_be_imported(tenant_a, tenant_b):
    """The reproduction: B imported A's published version manifest and got A's samples."""
    workspace_a, client_a = tenant_a
    workspace_b, client_b = tenant_b
    _, version = published_version(workspace_a, client_a)
    assert version.status == "ready" and version.manifest_uri.startswith(f"file://ws-{workspace_a.pk}/")
    target = DatasetFactory(workspace=workspace_b, output_uri=f"file://ws-{workspace_b.pk}/datasets/")
    response = client_b.post(url(workspace_b, f"datasets/{target.pk}/import-tasks/"),
                             {"kind": "manifest", "source_uri": version.manifest_uri}, format="json")
    detail = refused(response, "source_uri")
    assert f"file://ws-{workspace_b.pk}/" in detail  # says what B may use instead
    assert not ImportTask.objects.filter(dataset=target).exists()
    assert target.samples.count() == 0


@pytest.mark.parametrize("uri", ["file://demo/datasets/x.manifest", "s3://someone-elses-bucket/data/"])
def test_any_location_outside_the_workspace_is_refused_for_every_field(tenant_a, tenant_b, uri):
    workspace, client = tenant_b
    other, _ = tenant_a
    own = f"file://ws-{workspace.pk}/"
    for bad in (uri, f"file://ws-{other.pk}/datasets/"):
        refused(client.post(url(workspace, "datasets/"), {"name": "d", "type": "image_classification",
                                                          "output_uri": bad}, format="json"), "output_uri")
        refused(client.post(url(workspace, "datasets/"), {"name": "d", "type": "image_classification",
                                                          "output_uri": own, "input_uri": bad}, format="json"),
                "input_uri")
        dataset = DatasetFactory(workspace=workspace, output_uri=own)
        refused(client.patch(url(workspace, f"datasets/{dataset.pk}/"), {"output_uri": bad}, format="json"),
                "output_uri")
        refused(client.post(url(workspace, f"datasets/{dataset.pk}/export-tasks/"), {"target_uri": bad},
                            format="json"), "target_uri")
        refused(client.post(url(workspace, "models/"), {"name": "m", "source": "storage", "uri": bad,
                                                        "runtime": "builtin"}, format="json"), "uri")
    assert not ExportTask.objects.exists()
    assert Dataset.objects.filter(workspace=workspace).count() == 2


def test_training_inputs_and_outputs_outside_the_workspace_are_refused(tenant_a, tenant_b):
    workspace, client = tenant_b
    other, _ = tenant_a
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    body = {"name": "job", "image": "python:3.11", "command": ["python", "-c", "print(1)"], "pool": str(pool.pk),
            "flavor": "cpu.8u32g"}
    refused(client.post(url(workspace, "training-jobs/"), {**body, "output_uri": f"file://ws-{other.pk}/out/"},
                        format="json"), "output_uri")
    for uri in (f"file://ws-{other.pk}/data/", "file://bucket//etc/passwd", "file://bucket/../x"):
        response = client.post(url(workspace, "training-jobs/"),
                               {**body, "inputs": [{"channel": "data", "uri": uri}]}, format="json")
        assert response.status_code == 400, response.json()  # an absolute input once answered 500
        assert response.json()["errors"][0]["attr"] == "inputs.0.uri", response.json()
    job = client.post(url(workspace, "training-jobs/"), body, format="json")
    assert job.status_code == 201, job.json()
    assert job.json()["output_uri"] == f"file://ws-{workspace.pk}/training-jobs/{job.json()['id']}/"


def test_the_workspace_tells_its_own_location(tenant_a):
    workspace, client = tenant_a
    assert client.get(f"/api/v1/workspaces/{workspace.pk}/").json()["storage_uri"] == f"file://ws-{workspace.pk}/"


def test_a_granted_location_is_usable_read_only_unless_granted_for_writing(tenant_a, local_root):
    workspace, client = tenant_a
    (local_root / "shared" / "public").mkdir(parents=True)
    (local_root / "shared" / "public" / "in.manifest").write_text('{"source": "file://shared/public/1.jpg"}\n')
    StorageGrant.objects.create(workspace=workspace, uri="file://shared/public/", read_only=True)
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    response = client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                           {"kind": "manifest", "source_uri": "file://shared/public/in.manifest"}, format="json")
    assert response.status_code == 202, response.json()
    detail = refused(client.post(url(workspace, f"datasets/{dataset.pk}/export-tasks/"),
                                 {"target_uri": "file://shared/public/out/"}, format="json"), "target_uri")
    assert "read-only" in detail
    refused(client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                        {"kind": "manifest", "source_uri": "file://shared/publications/x"}, format="json"),
            "source_uri")


# --- storage connections ------------------------------------------------------------------------


@pytest.fixture
def account_admin(tenant_a):
    workspace, _ = tenant_a
    user = AccountMemberFactory(account=workspace.account, is_admin=True).user
    return client_for(user)


def connection_body(**changes):
    return {"name": "team-data", "scheme": "s3", "bucket": "team-data", "prefix": "projects/",
            "access_key_id": "test-access-key", "secret_access_key": "test-secret-key", "path_style": True,
            **changes}


def test_account_admins_register_connections_whose_secret_never_comes_back(tenant_a, account_admin, s3):
    workspace, developer = tenant_a
    created = account_admin.post("/api/v1/storage-connections/", connection_body(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["uri"] == "s3://team-data/projects/" and body["access_key_hint"] == "…-key"
    assert "test-secret-key" not in json.dumps(body) and "test-access-key" not in json.dumps(body)
    stored = StorageConnection.objects.get(pk=body["id"])
    assert "test-secret-key" not in stored.secret_access_key_encrypted  # encrypted at rest
    assert crypto.decrypt(stored.secret_access_key_encrypted) == "test-secret-key"
    listed = developer.get("/api/v1/storage-connections/").json()["results"]
    assert [c["name"] for c in listed] == ["team-data"]
    assert "test-secret-key" not in json.dumps(listed)
    # Members read; only account admins change.
    response = developer.post("/api/v1/storage-connections/", connection_body(name="mine", prefix="x/"), format="json")
    assert response.status_code == 403 and "account admins" in response.json()["errors"][0]["detail"]
    assert developer.delete(f"/api/v1/storage-connections/{body['id']}/").status_code == 403
    renamed = account_admin.patch(f"/api/v1/storage-connections/{body['id']}/", {"name": "renamed"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"
    assert crypto.decrypt(StorageConnection.objects.get(pk=body["id"]).secret_access_key_encrypted) == "test-secret-key"


def test_another_accounts_connection_answers_404(tenant_a, tenant_b, account_admin, s3):
    connection_id = account_admin.post("/api/v1/storage-connections/", connection_body(), format="json").json()["id"]
    _, other = tenant_b
    assert other.get(f"/api/v1/storage-connections/{connection_id}/").status_code == 404
    assert other.get("/api/v1/storage-connections/").json()["count"] == 0
    other_admin = client_for(AccountMemberFactory(account=tenant_b[0].account, is_admin=True).user)
    for response in (other_admin.patch(f"/api/v1/storage-connections/{connection_id}/", {"name": "x"}, format="json"),
                     other_admin.delete(f"/api/v1/storage-connections/{connection_id}/"),
                     other_admin.post(f"/api/v1/storage-connections/{connection_id}/verify/")):
        assert response.status_code == 404


@pytest.mark.parametrize("changes, field", [
    ({"bucket": "../etc"}, "bucket"),
    ({"prefix": "a//b"}, "prefix"),
    ({"endpoint_url": "http://169.254.169.254/"}, "endpoint_url"),
    ({"access_key_id": "", "secret_access_key": ""}, "access_key_id"),
    ({"scheme": "file"}, "scheme"),
])
def test_bad_connections_are_refused_naming_the_field(account_admin, changes, field, s3):
    response = account_admin.post("/api/v1/storage-connections/", connection_body(**changes), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == field
    assert not StorageConnection.objects.exists()


def test_a_connection_reaches_its_bucket_with_the_accounts_credentials(tenant_a, tenant_b, s3, s3_server):
    """The platform reads a connection's location with the connection's keys, never its own: an
    account whose keys the server refuses cannot read a bucket the platform's keys could."""
    workspace, client = tenant_a
    s3.create_bucket(Bucket="team-data")
    s3.put_object(Bucket="team-data", Key="projects/in.manifest", Body=b'{"source": "s3://team-data/projects/1.jpg"}\n')
    connect_bucket(workspace.account, "team-data", prefix="projects/")
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    task = client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                       {"kind": "manifest", "source_uri": "s3://team-data/projects/in.manifest"}, format="json")
    assert task.status_code == 202, task.json()
    dataset_tasks.run_import(task.json()["id"])
    assert ImportTask.objects.get(pk=task.json()["id"]).added == 1
    # Outside the connection's prefix, and for another account, the bucket is not theirs.
    refused(client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                        {"kind": "manifest", "source_uri": "s3://team-data/other/in.manifest"}, format="json"),
            "source_uri")
    other_workspace, other_client = tenant_b
    other_dataset = DatasetFactory(workspace=other_workspace, output_uri=f"file://ws-{other_workspace.pk}/d/")
    refused(other_client.post(url(other_workspace, f"datasets/{other_dataset.pk}/import-tasks/"),
                              {"kind": "manifest", "source_uri": "s3://team-data/projects/in.manifest"},
                              format="json"), "source_uri")
    # With keys the server does not know, the account's import fails, naming its connection.
    connection_b = services.save_storage_connection(
        account=other_workspace.account, name="guess", scheme="s3", bucket="team-data", prefix="projects/",
        access_key_id="AKIAWRONG", secret_access_key="wrong", path_style=True)
    enforce(s3_server, b"0")
    try:
        result = services.verify_storage_connection(connection=connection_b)
    finally:
        enforce(s3_server, b"inf")
    assert result["ok"] is False and "storage connection 'guess'" in result["detail"]


def enforce(s3_server, count):
    import urllib.request

    request = urllib.request.Request(f"{s3_server}/moto-api/reset-auth", data=count, method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()


def test_verify_says_whether_the_platform_reaches_the_location(account_admin, s3):
    s3.create_bucket(Bucket="team-data")
    body = account_admin.post("/api/v1/storage-connections/", connection_body(), format="json").json()
    answer = account_admin.post(f"/api/v1/storage-connections/{body['id']}/verify/")
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.json()
    missing = account_admin.post("/api/v1/storage-connections/", connection_body(name="gone", bucket="no-bucket"),
                                 format="json").json()
    answer = account_admin.post(f"/api/v1/storage-connections/{missing['id']}/verify/").json()
    assert answer["ok"] is False and "does not exist" in answer["detail"]


def test_a_role_connection_gets_short_lived_credentials_scoped_to_its_prefix(tenant_a, s3, settings):
    """A connection through a role: the platform assumes it (STS) with a session policy that names
    only the connection's location, and reads with the temporary credentials."""
    workspace, _ = tenant_a
    s3.create_bucket(Bucket="team-data")
    s3.put_object(Bucket="team-data", Key="projects/a.txt", Body=b"hello")
    connection = services.save_storage_connection(
        account=workspace.account, name="role", scheme="s3", bucket="team-data", prefix="projects/",
        role_arn="arn:aws:iam::123456789012:role/aip-reader", path_style=True, read_only=True)
    assert len(connection.external_id) == 32
    storage = locations.storage_at(workspace=workspace, uri="s3://team-data/projects/a.txt")
    assert b"".join(storage.read_chunks("s3://team-data/projects/a.txt")) == b"hello"
    key, secret, token, expires = locations.assumed_credentials(
        role_arn=connection.role_arn, external_id=connection.external_id, session_name="aip-test",
        scope_uri=connection.uri, read_only=True)
    assert token and key != settings.OBJECT_STORAGE_ACCESS_KEY_ID
    policy = json.loads(locations.session_policy(scope_uri=connection.uri, read_only=True))
    assert policy["Statement"][0] == {"Effect": "Allow", "Action": ["s3:GetObject"],
                                      "Resource": ["arn:aws:s3:::team-data/projects/*"]}
    assert policy["Statement"][1]["Condition"] == {"StringLike": {"s3:prefix": ["projects/*"]}}
    with pytest.raises(locations.StorageError, match="read-only"):
        locations.storage_at(workspace=workspace, uri="s3://team-data/projects/b.txt", write=True)


# --- download links -----------------------------------------------------------------------------


def test_download_links_are_bound_to_the_workspace_the_user_and_the_servers_lifetime(tenant_a, settings,
                                                                                    anonymous_client):
    workspace, client = tenant_a
    dataset, version = published_version(workspace, client)
    link = client.get(url(workspace, f"datasets/{dataset.pk}/versions/{version.pk}/")).json()["manifest_url"]
    response = anonymous_client.get(link)
    assert response.status_code == 200 and b"".join(response.streaming_content).count(b"\n") == 1
    assert anonymous_client.get(link[:-3] + "xyz").status_code == 404  # forged
    settings.STORAGE_DOWNLOAD_LINK_SECONDS = 0  # the server's lifetime, whatever the link says
    assert anonymous_client.get(link).status_code == 404
    settings.STORAGE_DOWNLOAD_LINK_SECONDS = 900
    workspace.memberships.all().delete()  # its user left the workspace: the link dies with that
    assert anonymous_client.get(link).status_code == 404


def test_a_link_to_a_location_the_workspace_lost_stops_working(tenant_a, anonymous_client, local_root):
    workspace, client = tenant_a
    (local_root / "shared").mkdir()
    (local_root / "shared" / "a.manifest").write_text("{}\n")
    grant = StorageGrant.objects.create(workspace=workspace, uri="file://shared/")
    user = workspace.memberships.get().user
    link = locations.WorkspaceLocations(workspace).download_url(user=user, uri="file://shared/a.manifest")
    assert anonymous_client.get(link).status_code == 200
    grant.delete()
    assert anonymous_client.get(link).status_code == 404
    assert locations.WorkspaceLocations(workspace).download_url(user=user, uri="file://shared/a.manifest") is None


# --- existing data ------------------------------------------------------------------------------


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_locations_named_before_scoping_are_granted_to_their_workspaces_only():
    """The migration grants each workspace the locations its rows named, each dataset's own folder
    first; a location that lies in another account's data (B's import of A's manifest) is not."""
    a, b = WorkspaceFactory(), WorkspaceFactory()
    before = [("aiplatform", "0002_account_plan"), ("datasets", "0002_sample_annotations_index"),
              ("training", "0001_initial"), ("inference", "0003_benchmark_run")]
    try:
        apps = migrate(before)
        dataset_model = apps.get_model("datasets", "Dataset")
        dataset_a = dataset_model.objects.create(workspace_id=a.pk, name="a", type="image_classification",
                                                 output_uri="file://demo/datasets", labels=[])
        dataset_b = dataset_model.objects.create(workspace_id=b.pk, name="b", type="image_classification",
                                                 output_uri="file://demo/datasets", labels=[])
        apps.get_model("datasets", "ImportTask").objects.create(
            dataset_id=dataset_b.pk, kind="manifest", source_uri=f"file://demo/datasets/{dataset_a.pk}/versions/v1.manifest")
        apps.get_model("datasets", "ImportTask").objects.create(
            dataset_id=dataset_b.pk, kind="prefix", source_uri="s3://b-bucket/raw/")
        # Another workspace's own location is never granted, nor what a grant cannot hold.
        apps.get_model("datasets", "ImportTask").objects.create(
            dataset_id=dataset_b.pk, kind="manifest", source_uri=f"file://ws-{a.pk}/secret.manifest")
        dataset_model.objects.create(workspace_id=b.pk, name="long", type="image_classification",
                                     output_uri="file://demo/" + "x" * 1000, labels=[])
        migrate([("inference", "0004_grant_storage_locations")])
        grants = {(g.workspace_id, g.uri, g.read_only) for g in StorageGrant.objects.all()}
        assert grants == {
            (a.pk, f"file://demo/datasets/{dataset_a.pk}/", False),
            (b.pk, f"file://demo/datasets/{dataset_b.pk}/", False),
            (b.pk, "s3://b-bucket/raw/", True),
        }
        dataset = Dataset.objects.get(pk=dataset_a.pk)
        assert locations.storage_at(workspace=a, uri=f"file://demo/datasets/{dataset.pk}/versions/v2.manifest",
                                    write=True)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


# --- credentials for workloads ------------------------------------------------------------------


def test_workloads_get_short_lived_credentials_narrowed_to_their_own_prefix(tenant_a, s3, settings):
    """On S3/OBS the platform's bucket holds every workspace: a workload gets credentials of the
    platform's role assumed for its own prefix only, never the platform's keys."""
    from tests.factories import make_workload

    workspace, _ = tenant_a
    settings.PLATFORM_STORAGE_URI = "s3://platform-data/workspaces"
    settings.PLATFORM_STORAGE_ROLE_ARN = "arn:aws:iam::123456789012:role/aip-workloads"
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox", command=["true"])
    values = locations.workload_storage_credentials(workload)
    own = json.loads(values["AIP_STORAGE_CREDENTIALS"])[0]
    assert own["uri"] == f"s3://platform-data/workspaces/ws-{workspace.pk}/"
    assert own["session_token"] and own["expires_at"]
    assert values["AWS_ACCESS_KEY_ID"] == own["access_key_id"] != settings.OBJECT_STORAGE_ACCESS_KEY_ID
    assert settings.OBJECT_STORAGE_SECRET_ACCESS_KEY not in json.dumps(values)
    settings.PLATFORM_STORAGE_ROLE_ARN = ""
    assert locations.workload_storage_credentials(workload) == {}  # no role: no platform credentials at all


def test_a_prefix_lists_only_what_the_workspace_may_name(tenant_a, local_root):
    """`file://shared/data` as an S3-style prefix also matches `data-theirs/…`: those objects are
    neither imported nor named in the task's errors."""
    workspace, client = tenant_a
    for folder in ("data", "data-theirs"):
        (local_root / "shared" / folder).mkdir(parents=True)
        (local_root / "shared" / folder / "1.jpg").write_bytes(b"x")
    StorageGrant.objects.create(workspace=workspace, uri="file://shared/data/")
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    task = client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                       {"kind": "prefix", "source_uri": "file://shared/data"}, format="json")
    assert task.status_code == 202, task.json()
    dataset_tasks.run_import(task.json()["id"])
    imported = ImportTask.objects.get(pk=task.json()["id"])
    assert (imported.status, imported.added, imported.failed, imported.errors) == ("succeeded", 1, 0, [])
    assert list(dataset.samples.values_list("source", flat=True)) == ["file://shared/data/1.jpg"]


# --- what no grant or connection can give ------------------------------------------------------


@pytest.mark.parametrize("changes, field, words", [
    ({"role_arn": "not-an-arn", "access_key_id": "", "secret_access_key": ""}, "role_arn", "role's ARN"),
    ({"role_arn": "arn:aws:iam::123456789012:role/aip-workloads", "access_key_id": ""}, "role_arn",
     "platform's own account"),
    ({"role_arn": "arn:aws:iam::123456789012:role/anything-else", "access_key_id": ""}, "role_arn",
     "platform's own account"),
    ({"bucket": "platform-data"}, "bucket", "platform's own storage"),
    ({"region": "us east 1"}, "region", "region name"),
])
def test_connections_that_would_reach_the_platforms_own_are_refused(account_admin, settings, changes, field, words):
    """A tenant naming the platform's role (assumed without an external id it knows) or its bucket
    would get every workspace's data; a region the S3 client cannot take once answered 500."""
    settings.PLATFORM_STORAGE_URI = "s3://platform-data/workspaces"
    settings.PLATFORM_STORAGE_ROLE_ARN = "arn:aws:iam::123456789012:role/aip-workloads"
    response = account_admin.post("/api/v1/storage-connections/", connection_body(**changes), format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["attr"] == field and words in error["detail"], error
    assert not StorageConnection.objects.exists()


def test_no_grant_reaches_another_workspaces_own_location(tenant_a, tenant_b):
    """Grants (an operator's, or those migrations made from old rows) never cover the platform's
    workspace area beyond the workspace's own location."""
    workspace, client = tenant_a
    other, _ = tenant_b
    StorageGrant.objects.create(workspace=workspace, uri=f"file://ws-{other.pk}/", read_only=True)
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    refused(client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                        {"kind": "prefix", "source_uri": f"file://ws-{other.pk}/raw/"}, format="json"), "source_uri")
    from aiplatform.storage import workload_bindings

    assert [b.uri for b in workload_bindings(workspace_id=workspace.pk)] == [f"file://ws-{workspace.pk}/"]


def test_a_secret_the_keys_cannot_decrypt_fails_the_task_not_the_server(tenant_a, s3, settings):
    workspace, client = tenant_a
    s3.create_bucket(Bucket="team-data")
    s3.put_object(Bucket="team-data", Key="in.manifest", Body=b'{"source": "s3://team-data/1.jpg"}\n')
    connect_bucket(workspace.account, "team-data")
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/datasets/")
    task = client.post(url(workspace, f"datasets/{dataset.pk}/import-tasks/"),
                       {"kind": "manifest", "source_uri": "s3://team-data/in.manifest"}, format="json").json()
    settings.STORAGE_ENCRYPTION_KEYS = [crypto_key()]  # the keys changed: the stored secret is unreadable
    dataset_tasks.run_import(task["id"])
    failed = ImportTask.objects.get(pk=task["id"])
    assert failed.status == "failed" and "cannot be decrypted" in failed.error


def crypto_key():
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()

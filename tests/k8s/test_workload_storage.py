"""Storage credentials reach a workload at submit as a Secret its pods reference (aiplatform.locations
gives them, k8s asks for them), never through the workload the API shows."""

import json

import pytest

from aiplatform.models import Role
from k8s import services as compute
from k8s.manifests import runtime_secret_name
from resourcepools.admission import admit_workloads
from tests.conftest import client_for
from tests.factories import connect_bucket, cpu_flavor, make_pool, make_workload, member_of
from tests.k8s.test_kubernetes_backend import namespace

pytestmark = pytest.mark.django_db


def test_workloads_get_credentials_from_their_accounts_keys_as_a_secret_never_the_platforms(
        workspace, kube_backend, cluster, s3):
    """A workload of a workspace whose account connected a bucket gets credentials for it at
    submit, in the Secret its pods reference; the workload as the API shows it holds none."""
    client = client_for(member_of(workspace, Role.VIEWER))
    connect_bucket(workspace.account, "team-data", prefix="projects/")
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox", command=["true"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk) is True
    secret = cluster.core.read_namespaced_secret(runtime_secret_name(str(workload.pk)), namespace(workload))
    entries = json.loads(secret.string_data["AIP_STORAGE_CREDENTIALS"])
    assert [(e["uri"], e["read_only"]) for e in entries] == [("s3://team-data/projects/", False)]
    # Short-lived credentials made from the account's keys (STS GetFederationToken), narrowed to the
    # connection's location: never the long-lived keys themselves.
    assert entries[0]["session_token"] and entries[0]["expires_at"]
    assert "test-secret-key" not in json.dumps(entries) and entries[0]["access_key_id"] != "test-access-key"
    assert "AWS_ACCESS_KEY_ID" not in secret.string_data  # the workspace's own location is file://: bound, not keyed
    shown = client.get(f"/api/v1/workspaces/{workspace.pk}/workloads/{workload.pk}/").content.decode()
    assert "test-secret-key" not in shown and "AIP_STORAGE_CREDENTIALS" not in shown

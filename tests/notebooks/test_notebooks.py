"""Notebooks through the API: bad input refused naming the field with nothing created, another
workspace's notebook answered 404, the list's query count, and a real JupyterLab on the local
backend's sandbox whose storage keeps a file across stop and start and goes only with the
notebook. Cost: one test starts JupyterLab twice (about half a minute on two cores)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from k8s.services import workload_spec
from notebooks.models import Notebook
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.factories import AccountFactory, FlavorFactory, WorkspaceFactory, cpu_flavor, make_pool, member_of

from .conftest import body, drive, jupyter, url, wait_ready

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("changes", "attr"), [
    ({"image_name": "pytorch-cuda"}, "flavor"),  # a GPU image on a CPU flavor
    ({"image_name": "no-such-image"}, "image_name"),
    ({"image_name": "", "custom_image": ""}, "image_name"),
    ({"custom_image": "registry.example.com/lab:1"}, "image_name"),  # both
    ({"storage_gib": 0}, "storage_gib"),
    ({"storage_gib": 100000}, "storage_gib"),
    ({"idle_timeout_seconds": 5}, "idle_timeout_seconds"),
    ({"max_lifetime_seconds": 10}, "max_lifetime_seconds"),
    ({"env": {"AIP_NOTEBOOK_TOKEN": "x"}}, "env.AIP_NOTEBOOK_TOKEN"),
    ({"env": {"KEY": "secret://Bad Name/k"}}, "env.KEY"),
    ({"flavor": "npu.910b.8"}, "flavor"),  # the pool has no such nodes
    ({"name": "Not A Slug"}, "name"),
])
def test_bad_input_is_refused_naming_the_field_and_creates_nothing(workspace, developer_client, pool, changes, attr):
    FlavorFactory()  # exists, but not in the pool
    response = developer_client.post(url(workspace), body(pool, **changes), format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == attr
    assert not Notebook.objects.exists() and not Workload.objects.exists()


def test_names_are_unique_per_workspace_and_dedicated_pools_of_other_accounts_are_refused(
        workspace, developer_client, pool):
    assert developer_client.post(url(workspace), body(pool), format="json").status_code == 201
    again = developer_client.post(url(workspace), body(pool), format="json")
    assert (again.status_code, again.json()["errors"][0]["attr"]) == (400, "name")
    theirs = make_pool(name="theirs", flavor=cpu_flavor(), nodes=1, kind="dedicated", account=AccountFactory())
    refused = developer_client.post(url(workspace), body(theirs, name="other"), format="json")
    assert (refused.status_code, refused.json()["errors"][0]["attr"]) == (400, "pool")
    assert Notebook.objects.count() == 1


def test_created_notebook_is_a_queued_notebook_workload_with_its_catalogue_image(workspace, developer_client, pool):
    created = developer_client.post(url(workspace), body(pool, max_lifetime_seconds=3600), format="json").json()
    workload = Workload.objects.get(pk=created["workload"])
    assert (workload.kind, workload.phase, workload.max_runtime_seconds) == ("notebook", Phase.QUEUED, 3600)
    assert (created["phase"], created["reason"]) == ("queued", "Queued")
    assert created["image"].endswith("notebook-cpu:4.6.6")
    assert created["url"] == f"/api/v1/workspaces/{workspace.pk}/notebooks/{created['id']}/lab/"
    assert "token" not in json.dumps(created).lower()
    images = developer_client.get(url(workspace, "images/")).json()
    assert {i["name"]: i["accelerator_kind"] for i in images} == {
        "jupyterlab-cpu": "none", "pytorch-cuda": "nvidia_gpu", "mindspore-cann": "ascend_npu"}


def test_another_workspace_notebook_is_not_found(workspace, developer_client, pool):
    created = developer_client.post(url(workspace), body(pool), format="json").json()
    other = WorkspaceFactory()
    stranger = client_for(member_of(other))
    for method, suffix in (("get", ""), ("post", "stop/"), ("post", "start/"), ("post", "restart/"),
                           ("delete", "?confirm=lab")):
        answer = getattr(stranger, method)(url(workspace, f"{created['id']}/{suffix}"))
        assert answer.status_code == 404, (method, suffix)
        answer = getattr(stranger, method)(url(other, f"{created['id']}/{suffix}"))
        assert answer.status_code == 404, (method, suffix)
    assert Notebook.objects.get().workload.phase == Phase.QUEUED


def test_list_query_count_does_not_grow_with_page_size(workspace, developer_client, pool):
    for i in range(2):
        developer_client.post(url(workspace), body(pool, name=f"nb-{i}"), format="json")
    with CaptureQueriesContext(connection) as two:
        assert len(developer_client.get(url(workspace)).json()["results"]) == 2
    for i in range(2, 6):
        developer_client.post(url(workspace), body(pool, name=f"nb-{i}"), format="json")
    with CaptureQueriesContext(connection) as six:
        assert len(developer_client.get(url(workspace)).json()["results"]) == 6
    assert len(six) == len(two)


def test_jupyterlab_runs_in_the_sandbox_and_its_storage_survives_stop_and_start(
        workspace, developer_client, pool, local_backend, eager):
    created = developer_client.post(url(workspace), body(pool), format="json").json()
    notebook_id = created["id"]
    assert drive(eager, notebook_id).phase == Phase.RUNNING
    base = wait_ready(notebook_id)
    status, _ = jupyter(base, notebook_id, "api/contents/kept.txt", method="PUT", data=json.dumps(
        {"type": "file", "format": "text", "content": "written before the stop"}).encode())
    assert status == 201
    volume = local_backend.volume_dir(str(workspace.pk), f"nb-{notebook_id}")
    assert (volume / "kept.txt").read_text() == "written before the stop"

    # A running notebook is neither started again nor deleted.
    assert developer_client.post(url(workspace, f"{notebook_id}/start/")).status_code == 409
    assert developer_client.delete(url(workspace, f"{notebook_id}/?confirm=lab")).status_code == 409

    with eager():
        stopped = developer_client.post(url(workspace, f"{notebook_id}/stop/")).json()
    assert stopped["phase"] in ("stopping", "stopped")
    first = drive(eager, notebook_id, until=(Phase.STOPPED,))
    assert local_backend.endpoints(workload_spec(first), "notebook") == []

    started = developer_client.post(url(workspace, f"{notebook_id}/start/")).json()
    assert (started["runs"], started["phase"]) == (2, "queued") and started["workload"] != str(first.pk)
    assert drive(eager, notebook_id).phase == Phase.RUNNING
    base = wait_ready(notebook_id)
    _, content = jupyter(base, notebook_id, "api/contents/kept.txt?content=1&type=file&format=text")
    assert json.loads(content)["content"] == "written before the stop"

    with eager():
        developer_client.post(url(workspace, f"{notebook_id}/stop/"))
    drive(eager, notebook_id, until=(Phase.STOPPED,))
    refused = developer_client.delete(url(workspace, f"{notebook_id}/"))
    assert (refused.status_code, refused.json()["errors"][0]["attr"]) == (400, "confirm")
    assert volume.exists()
    with eager():
        assert developer_client.delete(url(workspace, f"{notebook_id}/?confirm=lab")).status_code == 204
    assert not volume.exists() and not Notebook.objects.exists()
    assert Workload.objects.filter(kind="notebook").count() == 2  # its runs' history stays

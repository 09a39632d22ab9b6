"""From notebook to job: code written in a notebook's JupyterLab runs as a training job with the
notebook's image and its storage as the working folder, while the notebook is stopped (it cannot
start, nor be deleted, until the job ends). Cost: one JupyterLab and one job (twenty seconds)."""

import json

import pytest

from k8s.services import workload_logs
from notebooks.models import Notebook
from resourcepools.models import Phase
from training.models import TrainingJob

from .conftest import body, drive, drive_workload, jupyter, url, wait_ready

pytestmark = pytest.mark.django_db
TRAIN = 'print("trained", 6 * 7)\nopen("result.txt", "w").write("written by the job")\n'


def test_code_written_in_a_notebook_runs_as_a_training_job_on_its_storage(
        workspace, developer_client, pool, local_backend, local_root, eager):
    created = developer_client.post(url(workspace), body(pool), format="json").json()
    notebook_id = created["id"]
    assert drive(eager, notebook_id).phase == Phase.RUNNING
    status, _ = jupyter(wait_ready(notebook_id), notebook_id, "api/contents/train.py", method="PUT",
                        data=json.dumps({"type": "file", "format": "text", "content": TRAIN}).encode())
    assert status == 201
    job_body = {"name": "from-lab", "command": ["python", "train.py"], "flavor": "cpu.8u32g", "pool": str(pool.pk)}

    running = developer_client.post(url(workspace, f"{notebook_id}/training-jobs/"), job_body, format="json")
    assert (running.status_code, running.json()["errors"][0]["code"]) == (409, "notebook_not_stopped")
    with eager():
        developer_client.post(url(workspace, f"{notebook_id}/stop/"))
    drive(eager, notebook_id, until=(Phase.STOPPED,))
    bad = developer_client.post(url(workspace, f"{notebook_id}/training-jobs/"), {**job_body, "command": []},
                                format="json")
    assert (bad.status_code, bad.json()["errors"][0]["attr"]) == (400, "command")

    answer = developer_client.post(url(workspace, f"{notebook_id}/training-jobs/"), job_body, format="json")
    assert answer.status_code == 201, answer.json()
    job = TrainingJob.objects.select_related("workload").get(pk=answer.json()["id"])
    assert job.workload.image == Notebook.objects.get(pk=notebook_id).image
    # While the job works on its storage the notebook neither starts nor goes.
    refused = developer_client.post(url(workspace, f"{notebook_id}/start/"))
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (409, "notebook_storage_in_use")
    assert developer_client.delete(url(workspace, f"{notebook_id}/?confirm=lab")).status_code == 409

    finished = drive_workload(eager, job.workload_id)
    assert finished.phase == Phase.SUCCEEDED, finished.message
    assert any("trained 42" in line for line in workload_logs(workload=finished))
    volume = local_backend.volume_dir(str(workspace.pk), f"nb-{notebook_id}")
    assert (volume / "result.txt").read_text() == "written by the job"
    assert developer_client.post(url(workspace, f"{notebook_id}/start/")).json()["runs"] == 2


"""A notebook on a cluster: its objects (PersistentVolumeClaim, Deployment mounting it, Service)
are valid against the Kubernetes schemas and applied through the emulator; a stop deletes what
runs it and keeps the claim, the next run mounts the same claim, and only deleting the notebook
deletes it; a training job started from the notebook mounts the same claim."""

import kubernetes_validate
import pytest

from k8s import services as compute
from k8s.manifests import VOLUME_MOUNT_PATH, ClusterConventions, manifests
from k8s.services import workload_spec
from notebooks import services
from notebooks.models import Notebook
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase

from .conftest import body, url

pytestmark = pytest.mark.django_db
K8S_VERSION = kubernetes_validate.latest_version()


def test_notebook_objects_are_valid_and_its_claim_outlives_its_runs(workspace, developer, developer_client, pool,
                                                                     kube_backend, cluster,
                                                                     django_capture_on_commit_callbacks):
    created = developer_client.post(url(workspace), body(pool, storage_gib=20), format="json").json()
    notebook = Notebook.objects.select_related("workload").get(pk=created["id"])
    objects = manifests(workload_spec(notebook.workload), ClusterConventions())
    assert [o["kind"] for o in objects] == ["PersistentVolumeClaim", "Service", "Deployment"]
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)

    admit_workloads()
    assert compute.submit_workload(workload_id=notebook.workload_id)
    namespace, claim = f"aip-ws-{workspace.pk}", f"nb-{notebook.pk}"
    pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, namespace)
    assert pvc.spec.resources.requests["storage"] == "20Gi"
    deployment = cluster.apps.list_namespaced_deployment(namespace).items[0]
    pod = deployment.spec.template.spec
    assert pod.volumes[0].persistent_volume_claim.claim_name == claim
    assert pod.containers[0].volume_mounts[0].mount_path == VOLUME_MOUNT_PATH
    assert deployment.spec.strategy.type == "Recreate"
    env = {e.name: e for e in pod.containers[0].env}
    assert env["AIP_NOTEBOOK_TOKEN"].value_from.secret_key_ref.key == "AIP_NOTEBOOK_TOKEN"  # never inline
    assert pod.containers[0].command[-1] == f"--base-url={services.proxy_path(notebook)}"

    services.stop_notebook(notebook=notebook, stopped_by=None)
    compute.cancel_workload(workload_id=notebook.workload_id)
    assert cluster.apps.list_namespaced_deployment(namespace).items == []
    assert cluster.core.read_namespaced_persistent_volume_claim(claim, namespace)

    notebook = services.start_notebook(notebook=notebook, started_by=None)
    admit_workloads()
    assert compute.submit_workload(workload_id=notebook.workload_id)  # adopts the claim of the run before
    notebook.refresh_from_db()
    assert notebook.workload.phase == Phase.ADMITTED
    assert len(cluster.apps.list_namespaced_deployment(namespace).items) == 1

    services.stop_notebook(notebook=notebook, stopped_by=None)
    compute.cancel_workload(workload_id=notebook.workload_id)
    # A training job from the stopped notebook: a Job whose pod mounts the same claim as its working folder.
    job = services.start_training_job(notebook=notebook, created_by=developer, name="from-lab",
                                      command=["python", "train.py"], flavor=notebook.flavor, pool=pool)
    job_objects = manifests(workload_spec(job.workload), ClusterConventions())
    batch_job = next(o for o in job_objects if o["kind"] == "Job")
    kubernetes_validate.validate(batch_job, K8S_VERSION, strict=True)
    pod = batch_job["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
    assert pod["containers"][0]["workingDir"] == VOLUME_MOUNT_PATH
    assert batch_job["spec"]["template"]["spec"]["containers"][0]["image"] == notebook.image
    pool_services.stop_workload(workload=job.workload, stopped_by=None)
    with django_capture_on_commit_callbacks(execute=True):  # the claim goes once the deletion commits
        services.delete_notebook(notebook=notebook, confirm="lab")
    names = [c.metadata.name for c in cluster.core.list_namespaced_persistent_volume_claim(namespace).items]
    assert claim not in names

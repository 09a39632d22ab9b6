"""Runtime secrets (job and benchmark tokens, later storage credentials): given to a workload's
replicas at submit, as a Kubernetes Secret or into the sandboxed process, and never to anyone who
reads the workload, the job or the run."""

import time

import pytest
from django.core.management import call_command

from aiplatform.models import Role, StorageConnection
from aiplatform.storage import StorageError
from datasets import services as datasets_services
from inference import services as inference_services
from inference.models import BenchmarkRun
from k8s import services as compute
from k8s.backend import BackendUnavailable
from k8s.manifests import runtime_secret_name
from k8s.runtime_secrets import runtime_secrets
from resourcepools import services as pool_services
from resourcepools.admission import admit_workloads
from resourcepools.models import Phase, Workload
from tests.conftest import client_for
from tests.datasets.factories import SampleFactory
from tests.factories import connect_bucket, cpu_flavor, make_pool, make_workload, member_of
from tests.k8s.test_kubernetes_backend import namespace
from training.models import Algorithm, MetricPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def storage_credentials(secret_providers):
    """A provider for every kind of workload, as the storage app registers for s3:// locations."""
    def provider(workload):
        return {"AWS_SECRET_ACCESS_KEY": f"secret-of-{workload.workspace_id}"}

    secret_providers(provider)
    return provider


def test_providers_apply_to_their_kind_or_to_every_kind(workspace, storage_credentials, secret_providers):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    custom = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0)
    assert runtime_secrets(custom) == {"AWS_SECRET_ACCESS_KEY": f"secret-of-{workspace.pk}"}
    secret_providers(storage_credentials)  # again: still one
    assert runtime_secrets(custom) == {"AWS_SECRET_ACCESS_KEY": f"secret-of-{workspace.pk}"}

    def for_training(workload):
        return {"AIP_EXTRA": "x"}

    secret_providers(for_training, kind="training")
    assert list(runtime_secrets(custom)) == ["AWS_SECRET_ACCESS_KEY"]
    Workload.objects.filter(pk=custom.pk).update(kind="benchmark")
    custom.refresh_from_db()
    assert list(runtime_secrets(custom)) == ["AWS_SECRET_ACCESS_KEY"]  # a benchmark without a run has no token


@pytest.mark.parametrize(("given", "words"), [
    ({"AWS_SECRET_ACCESS_KEY": "other"}, "Two secret providers give AWS_SECRET_ACCESS_KEY"),
    ({"NOT A NAME": "x"}, "env name"),
])
def test_providers_may_not_clash_or_give_bad_names(workspace, storage_credentials, secret_providers, given, words):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    custom = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0)
    secret_providers(lambda workload: given, kind="custom")
    with pytest.raises(ValueError, match=words):
        runtime_secrets(custom)


def test_secrets_that_cannot_be_made_fail_the_workload_and_outages_are_retried(workspace, kube_backend, cluster,
                                                                               secret_providers):
    """A storage service refusing credentials (or a stored key that no longer decrypts) is the
    workload's failure, said in its reason; an outage raises for the task's retry and leaves it
    admitted."""
    failures = [BackendUnavailable("The storage service is unreachable."),
                StorageError("The storage service refused credentials for s3://team-data/: AccessDenied.")]

    def provider(workload):
        raise failures.pop(0)

    secret_providers(provider)
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox", command=["true"])
    admit_workloads()
    with pytest.raises(BackendUnavailable):
        compute.submit_workload(workload_id=workload.pk)
    workload.refresh_from_db()
    assert workload.phase == Phase.ADMITTED
    assert compute.submit_workload(workload_id=workload.pk) is False
    workload.refresh_from_db()
    assert (workload.phase, workload.reason) == (Phase.FAILED, "SecretsUnavailable")
    assert workload.message == ("Its secrets could not be made: The storage service refused credentials for "
                                "s3://team-data/: AccessDenied.")
    assert not cluster.batch.list_namespaced_job(namespace(workload)).items
    assert not cluster.core.list_namespaced_secret(namespace(workload)).items


def test_a_connection_whose_key_no_longer_decrypts_fails_the_workload(workspace, kube_backend, cluster, s3):
    connection = connect_bucket(workspace.account, "team-data")
    StorageConnection.objects.filter(pk=connection.pk).update(secret_access_key_encrypted="made with a lost key")
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox", command=["true"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk) is False
    workload.refresh_from_db()
    assert (workload.phase, workload.reason) == (Phase.FAILED, "SecretsUnavailable")
    assert workload.message.startswith("Its secrets could not be made: A stored secret cannot be decrypted")


def test_a_resubmit_replaces_the_runtime_secrets_values(workspace, kube_backend, cluster, secret_providers):
    """A submit that is retried after the Secret was made (say, its task died before the Job was)
    brings fresh credentials: the Secret holds exactly the new values, still owned by the Job."""
    values = {"AIP_STORAGE_CREDENTIALS": "first, expired by now", "AIP_RETIRED": "x"}
    secret_providers(lambda workload: dict(values))
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox", command=["true"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk) is True
    values.clear()
    values["AIP_STORAGE_CREDENTIALS"] = "second"
    assert compute.submit_workload(workload_id=workload.pk) is False  # adopted: nothing new was made
    secret = cluster.core.read_namespaced_secret(runtime_secret_name(str(workload.pk)), namespace(workload))
    assert secret.string_data == {"AIP_STORAGE_CREDENTIALS": "second"}
    job = cluster.batch.list_namespaced_job(namespace(workload)).items[0]
    assert [(o.kind, o.uid) for o in secret.metadata.owner_references] == [("Job", job.metadata.uid)]


def benchmark_run(workspace, pool) -> BenchmarkRun:
    creator = member_of(workspace)
    model = inference_services.create_model(workspace=workspace, created_by=creator, name="news", source="storage",
                                            uri=f"file://ws-{workspace.pk}/models/none", runtime="builtin")
    service = inference_services.create_service(workspace=workspace, created_by=creator, model=model, pool=pool,
                                                flavor=pool.nodes.first().flavor, name="news")
    run = BenchmarkRun.objects.create(workspace=workspace, service=service, mode="static",
                                      config={"input_len": 4, "output_len": 2, "concurrencies": [1],
                                              "requests_per_level": 1})
    run.workload = pool_services.create_workload(
        workspace=workspace, pool=pool, name="news-benchmark", kind="benchmark", image="python:3.11-slim",
        command=["python", "-m", "inference.loadgen"],
        pod_sets=[{"name": "client", "replicas": 1, "flavor": pool.nodes.first().flavor, "vcpus": 2,
                   "memory_gib": 4}])
    run.save()
    return run


def test_a_benchmark_token_is_a_secret_on_the_cluster_and_nobody_reads_it(workspace, kube_backend, cluster,
                                                                         storage_credentials, local_root):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=2)
    run = benchmark_run(workspace, pool)
    admit_workloads()
    workload = Workload.objects.get(pk=run.workload_id)
    assert workload.kind == "benchmark" and workload.phase == Phase.ADMITTED
    assert compute.submit_workload(workload_id=workload.pk) is True
    secret = cluster.core.read_namespaced_secret(runtime_secret_name(str(workload.pk)), namespace(workload))
    assert set(secret.string_data) == {"AIP_BENCHMARK_TOKEN", "AWS_SECRET_ACCESS_KEY"}
    assert inference_services.benchmark_run_for_token(secret.string_data["AIP_BENCHMARK_TOKEN"]) == run
    job = cluster.batch.list_namespaced_job(namespace(workload)).items[0]
    assert [(o.kind, o.uid) for o in secret.metadata.owner_references] == [("Job", job.metadata.uid)]
    env = {e.name: e for e in job.spec.template.spec.containers[0].env}
    assert env["AIP_BENCHMARK_TOKEN"].value is None
    assert env["AIP_BENCHMARK_TOKEN"].value_from.secret_key_ref.name == secret.metadata.name
    # Every member of the workspace reads the run and its workload; none reads a token there.
    viewer = client_for(member_of(workspace, Role.VIEWER))
    base = f"/api/v1/workspaces/{workspace.pk}"
    for url in (f"{base}/workloads/{workload.pk}/", f"{base}/services/{run.service_id}/benchmarks/{run.pk}/"):
        response = viewer.get(url)
        assert response.status_code == 200
        assert "TOKEN" not in response.content.decode() and "secret-of" not in response.content.decode()
    # Stopping it deletes the Secret with the rest.
    pool_services.stop_workload(workload=workload, stopped_by=None)
    compute.cancel_workload(workload_id=workload.pk)
    assert not cluster.core.list_namespaced_secret(namespace(workload)).items


def test_the_reconciler_removes_an_orphans_secret(workspace, kube_backend, cluster, storage_credentials):
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    workload = make_workload(workspace, pool, flavor=cpu_flavor(), accelerators=0, image="busybox",
                             command=["true"])
    admit_workloads()
    compute.submit_workload(workload_id=workload.pk)
    assert len(cluster.core.list_namespaced_secret(namespace(workload)).items) == 1
    Workload.objects.filter(pk=workload.pk).update(phase=Phase.FAILED, finished_at=None)
    compute.reconcile()
    assert not cluster.core.list_namespaced_secret(namespace(workload)).items
    assert not cluster.batch.list_namespaced_job(namespace(workload)).items


@pytest.mark.django_db(transaction=True)
def test_a_sandboxed_training_job_posts_its_metrics_and_no_viewer_sees_its_token(
        workspace, developer, developer_client, live_server, local_backend, local_root, settings):
    settings.PLATFORM_URL = live_server.url
    call_command("bootstrap_training_presets")
    dataset = datasets_services.create_dataset(workspace=workspace, created_by=developer, name="news",
                                               type="text_classification",
                                               labels=[{"name": "sport"}, {"name": "weather"}])
    for i in range(12):
        label, text = ("sport", "the team won the match goal") if i % 2 else ("weather", "rain and wind cold")
        SampleFactory(dataset=dataset, source=f"content://{text} {i}", metadata={"text": f"{text} {i}"},
                      annotations=[{"name": label, "type": "modelarts/text_classification"}], status="labelled")
    version = datasets_services.create_version(dataset=dataset, created_by=developer, name="v1")
    datasets_services.publish_version(version_id=version.pk)
    pool = make_pool(name="cpu", flavor=cpu_flavor(), nodes=1)
    base = f"/api/v1/workspaces/{workspace.pk}"
    response = developer_client.post(f"{base}/training-jobs/", {
        "name": "cls", "algorithm": str(Algorithm.objects.get(name="cpu-text-classifier").pk), "pool": str(pool.pk),
        "flavor": "cpu.8u32g", "hyperparameters": {"epochs": 3},
        "inputs": [{"channel": "data", "dataset_version": str(version.pk)}]}, format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    workload = Workload.objects.get(pk=job["workload"])
    admit_workloads()
    assert compute.submit_workload(workload_id=workload.pk) is True
    give_up = time.monotonic() + 120
    while workload.phase != Phase.SUCCEEDED:
        assert time.monotonic() < give_up and workload.phase not in (Phase.FAILED, Phase.STOPPED), (
            workload.phase, workload.message, list(compute.workload_logs(workload=workload)))
        time.sleep(0.2)
        compute.reconcile()
        workload.refresh_from_db()
    # The trainer reported from its sandbox, through the forwarders, with the token it was given.
    losses = developer_client.get(f"{base}/training-jobs/{job['id']}/metrics/", {"name": "loss"}).json()["results"]
    assert [p["step"] for p in losses] == [12, 24, 36]
    assert MetricPoint.objects.filter(job_id=job["id"], name="accuracy").count() == 3
    viewer = client_for(member_of(workspace, Role.VIEWER))
    for url in (f"{base}/workloads/{workload.pk}/", f"{base}/training-jobs/{job['id']}/"):
        response = viewer.get(url)
        assert response.status_code == 200 and "AIP_JOB_TOKEN" not in response.content.decode()
    assert "AIP_JOB_TOKEN" not in workload.env
    assert "metrics report failed" not in "".join(compute.workload_logs(workload=workload))

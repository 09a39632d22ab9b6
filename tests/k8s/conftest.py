from dataclasses import dataclass

import pytest
from kubernetes import client

from aiplatform.celery import app as celery_app
from k8s import runtime_secrets
from k8s.backend import clear_backend_cache, get_compute_backend
from tests.k8s.emulator import ClusterEmulator, kubeconfig, running_emulator


@pytest.fixture
def eager_tasks():
    """Tasks sent (on commit) run at once, in this process."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def secret_providers():
    """Registers providers for one test: the registry is as the apps' ready() left it afterwards."""
    registered = dict(runtime_secrets._providers)
    yield runtime_secrets.register_secret_provider
    runtime_secrets._providers.clear()
    runtime_secrets._providers.update(registered)


# --- the Kubernetes API emulator ------------------------------------------------------------------


@dataclass
class Cluster:
    emulator: ClusterEmulator
    url: str
    api: client.ApiClient

    @property
    def core(self):
        return client.CoreV1Api(self.api)

    @property
    def batch(self):
        return client.BatchV1Api(self.api)

    @property
    def autoscaling(self):
        return client.AutoscalingV2Api(self.api)

    @property
    def apps(self):
        return client.AppsV1Api(self.api)


@pytest.fixture
def cluster():
    """The emulator; tests play the cluster's controllers through the official client: they
    create pods and patch statuses."""
    with running_emulator() as (emulator, url):
        configuration = client.Configuration()
        configuration.host = url
        api = client.ApiClient(configuration)
        yield Cluster(emulator=emulator, url=url, api=api)
        api.close()


@pytest.fixture
def kube_backend(settings, cluster, tmp_path):
    """The KubernetesBackend, configured through a kubeconfig file that points at the emulator."""
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig(cluster.url))
    settings.COMPUTE_BACKEND = "kubernetes"
    settings.KUBECONFIG = str(path)
    clear_backend_cache()
    yield get_compute_backend()
    clear_backend_cache()

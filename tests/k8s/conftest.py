import asyncio
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp.web
import attrs
import kmock
import pytest
from kubernetes import client

from aiplatform.celery import app as celery_app
from k8s.backend import clear_backend_cache, get_compute_backend


@pytest.fixture
def local_backend(settings, tmp_path):
    """The LocalBackend on a directory of its own; its processes are stopped afterwards."""
    settings.COMPUTE_BACKEND = "local"
    settings.LOCAL_BACKEND_DIR = tmp_path / "local-backend"
    clear_backend_cache()
    backend = get_compute_backend()
    yield backend
    for observation in backend.list_owned().values():
        backend.remove(observation)
    clear_backend_cache()


@pytest.fixture
def eager_tasks():
    """Tasks sent (on commit) run at once, in this process."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


# --- a Kubernetes API emulator (kmock) on 127.0.0.1 ------------------------------------------------


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with what the platform relies on and kmock 0.8 lacks: label selectors
    on lists, Namespace creation, and objects stamped with their namespace and creation time."""

    namespaces: set = attrs.field(factory=set, init=False)

    async def __call__(self, raw_request):
        # kmock cannot parse POST /api/v1/namespaces (it answers 500); serve it here.
        if raw_request.method == "POST" and raw_request.path == "/api/v1/namespaces":
            body = json.loads(await raw_request.read())
            name = body["metadata"]["name"]
            if name in self.namespaces:
                return aiohttp.web.json_response({"kind": "Status", "apiVersion": "v1", "code": 409,
                                                  "reason": "AlreadyExists", "status": "Failure",
                                                  "message": f'namespaces "{name}" already exists'}, status=409)
            self.namespaces.add(name)
            return aiohttp.web.json_response(body, status=201)
        return await super().__call__(raw_request)

    async def _handle(self, request):
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.namespace:
                meta.setdefault("namespace", request.namespace)
            meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            meta.setdefault("uid", str(uuid.uuid4()))
        return await super()._handle(request)

    async def _serve_list(self, request):
        listing = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        if selector:
            listing["items"] = [item for item in listing["items"] if matches(selector, item)]
        return listing


SERVED = ("batch/v1/jobs", "apps/v1/deployments", "v1/services", "v1/pods", "v1/nodes")


def matches(selector: str, item: dict) -> bool:
    """Equality and existence requirements, the forms the platform uses."""
    labels = item.get("metadata", {}).get("labels") or {}
    for requirement in selector.split(","):
        key, _, value = requirement.partition("=")
        if key not in labels or (value and labels[key] != value):
            return False
    return True


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
    def apps(self):
        return client.AppsV1Api(self.api)


@pytest.fixture
def cluster():
    """A KubernetesEmulator served over HTTP by kmock.Server, in a thread with its own event
    loop (the platform's client is synchronous). Tests play the cluster's controllers through
    the official client: they create pods and patch statuses."""
    started, state = threading.Event(), {}

    async def serve():
        async with ClusterEmulator() as emulator, kmock.Server(emulator) as server:
            for resource in SERVED:  # listed even while none exist
                emulator.resources[resource] = {}
            state["emulator"], state["url"], state["stop"] = emulator, str(server.url).rstrip("/"), asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            started.set()
            await state["stop"].wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert started.wait(30), "the Kubernetes emulator did not start"
    configuration = client.Configuration()
    configuration.host = state["url"]
    api = client.ApiClient(configuration)
    yield Cluster(emulator=state["emulator"], url=state["url"], api=api)
    api.close()
    state["loop"].call_soon_threadsafe(state["stop"].set)
    thread.join(30)


@pytest.fixture
def kube_backend(settings, cluster, tmp_path):
    """The KubernetesBackend, configured through a kubeconfig file that points at the emulator."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": cluster.url}}],
        "users": [{"name": "platform", "user": {"token": "test-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "platform"}}],
    }))
    settings.COMPUTE_BACKEND = "kubernetes"
    settings.KUBECONFIG = str(kubeconfig)
    clear_backend_cache()
    yield get_compute_backend()
    clear_backend_cache()

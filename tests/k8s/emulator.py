"""A Kubernetes API emulator for tests and benchmarks: kmock's KubernetesEmulator served by
kmock.Server on 127.0.0.1, in a thread with its own event loop (the platform's client is
synchronous), with what the platform relies on and kmock 0.8 lacks."""

import asyncio
import json
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import aiohttp.web
import attrs
import kmock


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """Adds label selectors on lists, Namespace creation, and objects stamped with their
    namespace and creation time."""

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
        if request.method == kmock.method.PUT and request.resource is not None and request.name:
            return await self._replace(request)
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.namespace:
                meta.setdefault("namespace", request.namespace)
            meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            meta.setdefault("uid", str(uuid.uuid4()))
        return await super()._handle(request)

    async def _replace(self, request):
        """PUT (kmock 0.8 has none): the object becomes the body, keeping its identity."""
        key = (request.resource, request.namespace, request.name)
        async with self._lock:
            if key not in self.objects or self.objects[key].deleted:
                return aiohttp.web.json_response({"kind": "Status", "apiVersion": "v1", "code": 404,
                                                  "reason": "NotFound", "status": "Failure"}, status=404)
            old = self.objects[key].raw["metadata"]
            body = dict(request.data)
            body["metadata"] = {**body.get("metadata", {}),
                                **{k: old[k] for k in ("uid", "creationTimestamp", "namespace") if k in old}}
            self.objects[key].create(body)
            raw = self.objects[key].raw
            await self._buses[request.resource].put({"type": "MODIFIED", "object": raw})
        return aiohttp.web.json_response(raw)

    async def _serve_list(self, request):
        listing = await super()._serve_list(request)
        labels, fields = request.params.get("labelSelector"), request.params.get("fieldSelector")
        if labels:
            listing["items"] = [item for item in listing["items"] if matches(labels, item.get("metadata", {}).get(
                "labels") or {})]
        if fields:
            listing["items"] = [item for item in listing["items"] if matches(fields, flatten(item))]
        return listing


SERVED = ("batch/v1/jobs", "apps/v1/deployments", "v1/services", "v1/pods", "v1/nodes", "v1/events", "v1/secrets",
          "autoscaling/v2/horizontalpodautoscalers", "networking.k8s.io/v1/networkpolicies")


def matches(selector: str, values: dict) -> bool:
    """Equality and existence requirements, the forms the platform uses."""
    for requirement in selector.split(","):
        key, _, value = requirement.partition("=")
        if key not in values or (value and values[key] != value):
            return False
    return True


def flatten(obj: dict, prefix: str = "") -> dict:
    """Field paths as field selectors name them: {"involvedObject.kind": "Pod", ...}."""
    flat = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@contextmanager
def running_emulator():
    """Yields (emulator, url) while the emulator serves in its thread."""
    started, state = threading.Event(), {}

    async def serve():
        async with ClusterEmulator() as emulator, kmock.Server(emulator) as server:
            for resource in SERVED:  # listed even while none exist
                emulator.resources[resource] = {}
            state["emulator"], state["url"], state["stop"] = emulator, str(server.url).rstrip("/"), asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            started.set()
            await state["stop"].wait()
            # Open watch streams never end by themselves; end them so the server stops at once.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert started.wait(30), "the Kubernetes emulator did not start"
    try:
        yield state["emulator"], state["url"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(30)


def kubeconfig(url: str) -> str:
    """A kubeconfig (JSON is YAML) that points the official client at the emulator."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "platform", "user": {"token": "test-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "platform"}}],
    })

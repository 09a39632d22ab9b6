"""The gateway: callers reach a service through the platform with their API key; requests are
spread over the serving instances and streamed responses passed through as they come."""

import random
import time
from collections.abc import Iterator

import requests
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from k8s.backend import BackendUnavailable, get_compute_backend
from k8s.services import workload_spec
from resourcepools.models import Phase

from .models import DeploymentMode, Service, ServiceTraffic

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 600
PASSED_HEADERS = ("Content-Type", "Accept")


class NoInstance(Exception):
    """The service has no instance that can take the request; the message says why."""


def entry_role(service: Service) -> str:
    """The role that takes clients' requests: the router of a disaggregated service, else the
    server (the leader of a multi-node instance)."""
    if service.mode == DeploymentMode.DISAGGREGATED:
        return "router"
    names = [p.name for p in service.workload.pod_sets.all()]
    return "server" if "server" in names else "server-leader"


def instances(service: Service) -> list[str]:
    workload = service.workload
    if workload is None or workload.phase != Phase.RUNNING:
        state = workload.phase if workload is not None else "stopped"
        raise NoInstance(f"The service is {state}; it takes requests once it is running.")
    try:
        urls = get_compute_backend().endpoints(workload_spec(workload), entry_role(service))
    except BackendUnavailable as exc:
        raise NoInstance(f"The compute backend cannot be reached: {exc}") from exc
    if not urls:
        raise NoInstance("No instance of the service is up right now; retry shortly.")
    return urls


def forward(*, service: Service, method: str, path: str, body: bytes, headers: dict, query: str):
    """Send the request to an instance (another one if the first cannot be reached). Returns the
    upstream response, streaming, and when it was sent."""
    urls = instances(service)
    random.shuffle(urls)
    started = time.perf_counter()
    last_error = None
    for base in urls:
        url = f"{base}/{path.lstrip('/')}" + (f"?{query}" if query else "")
        try:
            upstream = requests.request(
                method, url, data=body, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                headers={k: v for k, v in headers.items() if k in PASSED_HEADERS},
            )
            return upstream, started
        except requests.ConnectionError as exc:
            last_error = exc
    record_traffic(service_id=service.pk, latency_ms=(time.perf_counter() - started) * 1000, error=True)
    raise NoInstance(f"No instance answered ({type(last_error).__name__}); retry shortly.")


def relay(*, service_id, upstream, started) -> Iterator[bytes]:
    """The upstream body as it arrives; the request is counted when it ends."""
    error = upstream.status_code >= 500
    try:
        yield from upstream.iter_content(chunk_size=None)
    except requests.RequestException:
        error = True
    finally:
        upstream.close()
        record_traffic(service_id=service_id, latency_ms=(time.perf_counter() - started) * 1000, error=error)


def record_traffic(*, service_id, latency_ms: float, error: bool) -> None:
    minute = timezone.now().replace(second=0, microsecond=0)
    changes = {"requests": F("requests") + 1, "errors": F("errors") + int(error),
               "latency_ms_total": F("latency_ms_total") + latency_ms,
               "latency_ms_max": Greatest(F("latency_ms_max"), latency_ms)}
    if ServiceTraffic.objects.filter(service_id=service_id, minute=minute).update(**changes):
        return
    try:
        with transaction.atomic():
            ServiceTraffic.objects.create(service_id=service_id, minute=minute, requests=1, errors=int(error),
                                          latency_ms_total=latency_ms, latency_ms_max=latency_ms)
    except IntegrityError:  # another request created the minute first
        ServiceTraffic.objects.filter(service_id=service_id, minute=minute).update(**changes)

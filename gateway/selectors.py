"""What the gateway reads from the database, each a plain query run in its database threads
when its cache misses or is refreshed (never on a request's way otherwise)."""

import hmac
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Max, QuerySet, Sum
from rest_framework.exceptions import NotFound

from aiplatform import selectors as platform_selectors
from inference.gateway import entry_role
from inference.models import Service
from k8s.backend import WorkloadSpec
from k8s.services import workload_spec
from resourcepools.models import Phase, Workload

from .models import ServiceGateway, TrafficMinute


@dataclass(frozen=True)
class KeyFacts:
    """An API key as the gateway checks it on every request (expiry included, at that moment)."""

    id: str
    prefix: str
    user_id: int
    user: object = field(repr=False, compare=False)
    expires_at: datetime | None
    revoked: bool
    user_active: bool


def api_key(*, prefix: str, secret_hash: str) -> KeyFacts | None:
    """The key with this prefix whose whole secret hashes to `secret_hash`, or None."""
    found = platform_selectors.api_key_with_user(prefix=prefix)
    if found is None or not hmac.compare_digest(found.secret_hash, secret_hash):
        return None
    return KeyFacts(id=str(found.pk), prefix=found.prefix, user_id=found.user_id, user=found.user,
                    expires_at=found.expires_at, revoked=found.revoked_at is not None,
                    user_active=found.user.is_active)


def role(*, user, workspace_id: str) -> str | None:
    """The user's effective role in the workspace (operators and account admins: owner), or None
    when they are not in it (or it does not exist)."""
    try:
        return platform_selectors.workspace_and_role(user=user, workspace_id=workspace_id)[1]
    except NotFound:
        return None


@dataclass(frozen=True)
class Limits:
    requests_per_minute: int
    tokens_per_minute: int
    key_requests_per_minute: int
    key_tokens_per_minute: int
    max_streams_per_instance: int
    prefix_routing: bool


@dataclass(frozen=True)
class ServiceFacts:
    id: str
    workspace_id: str
    account_id: str
    name: str
    flavor_id: int
    family: str
    workload_id: str | None
    phase: str | None
    spec: WorkloadSpec | None = field(repr=False, compare=False)
    role: str | None
    limits: Limits

    @property
    def running(self) -> bool:
        return self.phase == Phase.RUNNING

    def refusal(self) -> str:
        return f"The service is {self.phase or 'stopped'}; it takes requests once it is running."


def limits_of(config: ServiceGateway | None) -> Limits:
    def pick(name, default):
        value = getattr(config, name, None) if config is not None else None
        return default if value is None else value

    return Limits(
        requests_per_minute=pick("requests_per_minute", settings.GATEWAY_SERVICE_REQUESTS_PER_MINUTE),
        tokens_per_minute=pick("tokens_per_minute", settings.GATEWAY_SERVICE_TOKENS_PER_MINUTE),
        key_requests_per_minute=pick("key_requests_per_minute", 0),
        key_tokens_per_minute=pick("key_tokens_per_minute", 0),
        max_streams_per_instance=pick("max_streams_per_instance", settings.GATEWAY_MAX_STREAMS_PER_INSTANCE),
        prefix_routing=config is not None and config.routing == "prefix",
    )


def service(*, service_id: str) -> ServiceFacts | None:
    try:
        found = (Service.objects.filter(pk=service_id)
                 .select_related("workload__pool", "workload__workspace", "workspace", "flavor", "gateway")
                 .prefetch_related("workload__pod_sets__flavor").first())
    except (ValueError, DjangoValidationError):
        return None
    if found is None:
        return None
    workload = found.workload
    return ServiceFacts(
        id=str(found.pk), workspace_id=str(found.workspace_id), account_id=str(found.workspace.account_id),
        name=found.name, flavor_id=found.flavor_id, family=found.flavor.family,
        workload_id=str(workload.pk) if workload else None, phase=workload.phase if workload else None,
        spec=workload_spec(workload) if workload and workload.phase == Phase.RUNNING else None,
        role=entry_role(found) if workload else None,
        limits=limits_of(getattr(found, "gateway", None)),
    )


def workload(*, workspace_id: str, workload_id: str) -> Workload | None:
    """A workload of the workspace (for its logs), or None."""
    try:
        return (Workload.objects.filter(workspace_id=workspace_id, pk=workload_id)
                .select_related("pool", "workspace").prefetch_related("pod_sets__flavor").first())
    except (ValueError, DjangoValidationError):
        return None


def traffic(*, service, api_key_prefix: str | None = None, since=None) -> QuerySet:
    """A service's traffic per minute, newest first, summed over its API keys (or one key's)."""
    minutes = TrafficMinute.objects.filter(service=service)
    if api_key_prefix:
        minutes = minutes.filter(api_key_prefix=api_key_prefix)
    if since is not None:
        minutes = minutes.filter(minute__gte=since)
    return minutes.values("minute").annotate(
        requests=Sum("requests"), errors=Sum("errors"), prompt_tokens=Sum("prompt_tokens"),
        completion_tokens=Sum("completion_tokens"), latency_ms_total=Sum("latency_ms_total"),
        latency_ms_max=Max("latency_ms_max"), ttft_ms_total=Sum("ttft_ms_total"), streams=Sum("streams"),
    ).order_by("-minute")


def gateway_of(*, service) -> ServiceGateway:
    """The service's gateway settings (unsaved defaults when it has none)."""
    return ServiceGateway.objects.filter(service=service).first() or ServiceGateway(service=service)


def session_user(*, session_key: str):
    """The active user a console session (Django's session cookie) belongs to, or None; a session
    whose password hash no longer matches (the password changed) counts for nothing, as in Django."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.utils.crypto import constant_time_compare

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    user = get_user_model().objects.filter(pk=store.get(SESSION_KEY)).first() if store.get(SESSION_KEY) else None
    if user is None or not user.is_active:
        return None
    if not constant_time_compare(store.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
        return None
    return user

"""The gateway: an ASGI application of its own for the platform's serving traffic, apart from the
control-plane API's workers. It serves

- calls to services: `/api/v1/workspaces/{ws}/services/{id}/v1/…` (OpenAI-compatible) and
  `…/services/{id}/invoke/<runtime path>`, streamed through as they come;
- log follows: `/api/v1/workspaces/{ws}/workloads/{id}/logs/?follow=true`;
- notebooks' JupyterLab, HTTP and websockets: `/api/v1/workspaces/{ws}/notebooks/{id}/lab/…` (notebooks.py);
- `/metrics` (Prometheus) and `/gateway/healthz`;

and passes every other request to the API (GATEWAY_API_URL), as the embedded default's front
door. A request reads API keys, roles and services from in-process caches (cache.py), is checked
against the limits (limits.py), routed (router.py), metered (metering.py) and answered in the
platform's one error shape."""

import asyncio
import contextvars
import ipaddress
import logging
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl

import aiohttp
import orjson
import redis.asyncio as aioredis
from django.conf import settings
from django.db import close_old_connections, connections
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.exceptions import ValidationError

from aiplatform.services import hash_secret
from k8s.backend import BackendUnavailable, UnknownReplica, get_compute_backend
from k8s.serializers import LogQuerySerializer
from k8s.services import workload_logs
from notebooks.services import proxy_target

from . import invalidation, limits, logs, metering, metrics, selectors, services, sse
from .cache import Cache, Unavailable
from .notebooks import NOTEBOOK_PATH, NotebookProxy
from .router import AllBusy, Ejection, ServiceRouter, prefix_hashes

logger = logging.getLogger(__name__)
access_log = logging.getLogger("gateway.access")

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_ID = r"[^/]+"
SERVICE_PATH = re.compile(
    rf"^/api/v1/workspaces/(?P<workspace>{_ID})/services/(?P<service>{_ID})/(?:(?P<v1>v1/.*)|invoke/(?P<path>.*))$")
LOGS_PATH = re.compile(rf"^/api/v1/workspaces/(?P<workspace>{_ID})/workloads/(?P<workload>{_ID})/logs/?$")
LLM_PATHS = {"v1/chat/completions", "v1/completions"}
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer",
              b"transfer-encoding", b"upgrade", b"host", b"content-length"}
# What reaches an instance of the caller's headers: never the platform's API key.
PASSED_TO_INSTANCE = ("content-type", "accept")
# Of an upstream 5xx answer, this much is quoted in the error.
QUOTED = 300
JSON_USAGE_LIMIT = 1 << 20


class RequestIdFilter(logging.Filter):
    """Puts the request id of the task that logs on every record (`%(request_id)s`)."""

    def filter(self, record):
        record.request_id = REQUEST_ID.get()
        return True


class GatewayError(Exception):
    def __init__(self, status: int, code: str, detail: str, *, attr: str | None = None, headers=()):
        super().__init__(detail)
        self.status, self.code, self.detail, self.attr, self.headers = status, code, detail, attr, list(headers)

    @property
    def kind(self) -> str:
        if self.status >= 500:
            return "server_error"
        return "validation_error" if self.code in ("invalid", "required") or self.attr else "client_error"

    def body(self) -> bytes:
        return orjson.dumps({"type": self.kind, "errors": [{"code": self.code, "detail": self.detail,
                                                            "attr": self.attr}]})


def _unavailable(detail: str) -> GatewayError:
    return GatewayError(503, "service_unavailable", detail,
                        headers=[(b"retry-after", str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS).encode())])


class ClientGone(Exception):
    """The caller closed the connection."""


def _backend_endpoints(spec, role) -> list[str]:
    return get_compute_backend().endpoints(spec, role)


def _in_db_thread(fn, args, kwargs):
    close_old_connections()  # connections the database dropped, or past their age, are replaced
    return fn(*args, **kwargs)


class Gateway:
    """One gateway process's application. `endpoints(spec, role)` gives a role's base URLs (the
    compute backend's, by default)."""

    def __init__(self, *, endpoints=None):
        self.endpoints_of = endpoints or _backend_endpoints
        self.ready = False
        self.in_flight = 0
        self.followers = 0
        self.notebooks = NotebookProxy(self)

    # --- lifespan ----------------------------------------------------------------------------

    async def startup(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.executor = ThreadPoolExecutor(max_workers=settings.GATEWAY_DB_THREADS, thread_name_prefix="gateway-db")
        ttl, stale = settings.GATEWAY_CACHE_SECONDS, settings.GATEWAY_CACHE_STALE_SECONDS
        self.keys = Cache("api keys", self._load_key, run=self.run, ttl=ttl, stale=stale)
        self.roles = Cache("roles", self._load_role, run=self.run, ttl=ttl, stale=stale)
        self.services = Cache("services", lambda service_id: selectors.service(service_id=service_id), run=self.run,
                              ttl=ttl, stale=stale)
        self.notebook_targets = Cache("notebooks", lambda key: proxy_target(workspace_id=key[0], notebook_id=key[1]),
                                      run=self.run, ttl=ttl, stale=stale)
        self.routers: dict[str, ServiceRouter] = {}
        self.routed_at: dict[str, float] = {}
        self.ejection = Ejection(after_errors=settings.GATEWAY_EJECT_AFTER_ERRORS,
                                 base_seconds=settings.GATEWAY_EJECT_SECONDS)
        self.redis = aioredis.from_url(settings.GATEWAY_REDIS_URL, socket_connect_timeout=1, socket_timeout=2) \
            if settings.GATEWAY_REDIS_URL else None
        self.limiter = limits.Limiter(self.redis)
        self.meter = metering.Meter()
        self.store = metering.RedisStore(self.redis, lock_seconds=max(30.0, 3 * settings.GATEWAY_METER_FLUSH_SECONDS)) \
            if self.redis else metering.LocalStore()
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=None, connect=settings.GATEWAY_CONNECT_TIMEOUT_SECONDS,
                                          sock_read=settings.GATEWAY_READ_TIMEOUT_SECONDS),
            auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        # The API may hold a request long (an upload, a report): no read limit of the instances' kind.
        self.api = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
            timeout=aiohttp.ClientTimeout(total=None, connect=settings.GATEWAY_CONNECT_TIMEOUT_SECONDS),
            auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"))
        self.tasks = [asyncio.ensure_future(loop) for loop in (
            self._every(settings.GATEWAY_CACHE_SECONDS / 2, self._refresh_caches),
            self._every(settings.GATEWAY_ENDPOINTS_REFRESH_SECONDS, self._refresh_endpoints),
            self._every(settings.GATEWAY_METER_PUSH_SECONDS, lambda: metering.push(self.meter, self.store)),
            self._every(settings.GATEWAY_METER_FLUSH_SECONDS, self.flush_meter),
        )]
        if self.redis is not None:
            self.tasks.append(asyncio.ensure_future(self._listen_for_invalidations()))
        self.ready = True

    async def shutdown(self) -> None:
        self.ready = False
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:  # what this process metered goes out before it stops
            await metering.push(self.meter, self.store)
            await self.flush_meter()
        except Exception:
            logger.exception("gateway metering: the last flush failed; Redis keeps what was pushed")
        await self.http.close()
        await self.api.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self._close_connections()
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def _close_connections(self) -> None:
        """Closes every database thread's connection: as many jobs as threads, each holding its
        thread until all have started, so that each lands on a thread of its own."""
        threads = settings.GATEWAY_DB_THREADS
        barrier = threading.Barrier(threads)

        def close():
            connections.close_all()
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass

        await asyncio.gather(*(self.loop.run_in_executor(self.executor, close) for _ in range(threads)))

    async def _every(self, seconds: float, step) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("gateway: %s failed; it runs again in %s s", getattr(step, "__name__", step), seconds)

    async def run(self, fn, *args, **kwargs):
        """fn(*args) in a database thread."""
        return await self.loop.run_in_executor(self.executor, _in_db_thread, fn, args, kwargs)

    async def _refresh_caches(self) -> None:
        for cache in (self.keys, self.roles, self.services, self.notebook_targets):
            await cache.refresh()

    async def _refresh_endpoints(self) -> None:
        now = time.monotonic()
        for service_id in list(self.routers):
            if now - self.routed_at.get(service_id, 0) > 600:  # unused for ten minutes: forgotten
                self.routers.pop(service_id, None)
                continue
            facts = await self.services.get(service_id)
            await self._update_endpoints(service_id, facts)

    async def _update_endpoints(self, service_id: str, facts) -> None:
        router = self.routers.get(service_id)
        if router is None:
            return
        if facts is None or not facts.running:
            router.update([])
            return
        try:
            urls = await self.run(self.endpoints_of, facts.spec, facts.role)
        except BackendUnavailable:
            logger.warning("gateway: the compute backend cannot be reached; service %s keeps its instances", service_id)
            return
        router.update(list(urls))
        router.workload_id = facts.workload_id

    async def flush_meter(self) -> int:
        return await metering.flush(self.store, lambda batch_id, sums: self.run(
            services.record_meter_batch, batch_id=batch_id, sums=sums))

    async def _listen_for_invalidations(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(invalidation.CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.invalidate(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("gateway: lost the invalidation channel; caches expire on their own meanwhile",
                               exc_info=True)
                await asyncio.sleep(1)

    def invalidate(self, message: bytes) -> None:
        parsed = invalidation.parse(message)
        if parsed is None:
            return
        kind, ids = parsed
        ids = set(ids)
        if kind == invalidation.KEY:
            self.keys.forget(lambda key, _: key[0] in ids)
        elif kind == invalidation.USER:
            self.roles.forget(lambda key, _: str(key[0]) in ids)
        elif kind == invalidation.SERVICE:
            self.services.forget(lambda key, _: key in ids)
        elif kind == invalidation.WORKLOAD:
            self.services.forget(lambda _, facts: facts is not None and facts.workload_id in ids)
            self.notebook_targets.forget(lambda _, target: target is not None and target.workload_id in ids)
        elif kind == invalidation.NOTEBOOK:
            self.notebook_targets.forget(lambda key, _: key[1] in ids)

    # --- ASGI --------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.handle_websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    logger.exception("gateway: startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope, receive, send) -> None:
        request_id = _request_id(scope)
        REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = [0]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        path = scope["path"]
        try:
            if (match := SERVICE_PATH.match(path)) is not None:
                await self.call_service(scope, receive, sending, match)
            elif (match := NOTEBOOK_PATH.match(path)) is not None:
                await self.notebooks.http(scope, receive, sending, match, error=GatewayError, read_body=_read_body)
            elif (match := LOGS_PATH.match(path)) is not None and _follows(scope):
                await self.follow_logs(scope, receive, sending, match)
            elif path == "/metrics":
                await _answer(sending, 200, generate_latest(metrics.REGISTRY), CONTENT_TYPE_LATEST.encode())
            elif path == "/gateway/healthz":
                await _answer(sending, 200 if self.ready else 503, orjson.dumps(
                    {"ready": self.ready, "in_flight": self.in_flight, "log_followers": self.followers}))
            elif settings.GATEWAY_API_URL:
                await self.pass_to_api(scope, receive, sending)
            else:
                raise GatewayError(404, "not_found", "Not found: the gateway serves calls to services and log "
                                                     "follows; send other requests to the API.")
        except GatewayError as error:
            if status[0]:
                raise
            await _answer(sending, error.status, error.body(), headers=error.headers)
        except ClientGone:
            pass
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info('%s "%s %s" %s %.1f ms', _client_address(scope), scope["method"], path,
                                status[0] or "-", (time.perf_counter() - started) * 1000)

    async def handle_websocket(self, scope, receive, send) -> None:
        """Websockets are a notebook's only (its kernels and terminals); others are refused."""
        REQUEST_ID.set(_request_id(scope))
        match = NOTEBOOK_PATH.match(scope["path"])
        if match is None:
            await send({"type": "websocket.close", "code": 1008, "reason": "Only notebooks take websockets here."})
            return
        await self.notebooks.websocket(scope, receive, send, match, error=GatewayError)

    # --- calls to services -------------------------------------------------------------------

    async def authenticate(self, scope) -> selectors.KeyFacts:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                parts = value.decode("latin-1").split()
                if len(parts) == 2 and parts[0].lower() == "bearer":
                    token = parts[1]
                else:
                    raise GatewayError(401, "authentication_failed",
                                       "Send the header as 'Authorization: Bearer <api key>'.",
                                       headers=[(b"www-authenticate", b"Bearer")])
                break
        if token is None:
            raise GatewayError(401, "not_authenticated", "Authentication credentials were not provided.",
                               headers=[(b"www-authenticate", b"Bearer")])
        failures = self._failure_limit(scope)
        if failures is not None:
            refused = await self.limiter.admit([], [failures])
            if refused is not None:
                raise GatewayError(429, "throttled", f"Too many invalid API keys from your address "
                                                     f"({settings.API_KEY_FAILURES_PER_MINUTE} a minute). Retry in "
                                                     f"{refused.retry_after} seconds with a valid key.",
                                   headers=[(b"retry-after", str(refused.retry_after).encode())])
        parts = token.split("_")
        key = None
        if len(parts) >= 3 and parts[0] == settings.API_KEY_PREFIX:
            try:
                key = await self.keys.get((parts[1], hash_secret(token)))
            except Unavailable as exc:
                raise _unavailable("The platform's database cannot be reached to check the API key; retry "
                                   "shortly.") from exc
        if key is None or key.revoked or (key.expires_at is not None and key.expires_at.timestamp() <= time.time()):
            if failures is not None:
                await self.limiter.spend([failures], 1)
            raise GatewayError(401, "authentication_failed", "The API key is invalid, revoked or expired.",
                               headers=[(b"www-authenticate", b"Bearer")])
        if not key.user_active:
            raise GatewayError(401, "authentication_failed", "The user of this API key is disabled.",
                               headers=[(b"www-authenticate", b"Bearer")])
        return key

    def _failure_limit(self, scope) -> limits.Limit | None:
        address = _client_address(scope)
        if settings.API_KEY_FAILURES_PER_MINUTE <= 0 or address is None:
            return None
        return limits.Limit(f"auth-failures:{address}", settings.API_KEY_FAILURES_PER_MINUTE, "your address")

    def _load_key(self, key):
        prefix, secret_hash = key
        return selectors.api_key(prefix=prefix, secret_hash=secret_hash)

    def _load_role(self, key):
        user, workspace_id = key[1], key[2]
        return selectors.role(user=user, workspace_id=workspace_id)

    async def workspace_role(self, key: selectors.KeyFacts, workspace_id: str) -> str:
        try:
            role = await self.roles.get(_RoleKey(key.user_id, key.user, workspace_id))
        except Unavailable as exc:
            raise _unavailable("The platform's database cannot be reached; retry shortly.") from exc
        if role is None:
            raise GatewayError(404, "not_found", "Workspace not found.")
        return role

    async def service_facts(self, workspace_id: str, service_id: str) -> selectors.ServiceFacts:
        try:
            facts = await self.services.get(service_id)
        except Unavailable as exc:
            raise _unavailable("The platform's database cannot be reached; retry shortly.") from exc
        if facts is None or facts.workspace_id != workspace_id:
            raise GatewayError(404, "not_found", "Service not found.")
        return facts

    async def call_service(self, scope, receive, send, match) -> None:
        started = time.perf_counter()
        method = scope["method"]
        if method not in ("GET", "POST"):
            raise GatewayError(405, "method_not_allowed", f'Method "{method}" not allowed.')
        key = await self.authenticate(scope)
        workspace_id = match["workspace"]
        await self.workspace_role(key, workspace_id)  # every role may call a service
        facts = await self.service_facts(workspace_id, match["service"])
        body = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if not facts.running:
            raise _unavailable(facts.refusal())
        runtime_path = match["v1"] if match["v1"] is not None else match["path"]
        payload, strip_usage, prompt = None, False, None
        if method == "POST" and runtime_path in LLM_PATHS:
            payload = _json_object(body)
            if payload.get("stream") is True:
                options = payload.get("stream_options")
                if not (isinstance(options, dict) and options.get("include_usage")):
                    # Asked on the caller's behalf, so that tokens are metered; left out of their answer.
                    payload["stream_options"] = {**(options if isinstance(options, dict) else {}),
                                                 "include_usage": True}
                    strip_usage = True
                    body = orjson.dumps(payload)
            prompt = sse.prompt_text(payload)
        requests, tokens = self._limits(key, facts)
        refused = await self.limiter.admit(requests, tokens)
        if refused is not None:
            metrics.LIMITED.labels(facts.id).inc()
            raise GatewayError(429, "throttled", refused.detail,
                               headers=[(b"retry-after", str(refused.retry_after).encode())])
        router = await self._router(facts)
        block = settings.GATEWAY_PREFIX_BLOCK_CHARS
        prefix = prefix_hashes(prompt, block) if facts.limits.prefix_routing and prompt else None
        query = scope.get("query_string", b"").decode("latin-1")
        outcome = _Outcome(facts.id)
        self.in_flight += 1
        metrics.IN_FLIGHT.inc()
        try:
            await self._forward(scope, receive, send, router=router, facts=facts, method=method,
                                path=runtime_path, query=query, body=body, prefix=prefix, strip_usage=strip_usage,
                                outcome=outcome)
        finally:
            self.in_flight -= 1
            metrics.IN_FLIGHT.dec()
            self._account(key, facts, outcome, started, prompt, tokens)

    def _limits(self, key, facts) -> tuple[list[limits.Limit], list[limits.Limit]]:
        mine = facts.limits
        requests, tokens = [], []
        for limit, name, what, into in (
            (settings.GATEWAY_KEY_REQUESTS_PER_MINUTE, f"key:{key.id}", "this API key", requests),
            (mine.requests_per_minute, f"service:{facts.id}", "this service", requests),
            (mine.key_requests_per_minute, f"service:{facts.id}:key:{key.id}", "this API key at this service",
             requests),
            (settings.GATEWAY_KEY_TOKENS_PER_MINUTE, f"tokens:key:{key.id}", "this API key", tokens),
            (mine.tokens_per_minute, f"tokens:service:{facts.id}", "this service", tokens),
            (mine.key_tokens_per_minute, f"tokens:service:{facts.id}:key:{key.id}", "this API key at this service",
             tokens),
        ):
            if limit:
                into.append(limits.Limit(name, limit, what))
        return requests, tokens

    async def _router(self, facts) -> ServiceRouter:
        router = self.routers.get(facts.id)
        self.routed_at[facts.id] = time.monotonic()
        if router is None:
            router = self.routers[facts.id] = ServiceRouter(ejection=self.ejection)
            await self._update_endpoints(facts.id, facts)
        elif not router.instances or router.workload_id != facts.workload_id:
            # A rollout's new deployment takes the requests as soon as the service names it.
            await self._update_endpoints(facts.id, facts)
        if not router.instances:
            raise _unavailable("No instance of the service is up right now; retry shortly.")
        return router

    async def _forward(self, scope, receive, send, *, router, facts, method, path, query, body, prefix,
                       strip_usage, outcome) -> None:
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
                   if name.decode("latin-1") in PASSED_TO_INSTANCE}
        headers["X-Request-Id"] = REQUEST_ID.get()
        tried, response, refreshed = set(), None, False
        while response is None:
            try:
                instance = router.pick(exclude=tried, max_outstanding=facts.limits.max_streams_per_instance,
                                       prefix=prefix, max_imbalance=settings.GATEWAY_PREFIX_MAX_IMBALANCE)
            except AllBusy:
                outcome.status = 429
                raise GatewayError(429, "throttled", "Every instance of the service has its maximum of requests "
                                                     "in flight; retry shortly.",
                                   headers=[(b"retry-after", b"1")]) from None
            if instance is None and not refreshed:
                # Every instance it knew is gone (a rollout stopped them): ask once where the service runs now.
                refreshed = True
                self.services.forget(lambda key, _, service_id=facts.id: key == service_id)
                fresh = await self.services.get(facts.id)
                if fresh is not None and fresh.running:
                    facts = fresh
                    await self._update_endpoints(facts.id, facts)
                continue
            if instance is None:
                outcome.status = 503
                raise _unavailable("No instance of the service answered; retry shortly.")
            tried.add(instance.url)
            router.started(instance, prefix)
            url = f"{instance.url}/{path}" + (f"?{query}" if query else "")
            try:
                response = await self.http.request(method, url, data=body, headers=headers, allow_redirects=False)
            except aiohttp.ClientConnectorError:
                # Nothing reached the instance: it is set aside and the next one tried.
                router.finished(instance)
                router.failed(instance, unreachable=True)
                metrics.UPSTREAM_ERRORS.labels(facts.id, "unreachable").inc()
                continue
            except (TimeoutError, aiohttp.ClientError) as exc:
                router.finished(instance)
                router.failed(instance, unreachable=False)
                timed_out = isinstance(exc, TimeoutError)
                metrics.UPSTREAM_ERRORS.labels(facts.id, "timeout" if timed_out else "broken").inc()
                outcome.status = 504 if timed_out else 502
                if timed_out:
                    seconds = settings.GATEWAY_READ_TIMEOUT_SECONDS
                    raise GatewayError(504, "upstream_timeout",
                                       f"The service's instance did not answer within {seconds:g} s.") from exc
                raise GatewayError(502, "upstream_error", "The service's instance closed the connection without "
                                                          "answering.") from exc
        try:
            await self._relay(receive, send, response, router=router, instance=instance, facts=facts,
                              strip_usage=strip_usage, outcome=outcome)
        finally:
            router.finished(instance)

    async def _relay(self, receive, send, response, *, router, instance, facts, strip_usage, outcome) -> None:
        """The instance's answer to the caller as it comes; the upstream request is cancelled when
        the caller leaves."""
        outcome.status = response.status
        if response.status >= 500:
            try:
                text = (await response.content.read(QUOTED)).decode(errors="replace")
            except (TimeoutError, aiohttp.ClientError):
                text = ""
            finally:
                response.close()
            router.failed(instance, unreachable=False)
            metrics.UPSTREAM_ERRORS.labels(facts.id, "5xx").inc()
            outcome.status = 502
            raise GatewayError(502, "upstream_error", f"The service's instance answered {response.status}"
                                                      + (f": {text.strip()}" if text.strip() else "."))
        content_type = response.headers.get("Content-Type", "application/json")
        streaming = content_type.startswith("text/event-stream")
        if streaming:
            metrics.STREAMS.inc()
        pump = asyncio.ensure_future(self._pump(send, response, content_type, streaming, strip_usage, outcome))
        watch = asyncio.ensure_future(_disconnected(receive))
        try:
            done, _ = await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
            if pump not in done:
                pump.cancel()
            try:
                await pump
            except (asyncio.CancelledError, ClientGone, OSError):
                # A caller that hangs up once the stream's end has reached it got the whole answer.
                if not outcome.complete:
                    outcome.client_gone = True
                    outcome.error = True
        finally:
            watch.cancel()
            response.close()  # a no-op once read whole; else the instance sees the connection end
            if streaming:
                metrics.STREAMS.dec()
        if outcome.upstream_broke:
            router.failed(instance, unreachable=False)
        elif not outcome.client_gone:
            router.succeeded(instance)

    async def _pump(self, send, response, content_type, streaming, strip_usage, outcome) -> None:
        # A tenant's runtime answers on the platform's origin: whatever it sends (HTML, say) is
        # neither sniffed nor run there as the platform's page.
        await send({"type": "http.response.start", "status": response.status, "headers": [
            (b"content-type", content_type.encode("latin-1")), (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"), (b"content-security-policy", b"sandbox; default-src 'none'"),
            *([(b"x-accel-buffering", b"no")] if streaming else [])]})
        reader = sse.StreamMeter(strip_usage=strip_usage) if streaming else None
        kept = bytearray() if not streaming and content_type.startswith("application/json") else None
        try:
            async for chunk in response.content.iter_any():
                if reader is not None:
                    chunk = reader.feed(chunk, time.perf_counter())
                    if not chunk:
                        continue
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    outcome.complete = reader.finished
                    continue
                elif kept is not None and len(kept) + len(chunk) <= JSON_USAGE_LIMIT:
                    kept += chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if reader is not None and (rest := reader.rest()):
                await send({"type": "http.response.body", "body": rest, "more_body": True})
        except (TimeoutError, aiohttp.ClientError) as exc:
            outcome.upstream_broke = True
            outcome.error = True
            timed_out = isinstance(exc, TimeoutError)
            metrics.UPSTREAM_ERRORS.labels(outcome.service_label, "timeout" if timed_out else "broken").inc()
            if reader is not None:
                message = (f"The service's instance sent nothing for {settings.GATEWAY_READ_TIMEOUT_SECONDS:g} s."
                           if timed_out else "The service's instance broke off the answer.")
                await send({"type": "http.response.body", "more_body": True,
                            "body": sse.error_event(message, "upstream_timeout" if timed_out else "upstream_error")})
        finally:
            if reader is not None:
                outcome.usage = reader.usage
                outcome.content_events = reader.content_events
                outcome.first_token_at = reader.first_token_at
                if reader.error:
                    outcome.error = True
            elif kept is not None and not outcome.upstream_broke:
                outcome.usage = sse.usage_of(bytes(kept))
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _account(self, key, facts, outcome, started, prompt, tokens_limits) -> None:
        """Meters the request, adds its tokens to the limits' counts and to the metrics."""
        ended = time.perf_counter()
        latency_ms = (ended - started) * 1000
        if outcome.usage is not None:
            prompt_tokens, completion_tokens = outcome.usage
        else:  # no usage reported: the streamed tokens counted, the prompt estimated
            completion_tokens = outcome.content_events
            prompt_tokens = sse.estimate_tokens(prompt) if prompt and outcome.status and outcome.status < 400 else 0
        ttft_ms = (outcome.first_token_at - started) * 1000 if outcome.first_token_at is not None else None
        error = outcome.error or not outcome.status or outcome.status >= 500
        self.meter.record(service_id=facts.id, key_id=key.id, key_prefix=key.prefix, at=time.time(), error=error,
                          latency_ms=latency_ms, ttft_ms=ttft_ms, prompt=prompt_tokens, completion=completion_tokens)
        metrics.REQUESTS.labels(facts.id, str(outcome.status or 499)).inc()
        metrics.LATENCY.labels(facts.id).observe(latency_ms / 1000)
        if ttft_ms is not None:
            metrics.TTFT.labels(facts.id).observe(ttft_ms / 1000)
        if prompt_tokens:
            metrics.TOKENS.labels(facts.id, "prompt").inc(prompt_tokens)
        if completion_tokens:
            metrics.TOKENS.labels(facts.id, "completion").inc(completion_tokens)
        if tokens_limits and (prompt_tokens or completion_tokens):
            asyncio.ensure_future(self.limiter.spend(tokens_limits, prompt_tokens + completion_tokens))

    # --- log follows -------------------------------------------------------------------------

    async def follow_logs(self, scope, receive, send, match) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            raise GatewayError(405, "method_not_allowed", f'Method "{scope["method"]}" not allowed.')
        key = await self.authenticate(scope)
        workspace_id = match["workspace"]
        await self.workspace_role(key, workspace_id)
        query = LogQuerySerializer(data=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))))
        if not query.is_valid():
            field, problems = next(iter(query.errors.items()))
            raise GatewayError(400, str(problems[0].code), str(problems[0]), attr=field)
        replica = query.validated_data.get("replica")
        try:
            workload = await self.run(selectors.workload, workspace_id=workspace_id, workload_id=match["workload"])
            if workload is None:
                raise GatewayError(404, "not_found", "Workload not found.")
            lines = await self.run(_follow, workload, replica, query.validated_data["tail"])
        except UnknownReplica as exc:
            if replica or exc.replicas:
                raise GatewayError(400, "invalid", str(exc), attr="replica") from None
            lines = iter(())
        except BackendUnavailable as exc:
            raise GatewayError(503, "backend_unavailable", f"The compute backend cannot be reached now ({exc}); try "
                                                           "again shortly.") from exc
        except ValidationError as exc:
            raise GatewayError(400, "invalid", str(exc)) from exc
        follower = logs.Follower(lines, self.loop).start()
        self.followers += 1
        metrics.FOLLOWERS.inc()

        async def pump():
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"x-accel-buffering", b"no"),
                (b"cache-control", b"no-cache")]})
            try:
                async for line in follower:
                    await send({"type": "http.response.body", "body": line.encode(), "more_body": True})
            except BackendUnavailable as exc:
                await send({"type": "http.response.body", "more_body": True,
                            "body": f"\n[the compute backend broke off the log: {exc}]\n".encode()})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        task, watch = asyncio.ensure_future(pump()), asyncio.ensure_future(_disconnected(receive))
        try:
            done, _ = await asyncio.wait((task, watch), return_when=asyncio.FIRST_COMPLETED)
            if task not in done:
                task.cancel()
            try:
                await task
            except (asyncio.CancelledError, OSError):
                pass
        finally:
            watch.cancel()
            follower.stop()
            self.followers -= 1
            metrics.FOLLOWERS.dec()

    # --- the API behind ------------------------------------------------------------------------

    async def pass_to_api(self, scope, receive, send) -> None:
        """The request as it came to the API (GATEWAY_API_URL), its answer back as it comes."""
        body = await _read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        headers, forwarded = [], None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded = value.decode("latin-1")
            elif name not in HOP_BY_HOP or name == b"host":
                headers.append((name.decode("latin-1"), value.decode("latin-1")))
        peer = (scope.get("client") or ("",))[0]
        headers.append(("X-Forwarded-For", f"{forwarded}, {peer}" if forwarded else peer))
        headers.append(("X-Request-Id", REQUEST_ID.get()))
        target = settings.GATEWAY_API_URL + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        try:
            response = await self.api.request(scope["method"], target, data=body or None,
                                              headers=CIMultiDict(headers), allow_redirects=False)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _unavailable("The API cannot be reached right now; retry shortly.") from exc
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": [
                (name, value) for name, value in response.raw_headers
                if name.lower() not in HOP_BY_HOP or name.lower() == b"content-length"]})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.close()


class _RoleKey(tuple):
    """(user id, user, workspace id), hashed and compared by the ids only."""

    def __new__(cls, user_id, user, workspace_id):
        return super().__new__(cls, (user_id, user, workspace_id))

    def __hash__(self):
        return hash((self[0], self[2]))

    def __eq__(self, other):
        return isinstance(other, tuple) and len(other) == 3 and self[0] == other[0] and self[2] == other[2]


class _Outcome:
    __slots__ = ("status", "error", "client_gone", "upstream_broke", "usage", "content_events", "first_token_at",
                 "service_label", "complete")

    def __init__(self, service_label: str):
        self.service_label = service_label
        self.status = 0
        self.error = False
        self.client_gone = False
        self.upstream_broke = False
        self.complete = False
        self.usage = None
        self.content_events = 0
        self.first_token_at = None


def _follow(workload, replica, tail):
    return workload_logs(workload=workload, replica=replica, tail=tail, follow=True)


def _follows(scope) -> bool:
    query = scope.get("query_string", b"")
    if b"follow" not in query:
        return False
    value = dict(parse_qsl(query.decode("latin-1"))).get("follow", "")
    return value.lower() in ("true", "1", "yes", "on")


def _request_id(scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if REQUEST_ID_SHAPE.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _client_address(scope) -> str | None:
    """The peer's address, or with TRUSTED_PROXY_COUNT proxies in front the one the outermost saw."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                hops = [hop.strip() for hop in value.decode("latin-1").split(",")]
                if len(hops) >= proxies:
                    try:
                        return str(ipaddress.ip_address(hops[-proxies]))
                    except ValueError:
                        pass
                break
    client = scope.get("client")
    return client[0] if client else None


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise GatewayError(413, "request_too_large", f"The request body is larger than {limit} bytes; send a "
                                                         "smaller one.")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


def _json_object(body: bytes) -> dict:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(400, "parse_error", f"JSON parse error - {exc}") from None
    if not isinstance(payload, dict):
        raise GatewayError(400, "parse_error", "JSON parse error - the body must be a JSON object.")
    return payload


async def _disconnected(receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _answer(send, status: int, body: bytes, content_type: bytes = b"application/json", headers=()) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})

"""Notebooks through the gateway: a notebook's JupyterLab (its pages, its REST API, its kernels'
and terminals' websockets) under `/api/v1/workspaces/{ws}/notebooks/{id}/lab/…`, reached with the
platform's credentials by the workspace's members whose role may run code (developer and up):
an API key, or the console's session cookie (a browser's; then a change or a websocket must come
from the platform's own origin, since a cookie goes along from any site). The caller's
credentials stop here; the Jupyter server gets the notebook's own token, which no
user sees. A notebook that is not running answers with its state."""

import asyncio
import re
from http.cookies import CookieError, SimpleCookie
from types import SimpleNamespace

import aiohttp
from django.conf import settings

from aiplatform.models import ROLE_CAPABILITIES, Capability
from notebooks.services import ProxyTarget

from . import selectors
from .cache import Unavailable

_ID = r"[^/]+"
NOTEBOOK_PATH = re.compile(rf"^/api/v1/workspaces/(?P<workspace>{_ID})/notebooks/(?P<notebook>{_ID})/lab(?:/.*)?$")
# Of the caller's headers, none that carries its credentials or the connection's own.
DROPPED = {b"authorization", b"cookie", b"connection", b"keep-alive", b"proxy-authorization", b"te", b"trailer",
           b"transfer-encoding", b"upgrade", b"host", b"content-length", b"sec-websocket-key",
           b"sec-websocket-version", b"sec-websocket-extensions", b"sec-websocket-protocol", b"origin"}
RETURNED_DROPPED = {b"connection", b"keep-alive", b"transfer-encoding", b"set-cookie", b"content-length"}


class NotebookProxy:
    """Bound to a Gateway: its authentication, roles, database threads and HTTP client."""

    def __init__(self, gateway):
        self.gateway = gateway

    async def target(self, scope, match, error) -> ProxyTarget:
        """The notebook's upstream, once the caller is authenticated and may use it; `error`
        builds the gateway's GatewayError."""
        gateway = self.gateway
        key = await self.caller(scope, error)
        workspace_id = match["workspace"]
        role = await gateway.workspace_role(key, workspace_id)
        try:
            found = await gateway.notebook_targets.get((workspace_id, match["notebook"]))
        except Unavailable as exc:
            raise error(503, "service_unavailable", "The platform's database cannot be reached; retry shortly.",
                        headers=[(b"retry-after", str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS).encode())]) from exc
        if found is None:
            raise error(404, "not_found", "Notebook not found.")
        if Capability.DEVELOP not in ROLE_CAPABILITIES[role]:
            raise error(403, "permission_denied", f"Your role in this workspace is {role}; opening a notebook runs "
                                                  "code, which needs the developer role or higher.")
        if found.phase != "running":
            state = f"The notebook is {found.phase}" + (f" ({found.message})" if found.message else "")
            if found.phase in ("stopped", "failed", "succeeded"):
                raise error(409, "notebook_not_running", f"{state}; start it to open it.")
            raise error(503, "notebook_starting", f"{state}; it opens once it runs. Retry shortly.",
                        headers=[(b"retry-after", str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS).encode())])
        if found.base is None:
            raise error(503, "notebook_starting", "The notebook's JupyterLab is starting; retry shortly.",
                        headers=[(b"retry-after", str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS).encode())])
        return found

    async def caller(self, scope, error):
        """The API key's user (Authorization header), else the console session's."""
        headers = dict(scope["headers"])
        if b"authorization" in headers:
            return await self.gateway.authenticate(scope)
        try:
            cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
        except CookieError:
            cookie = None
        if cookie is None:
            return await self.gateway.authenticate(scope)  # answers 401 as for any call without credentials
        user = await self.gateway.run(selectors.session_user, session_key=cookie.value)
        if user is None:
            raise error(401, "not_authenticated", "Your console session has ended; sign in again.")
        if (scope["type"] == "websocket" or scope["method"] not in ("GET", "HEAD", "OPTIONS")) \
                and not _same_origin(headers):
            raise error(403, "permission_denied", "A change through a console session must come from the platform's "
                                                  "own pages (its Origin header).")
        return SimpleNamespace(user_id=user.pk, user=user)

    @staticmethod
    def _url(base: str, scope) -> str:
        url = base + scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            url += "?" + scope["query_string"].decode("latin-1")
        return url

    @staticmethod
    def _headers(scope, target: ProxyTarget) -> list[tuple[str, str]]:
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"] if n not in DROPPED]
        return headers + [("Authorization", f"token {target.token}")]

    async def http(self, scope, receive, send, match, *, error, read_body) -> None:
        target = await self.target(scope, match, error)
        body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        try:
            response = await self.gateway.api.request(scope["method"], self._url(target.base, scope),
                                                      data=body or None, headers=self._headers(scope, target),
                                                      allow_redirects=False)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise error(503, "notebook_unavailable", "The notebook's JupyterLab did not answer; retry shortly.") \
                from exc
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": [
                (name, value) for name, value in response.raw_headers if name.lower() not in RETURNED_DROPPED]})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.close()

    async def websocket(self, scope, receive, send, match, *, error) -> None:
        """A kernel's or a terminal's websocket: the upstream's opened first (with the caller's
        subprotocols), then the caller's accepted, then messages both ways until either closes.
        A refusal is an HTTP answer to the handshake (ASGI's websocket denial response)."""
        try:
            target = await self.target(scope, match, error)
        except Exception as exc:
            status, body = getattr(exc, "status", 500), getattr(exc, "body", lambda: b"")()
            await send({"type": "websocket.http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "websocket.http.response.body", "body": body})
            if not hasattr(exc, "status"):
                raise
            return
        url = self._url(target.base, scope).replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        try:
            upstream = await self.gateway.api.ws_connect(url, headers=self._headers(scope, target),
                                                         protocols=scope.get("subprotocols") or (), autoping=True,
                                                         max_msg_size=0)
        except (TimeoutError, aiohttp.ClientError):
            await send({"type": "websocket.close", "code": 1011, "reason": "The notebook did not answer."})
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.protocol})

        async def to_upstream():
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    await upstream.send_bytes(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send_str(message["text"])

        async def to_caller():
            async for message in upstream:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await send({"type": "websocket.send", "text": message.data})
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await send({"type": "websocket.send", "bytes": message.data})
            await send({"type": "websocket.close", "code": 1000})

        tasks = [asyncio.ensure_future(to_upstream()), asyncio.ensure_future(to_caller())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()


def _same_origin(headers: dict) -> bool:
    """Whether the request's Origin is the host it was sent to, or one of the trusted origins."""
    origin = headers.get(b"origin", b"").decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1")
    return bool(origin) and (origin.split("://", 1)[-1] == host or origin in settings.CSRF_TRUSTED_ORIGINS)

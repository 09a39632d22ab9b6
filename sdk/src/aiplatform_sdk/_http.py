"""The HTTP side of the client: one pooled httpx client, timeouts, retries with exponential backoff
and jitter (honouring Retry-After), an Idempotency-Key per POST kept across its retries, a request
id per call, and the server's error shape turned into exceptions."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    error_from_response,
)
from ._types import NotGiven, RequestOptions
from ._version import __version__

logger = logging.getLogger("aiplatform_sdk")

DEFAULT_TIMEOUT = 60.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A Retry-After beyond this is not waited for: the call fails and says when to retry.
MAX_RETRY_AFTER = 60.0
USER_AGENT = f"aiplatform-sdk/{__version__} (python; httpx {httpx.__version__})"
RETRYABLE_CONFLICTS = {"idempotency_key_in_progress"}


def encode(value: Any) -> Any:
    """JSON-ready form of what a caller passes: models, decimals, dates, nested lists and dicts."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items() if not isinstance(v, NotGiven)}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments the caller gave (NOT_GIVEN left out)."""
    return {k: v for k, v in values.items() if not isinstance(v, NotGiven)}


def retry_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds before retry number `attempt` (from 0): Retry-After when the server gave one, else
    exponential backoff with jitter, so that many clients do not retry in step."""
    if retry_after is not None and retry_after <= MAX_RETRY_AFTER:
        return retry_after
    delay = min(INITIAL_RETRY_DELAY * float(2**attempt), MAX_RETRY_DELAY)
    return delay * (1 - 0.25 * random.random())


@dataclass
class Settings:
    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int


class Transport:
    """Sends requests for the client and its resources."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self._owns_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, DEFAULT_CONNECT_TIMEOUT)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=False,
        )

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def url(self, path_or_url: str, base_url: str | None = None, rebase: bool = True) -> str:
        """An absolute URL: paths are joined to the base URL; links the server gave (`next`
        pages) keep their path and query but go to the base URL, whatever host the server saw,
        unless `rebase` is off (presigned links of a storage service)."""
        base = (base_url or self.settings.base_url).rstrip("/")
        if path_or_url.startswith(("http://", "https://")):
            if not rebase:
                return path_or_url
            parts = urlsplit(path_or_url)
            path_or_url = parts.path + (f"?{parts.query}" if parts.query else "")
        return base + path_or_url

    def _headers(self, method: str, options: RequestOptions, extra: Mapping[str, str] | None,
                 authenticate: bool, request_id: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "X-Request-Id": request_id}
        if authenticate and self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        if method == "POST":
            headers["Idempotency-Key"] = options.get("idempotency_key") or f"sdk-{uuid.uuid4().hex}"
        headers.update(extra or {})
        headers.update(options.get("headers") or {})
        return headers

    def request(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, content: bytes | None = None, headers: Mapping[str, str] | None = None,
                options: RequestOptions | None = None, authenticate: bool = True,
                base_url: str | None = None, rebase: bool = True) -> httpx.Response:
        """Sends the request, retrying what is safe to retry; the response (2xx) or an exception."""
        with self.stream(method, path_or_url, params=params, json_body=json_body, content=content, headers=headers,
                         options=options, authenticate=authenticate, base_url=base_url,
                         rebase=rebase) as response:
            response.read()
            return response

    @contextmanager
    def stream(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
               json_body: Any = None, content: bytes | None = None, headers: Mapping[str, str] | None = None,
               options: RequestOptions | None = None, authenticate: bool = True,
               base_url: str | None = None, rebase: bool = True) -> Iterator[httpx.Response]:
        """Like `request`, with the body left to read as it comes (logs, chat streams, downloads).
        Retries happen before the body is read; a stream that breaks later raises APIConnectionError."""
        options = options or {}
        request_id = f"sdk-{uuid.uuid4().hex}"
        all_headers = self._headers(method, options, headers, authenticate, request_id)
        if json_body is not None:
            content = json.dumps(encode(json_body), ensure_ascii=False).encode()
            all_headers.setdefault("Content-Type", "application/json")
        query = {k: _query_value(v) for k, v in clean(params or {}).items() if v is not None}
        url = self.url(path_or_url, base_url, rebase)
        timeout = options.get("timeout", self.settings.timeout)
        retries = options.get("max_retries", self.settings.max_retries)
        attempt = 0
        while True:
            request = self.http.build_request(method, url, params=query or None, content=content, headers=all_headers,
                                              timeout=httpx.Timeout(timeout, connect=min(timeout,
                                                                                         DEFAULT_CONNECT_TIMEOUT)))
            try:
                response = self.http.send(request, stream=True)
            except httpx.TimeoutException as exc:
                if attempt < retries:
                    self._wait(attempt, None, method, url, f"timed out ({type(exc).__name__})")
                    attempt += 1
                    continue
                raise APITimeoutError(f"{method} {url} timed out after {timeout:g} s (tried {attempt + 1} times).",
                                      request_id=request_id) from None
            except httpx.TransportError as exc:
                if attempt < retries:
                    self._wait(attempt, None, method, url, f"connection failed ({type(exc).__name__})")
                    attempt += 1
                    continue
                raise APIConnectionError(
                    f"Could not reach the platform at {url.split('?')[0]}: {_reason(exc)} (tried {attempt + 1} "
                    "times). Check the base URL and that the server is running.", request_id=request_id) from None
            if response.is_success:
                try:
                    yield response
                except httpx.TransportError as exc:
                    raise APIConnectionError(f"The connection broke while reading {method} {url}: {_reason(exc)}.",
                                             request_id=request_id) from None
                finally:
                    response.close()
                return
            try:
                response.read()
            except httpx.TransportError:
                response.close()
                if attempt < retries:
                    self._wait(attempt, None, method, url, "connection broke in an error answer")
                    attempt += 1
                    continue
                raise APIConnectionError(f"The connection broke while reading the answer to {method} {url}.",
                                         request_id=request_id) from None
            response.close()
            error = error_from_response(response, request_id)
            if attempt < retries and _should_retry(error):
                self._wait(attempt, error.retry_after, method, url, f"answered {response.status_code}")
                attempt += 1
                continue
            raise error

    @staticmethod
    def _wait(attempt: int, retry_after: float | None, method: str, url: str, why: str) -> None:
        delay = retry_delay(attempt, retry_after)
        logger.info("%s %s %s; retrying in %.2f s", method, url, why, delay)
        time.sleep(delay)


def _should_retry(error: APIStatusError) -> bool:
    status = error.status_code
    if status == 429 and error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER:
        return False
    if status in (408, 429) or status >= 500:
        return True
    return status == 409 and error.code in RETRYABLE_CONFLICTS


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_query_value(v) for v in value]
    return encode(value)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

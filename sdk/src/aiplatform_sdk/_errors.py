"""One exception hierarchy, built from the server's error shape
`{"type": ..., "errors": [{"code", "detail", "attr"}]}`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class AIPlatformError(Exception):
    """Every error the SDK raises."""


@dataclass(frozen=True)
class ErrorDetail:
    """One error of an answer: a machine-readable code, a message for people, and the field it is
    about (`attr`, e.g. "samples.3.annotations.0"; None for the request as a whole)."""

    code: str
    detail: str
    attr: str | None


class APIError(AIPlatformError):
    """The platform could not be asked, or answered with an error."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


class APIConnectionError(APIError):
    """The server could not be reached, or the connection dropped before it answered."""


class APITimeoutError(APIConnectionError):
    """The server did not answer within the timeout."""


class APIStatusError(APIError):
    """The server answered with a 4xx or 5xx: `status_code`, `code` (of the first error), `errors`
    (all of them), `fields` (messages by field) and `request_id` (the server's X-Request-Id)."""

    def __init__(self, message: str, *, response: httpx.Response, errors: list[ErrorDetail],
                 error_type: str | None, request_id: str | None) -> None:
        super().__init__(message, request_id=request_id)
        self.response = response
        self.status_code = response.status_code
        self.errors = errors
        self.type = error_type
        self.code = errors[0].code if errors else None

    @property
    def fields(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for error in self.errors:
            if error.attr:
                found.setdefault(error.attr, []).append(error.detail)
        return found

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.response.headers.get("Retry-After"))


class BadRequestError(APIStatusError):
    """400: the request is wrong; `fields` says which field and how to fix it."""


class AuthenticationError(APIStatusError):
    """401: no API key, or one that is invalid, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the caller's role may not do this (the message names the role needed)."""


class NotFoundError(APIStatusError):
    """404: no such resource, or it is another tenant's."""


class ConflictError(APIStatusError):
    """409: the resource's state does not allow it, or an Idempotency-Key was reused with another body."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is over the server's limit."""


class RateLimitError(APIStatusError):
    """429: too many requests; `retry_after` says when to try again."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; 503 means a part it needs is unreachable for a moment."""


class ServiceUnavailableError(InternalServerError):
    """503: the database or the task queue is out of reach for a moment; retry after `retry_after`."""


class OperationFailedError(AIPlatformError):
    """A waited-for job, import, export, version, service or benchmark ended in failure; the
    message is the server's, and `resource` is the last state read."""

    def __init__(self, message: str, *, resource: Any) -> None:
        super().__init__(message)
        self.resource = resource


class WaitTimeoutError(AIPlatformError):
    """A wait ran out of time before the resource reached the state asked for; `resource` is
    the last state read."""

    def __init__(self, message: str, *, resource: Any) -> None:
        super().__init__(message)
        self.resource = resource


class ConfigurationError(AIPlatformError):
    """The client lacks a setting (base URL, API key, workspace) or has a wrong one."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 413: PayloadTooLargeError, 429: RateLimitError, 503: ServiceUnavailableError,
}


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(response: httpx.Response, request_id: str | None) -> APIStatusError:
    """The exception for an error answer, whatever its body (the error shape, or a proxy's page)."""
    errors: list[ErrorDetail] = []
    error_type = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        error_type = body.get("type")
        for item in body["errors"]:
            if isinstance(item, dict):
                errors.append(ErrorDetail(code=str(item.get("code", "error")), detail=str(item.get("detail", "")),
                                          attr=item.get("attr")))
    if errors:
        message = "; ".join(f"{e.attr}: {e.detail}" if e.attr else e.detail for e in errors)
    else:
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
        message = f"{text}"
    server_id = response.headers.get("X-Request-Id") or request_id
    cls = _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = InternalServerError if response.status_code >= 500 else APIStatusError
    return cls(f"{response.status_code} {message}", response=response, errors=errors, error_type=error_type,
               request_id=server_id)

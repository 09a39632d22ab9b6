"""What every resource class shares: URL building (the client's workspace filled in), typed calls,
lazy pagination and the record of which API operation each method calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from ._models import APIModel
from ._pagination import Page, Paginator
from ._types import RequestOptions

if TYPE_CHECKING:
    from ._client import Client

M = TypeVar("M", bound=APIModel)
F = TypeVar("F", bound=Callable[..., Any])

OPERATION_ATTRIBUTE = "__aip_operation__"


def operation(method: str, path: str) -> Callable[[F], F]:
    """Marks the method that calls the API operation `method path` (the schema-coverage test
    collects them)."""
    def mark(function: F) -> F:
        setattr(function, OPERATION_ATTRIBUTE, (method, path))
        return function
    return mark


class Resource:
    """A collection of the API, bound to a client and to the ids of the resources above it
    (`client.datasets.samples(dataset)` binds the dataset)."""

    def __init__(self, client: Client, **scope: str) -> None:
        self._client = client
        self._scope = scope

    def _path(self, template: str, **params: str) -> str:
        values = {**self._scope, **params}
        if "{workspace_id}" in template and "workspace_id" not in values:
            values["workspace_id"] = self._client.workspace_id
        # A `path` parameter is a path below the resource (a proxied tool's page): its slashes stay.
        return template.format(**{k: quote(str(v), safe="/" if k == "path" else "") for k, v in values.items()})

    def _call(self, method: str, template: str, *, path: Mapping[str, str] | None = None,
              query: Mapping[str, Any] | None = None, body: Any = None, content: bytes | None = None,
              options: RequestOptions | None = None) -> Any:
        headers = {"Content-Type": "application/octet-stream"} if content is not None else None
        response = self._client._transport.request(
            method, self._path(template, **(path or {})), params=query, json_body=body, content=content,
            headers=headers, options=options)
        if response.status_code == 204 or not response.content:
            return None
        if "json" in response.headers.get("Content-Type", ""):
            return response.json()
        return response.content

    def _bound(self, model: type[M], data: Any) -> M:
        found = model.from_api(data)
        found._resource = self
        return found

    def _model(self, model: type[M], method: str, template: str, **kwargs: Any) -> M:
        return self._bound(model, self._call(method, template, **kwargs))

    def _models(self, model: type[M], method: str, template: str, **kwargs: Any) -> list[M]:
        return [self._bound(model, item) for item in self._call(method, template, **kwargs)]

    def _none(self, method: str, template: str, **kwargs: Any) -> None:
        self._call(method, template, **kwargs)

    def _any(self, method: str, template: str, **kwargs: Any) -> Any:
        return self._call(method, template, **kwargs)

    def _bytes(self, template: str, *, save_to: str | Path | None = None,
               path: Mapping[str, str] | None = None, query: Mapping[str, Any] | None = None,
               options: RequestOptions | None = None) -> bytes:
        """A file the API answers with, also written to `save_to` when given (with progress)."""
        from ._transfer import download

        url = self._path(template, **(path or {}))
        return download(self._client, url, save_to=save_to, query=query, options=options)

    def _page(self, model: type[M], template: str, *, path: Mapping[str, str] | None = None,
              query: Mapping[str, Any] | None = None, options: RequestOptions | None = None) -> Paginator[M]:
        first = self._path(template, **(path or {}))
        transport = self._client._transport

        def fetch(url: str | None) -> Page[M]:
            if url is None:
                answer = transport.request("GET", first, params=query, options=options).json()
            else:
                answer = transport.request("GET", url, options=options).json()
            return Page(items=[self._bound(model, item) for item in answer.get("results", [])],
                        next_url=answer.get("next"), previous_url=answer.get("previous"), count=answer.get("count"))

        return Paginator(fetch)

"""The client: settings, the HTTP transport and the workspace its workspace resources act in."""

from __future__ import annotations

from typing import Any

import httpx

from ._config import DEFAULT_BASE_URL, load_config, setting
from ._errors import ConfigurationError
from ._generated.resources import RootResources
from ._http import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings, Transport
from ._types import IdLike, id_of


class Client(RootResources):
    """The platform from Python.

        client = Client(base_url="http://127.0.0.1:8000", api_key="aip_…")
        for dataset in client.datasets.list():
            ...

    Every argument may come from the environment (AIP_BASE_URL, AIP_API_KEY, AIP_WORKSPACE,
    AIP_GATEWAY_URL) or from the file `aip login` writes. `workspace` is where workspace resources
    (datasets, jobs, services…) act; without one, the caller's only workspace. `gateway_url` is
    where services are called (chat, log follows): the base URL unless the gateway has its own.
    `timeout` (seconds) and `max_retries` apply to every call; `with_options()` changes them for
    some calls, as `request_options=` does for one."""

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None, workspace: IdLike | None = None,
                 gateway_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = DEFAULT_MAX_RETRIES, http_client: httpx.Client | None = None) -> None:
        config = load_config()
        resolved_url = setting("base_url", base_url, config) or DEFAULT_BASE_URL
        if not resolved_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"The base URL {resolved_url!r} is not an http:// or https:// URL.")
        self.base_url = resolved_url.rstrip("/")
        self.api_key = setting("api_key", api_key, config)
        if not self.api_key:
            raise ConfigurationError("No API key: pass api_key=, set AIP_API_KEY, or run `aip login`.")
        self.gateway_url = (setting("gateway_url", gateway_url, config) or self.base_url).rstrip("/")
        chosen = id_of(workspace) if workspace is not None else setting("workspace", None, config)
        self._workspace_id: str | None = chosen
        self._transport = Transport(Settings(base_url=self.base_url, api_key=self.api_key, timeout=timeout,
                                             max_retries=max_retries), http_client)

    @property
    def workspace_id(self) -> str:
        """The workspace that workspace resources act in: the one given, else the caller's only one."""
        if self._workspace_id is None:
            found = self.workspaces.list().first_page()
            if len(found.items) != 1:
                names = ", ".join(f"{w.name} ({w.id})" for w in found.items) or "none"
                raise ConfigurationError(f"Choose a workspace (Client(workspace=…), AIP_WORKSPACE or `aip login "
                                         f"--workspace`): this API key reaches {names}.")
            self._workspace_id = str(found.items[0].id)
        return self._workspace_id

    def with_options(self, *, workspace: IdLike | None = None, timeout: float | None = None,
                     max_retries: int | None = None) -> Client:
        """A client like this one (sharing its connections) with other settings."""
        copy = object.__new__(Client)
        copy.__dict__.update(self.__dict__)
        if workspace is not None:
            copy._workspace_id = id_of(workspace)
        settings = self._transport.settings
        copy._transport = Transport(Settings(
            base_url=settings.base_url, api_key=settings.api_key,
            timeout=settings.timeout if timeout is None else timeout,
            max_retries=settings.max_retries if max_retries is None else max_retries), self._transport.http)
        copy._transport._owns_http = False
        return copy

    def close(self) -> None:
        """Closes the connection pool (a client made with `http_client=` leaves that one open)."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, workspace={self._workspace_id!r})"

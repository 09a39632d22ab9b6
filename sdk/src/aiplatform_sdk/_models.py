"""The base of every response model: fields the SDK does not know yet are kept, not fatal."""

from __future__ import annotations

import logging
from typing import Any, Self, cast

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from ._errors import AIPlatformError

logger = logging.getLogger("aiplatform_sdk")


class APIModel(BaseModel):
    """A resource as the API answered it. Unknown fields stay readable as attributes and in
    `model_dump()`; `to_dict()` gives the JSON the server sent."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())
    # The resource collection that answered it, for `refresh()` and `wait()`.
    _resource: Any = PrivateAttr(default=None)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def from_api(cls, data: Any) -> Self:
        """The model of an answer. A field whose value does not fit its type (a server newer than
        this SDK, or a schema that says less than the server does) is kept as sent, with a
        warning in the log, instead of failing the call; the other fields are typed as usual."""
        try:
            return cls.model_validate(data)
        except ValidationError:
            if not isinstance(data, dict):
                raise
        found = cast(Self, cls.model_construct(**data))
        for name, value in data.items():
            if name not in cls.model_fields:
                continue
            try:
                cls.__pydantic_validator__.validate_assignment(found, name, value)
            except ValidationError as exc:
                logger.warning("%s.%s kept as the server sent it: %s", cls.__name__, name,
                               exc.errors()[0].get("msg", "does not fit its type"))
        return found


class WaitableModel(APIModel):
    """A resource with a lifecycle (jobs, imports, exports, versions, services, benchmark runs,
    workloads): `refresh()` reads it again, `wait()` waits for it to get somewhere."""

    def _collection(self) -> Any:
        if self._resource is None:
            raise AIPlatformError(f"This {type(self).__name__} was not read through a client; use the client's "
                                  "wait() with its id.")
        return self._resource

    def refresh(self) -> Self:
        fresh: Self = self._collection().retrieve(getattr(self, "id"))  # noqa: B009  (every such model has an id)
        return fresh

    def wait(self, *, until: str | list[str] | None = None, timeout: float | None = 1800.0,
             poll_interval: float | None = None) -> Self:
        """Waits until the state is `until` (default: its success, e.g. a job's `succeeded`, a
        service's `running`); OperationFailedError with the server's message if it fails,
        WaitTimeoutError after `timeout` seconds."""
        done: Self = self._collection().wait(self, until=until, timeout=timeout, poll_interval=poll_interval)
        return done

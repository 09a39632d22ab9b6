"""Small types every module shares."""

from __future__ import annotations

from typing import Final, Protocol, TypedDict
from uuid import UUID


class NotGiven:
    """A keyword argument the caller left out (None would mean an explicit null)."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


class HasId(Protocol):
    @property
    def id(self) -> object: ...


# A resource named by its id, or the resource itself.
IdLike = str | int | UUID | HasId


class RequestOptions(TypedDict, total=False):
    """Settings for one call, over the client's: `timeout` (seconds), `max_retries`,
    `idempotency_key` (else each POST gets a new one, kept across its retries) and extra `headers`."""

    timeout: float
    max_retries: int
    idempotency_key: str
    headers: dict[str, str]


def id_of(value: IdLike) -> str:
    """The id of a resource given as an id or as the resource."""
    if isinstance(value, (str, int, UUID)):
        return str(value)
    return str(value.id)

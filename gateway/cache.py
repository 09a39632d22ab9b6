"""The gateway's in-process caches of database facts (API keys, roles, services). A request
reads them without touching the database; a background pass re-reads every entry in use before
it is GATEWAY_CACHE_SECONDS old, so only a key, workspace or service seen for the first time
waits for a query. An entry older than that is not trusted: it is read again, unless the database
cannot be reached, when it serves up to GATEWAY_CACHE_STALE_SECONDS. Invalidations (Redis) drop
entries at once."""

import asyncio
import logging
import time
from collections.abc import Callable, Hashable

from django.db import DatabaseError

logger = logging.getLogger(__name__)


class Unavailable(Exception):
    """The database cannot be reached and nothing recent enough is cached."""


class _Entry:
    __slots__ = ("value", "loaded_at", "used")

    def __init__(self, value, loaded_at: float):
        self.value = value
        self.loaded_at = loaded_at
        self.used = True


class Cache:
    def __init__(self, name: str, load: Callable, *, run, ttl: float, stale: float):
        self.name = name
        self.load = load  # load(key) -> value, in a database thread
        self.run = run  # awaits fn(*args) in a database thread
        self.ttl = ttl
        self.stale = stale
        self.entries: dict[Hashable, _Entry] = {}
        self._loading: dict[Hashable, asyncio.Future] = {}

    async def get(self, key: Hashable):
        entry = self.entries.get(key)
        if entry is not None and time.monotonic() - entry.loaded_at <= self.ttl:
            entry.used = True
            return entry.value
        loading = self._loading.get(key)
        if loading is None:  # one query for all the requests waiting on this key
            loading = self._loading[key] = asyncio.ensure_future(self._load(key, entry))
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)

    async def _load(self, key: Hashable, entry: _Entry | None):
        try:
            value = await self.run(self.load, key)
        except DatabaseError as exc:
            age = time.monotonic() - entry.loaded_at if entry is not None else None
            if age is not None and age <= self.stale:
                logger.warning("%s: database unreachable, serving what was read %.0f s ago", self.name, age)
                entry.used = True
                return entry.value
            raise Unavailable(str(exc)) from exc
        self.entries[key] = _Entry(value, time.monotonic())
        return value

    async def refresh(self) -> None:
        """Re-read the entries used since the last pass; forget the others once expired."""
        for key, entry in list(self.entries.items()):
            if not entry.used:
                if time.monotonic() - entry.loaded_at > self.ttl:
                    self.entries.pop(key, None)
                continue
            entry.used = False
            try:
                value = await self.run(self.load, key)
            except DatabaseError:
                logger.warning("%s: database unreachable; entries keep their last reading", self.name, exc_info=True)
                return
            if self.entries.get(key) is entry:
                entry.value, entry.loaded_at = value, time.monotonic()

    def forget(self, match: Callable[[Hashable, object], bool]) -> int:
        gone = [key for key, entry in self.entries.items() if match(key, entry.value)]
        for key in gone:
            del self.entries[key]
        return len(gone)

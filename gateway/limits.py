"""Requests and tokens per minute, per API key and per service, counted in Redis so that every
gateway process shares the counts (in this process's memory where there is no Redis: the
embedded default). Minutes are fixed windows; a request past a limit is refused with the
seconds left in the window. Counters that cannot be reached let requests through (and say so
in the log): an outage of Redis must not take inference down."""

import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

WINDOW = 60
PREFIX = "aip:gw:rate:"


@dataclass(frozen=True)
class Limit:
    """`limit` events a minute under `name`; `what` says whose in a refusal."""

    name: str
    limit: int
    what: str


@dataclass(frozen=True)
class Refusal:
    detail: str
    retry_after: int


def _window(now: float) -> tuple[int, float]:
    return int(now // WINDOW), WINDOW - now % WINDOW


class Limiter:
    def __init__(self, client: aioredis.Redis | None):
        self.client = client
        self._local: dict[tuple[str, int], int] = {}
        self._window = 0
        self._warned = 0.0

    async def admit(self, requests: list[Limit], tokens: list[Limit]) -> Refusal | None:
        """Counts one request against `requests`; refuses it past any of them, or when the minute's
        tokens already reached one of `tokens`."""
        if not requests and not tokens:
            return None
        window, left = _window(time.time())
        counts = await self._count(window, [(PREFIX + r.name, 1) for r in requests], [PREFIX + t.name for t in tokens])
        if counts is None:
            return None
        hits, used = counts
        for limit, count in zip(requests, hits, strict=True):
            if count > limit.limit:
                return _refuse(f"{limit.what} may make {limit.limit} requests a minute", left)
        for limit, count in zip(tokens, used, strict=True):
            if count >= limit.limit:
                return _refuse(f"{limit.what} may use {limit.limit} tokens a minute", left)
        return None

    async def spend(self, tokens: list[Limit], count: int) -> None:
        """Adds a finished request's tokens to the minute's counts."""
        if tokens and count:
            window, _ = _window(time.time())
            await self._count(window, [(PREFIX + t.name, count) for t in tokens], [])

    async def _count(self, window: int, add: list[tuple[str, int]], read: list[str]):
        if self.client is None:
            return self._count_here(window, add, read)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for name, amount in add:
                    key = f"{name}:{window}"
                    pipe.incrby(key, amount)
                    pipe.expire(key, WINDOW * 2)
                for name in read:
                    pipe.get(f"{name}:{window}")
                results = await pipe.execute()
        except (RedisError, OSError):
            if time.monotonic() - self._warned > 10:
                self._warned = time.monotonic()
                logger.warning("gateway limits: Redis unreachable, requests go on uncounted", exc_info=True)
            return None
        return results[0:2 * len(add):2], [int(v or 0) for v in results[2 * len(add):]]

    def _count_here(self, window: int, add, read):
        if window != self._window:  # a new minute: the old ones are of no use
            self._local, self._window = {k: v for k, v in self._local.items() if k[1] >= window}, window
        counts = self._local
        hits = []
        for name, amount in add:
            counts[(name, window)] = counts.get((name, window), 0) + amount
            hits.append(counts[(name, window)])
        return hits, [counts.get((name, window), 0) for name in read]


def _refuse(what: str, left: float) -> Refusal:
    wait = max(1, math.ceil(left))
    return Refusal(detail=f"Too many requests: {what}. Retry in {wait} seconds.", retry_after=wait)

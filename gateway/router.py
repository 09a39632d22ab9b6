"""Choosing a service's instance for a request: least outstanding requests, instances that fail
set aside for a while (outlier ejection), and, as a service's option, prefix-aware routing.
Pure bookkeeping in one process (the event loop's thread): no locks, no I/O."""

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class Instance:
    url: str
    outstanding: int = 0
    consecutive_errors: int = 0
    ejections: int = 0
    ejected_until: float = 0.0
    served: int = 0

    def available(self, now: float) -> bool:
        return self.ejected_until <= now


class AllBusy(Exception):
    """Every instance already has its maximum of requests in flight."""


@dataclass
class Ejection:
    after_errors: int = 5
    base_seconds: float = 10.0
    max_seconds: float = 300.0


class PrefixIndex:
    """Which instance last served each prompt prefix, as a chain of block hashes (the n-th hash
    stands for the first n blocks), at most `capacity` of them, least recently used forgotten."""

    def __init__(self, capacity: int = 50_000):
        self.capacity = capacity
        self._owner: OrderedDict[int, str] = OrderedDict()

    def longest(self, hashes: list[int], usable) -> str | None:
        """The instance holding the longest of these prefixes, among those `usable(url)` accepts."""
        for block_hash in reversed(hashes):
            url = self._owner.get(block_hash)
            if url is not None and usable(url):
                return url
        return None

    def remember(self, hashes: list[int], url: str) -> None:
        owner = self._owner
        for block_hash in hashes:
            owner[block_hash] = url
            owner.move_to_end(block_hash)
        while len(owner) > self.capacity:
            owner.popitem(last=False)

    def forget(self, url: str) -> None:
        for block_hash in [h for h, owner in self._owner.items() if owner == url]:
            del self._owner[block_hash]


def prefix_hashes(text: str, block: int) -> list[int]:
    """The chained hashes of the text's whole blocks (a prompt shorter than a block has none)."""
    hashes, previous = [], 0
    for start in range(0, len(text) - block + 1, block):
        previous = hash((previous, text[start:start + block]))
        hashes.append(previous)
    return hashes


@dataclass
class ServiceRouter:
    """The instances of one service as the gateway sees them."""

    ejection: Ejection = field(default_factory=Ejection)
    instances: dict[str, Instance] = field(default_factory=dict)
    prefixes: PrefixIndex = field(default_factory=PrefixIndex)
    # The deployment (workload) the instances were read for.
    workload_id: str | None = None
    _turn: itertools.count = field(default_factory=itertools.count)

    def update(self, urls: list[str]) -> None:
        """The backend's current endpoints: new ones join, vanished ones leave (requests in
        flight to them finish on their own)."""
        for url in urls:
            if url not in self.instances:
                self.instances[url] = Instance(url)
        for url in [u for u in self.instances if u not in urls]:
            del self.instances[url]
            self.prefixes.forget(url)

    def pick(self, *, exclude=(), max_outstanding: int = 0, prefix: list[int] | None = None,
             max_imbalance: int = 8, now: float | None = None) -> Instance | None:
        """The instance for the next request, or None when there is none (left) to try. Raises
        AllBusy when every candidate has `max_outstanding` requests in flight."""
        now = time.monotonic() if now is None else now
        candidates = [i for i in self.instances.values() if i.url not in exclude]
        if not candidates:
            return None
        healthy = [i for i in candidates if i.available(now)]
        # All set aside: try them anyway rather than refuse everything (Envoy's panic mode).
        pool = healthy or candidates
        if max_outstanding:
            pool = [i for i in pool if i.outstanding < max_outstanding]
            if not pool:
                raise AllBusy()
        least = min(i.outstanding for i in pool)
        if prefix:
            by_url = {i.url: i for i in pool}
            url = self.prefixes.longest(
                prefix, lambda u: u in by_url and by_url[u].outstanding <= least + max_imbalance)
            if url is not None:
                return by_url[url]
        idle = [i for i in pool if i.outstanding == least]
        return idle[next(self._turn) % len(idle)]

    def started(self, instance: Instance, prefix: list[int] | None = None) -> None:
        instance.outstanding += 1
        instance.served += 1
        if prefix:
            self.prefixes.remember(prefix, instance.url)

    def finished(self, instance: Instance) -> None:
        instance.outstanding -= 1

    def succeeded(self, instance: Instance) -> None:
        instance.consecutive_errors = 0
        instance.ejections = 0

    def failed(self, instance: Instance, *, unreachable: bool, now: float | None = None) -> None:
        """An error of the instance: one it cannot be reached with sets it aside at once, answers
        of 5xx after `after_errors` in a row; each ejection in a row lasts twice the last."""
        now = time.monotonic() if now is None else now
        instance.consecutive_errors += 1
        if unreachable or instance.consecutive_errors >= self.ejection.after_errors:
            seconds = min(self.ejection.base_seconds * 2 ** instance.ejections, self.ejection.max_seconds)
            instance.ejected_until = now + seconds
            instance.ejections += 1
            instance.consecutive_errors = 0

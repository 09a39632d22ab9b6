"""Metering without a write per request. Each gateway process adds its requests up per service,
API key and minute in memory; every GATEWAY_METER_PUSH_SECONDS it adds those sums to one Redis
hash shared by all processes; every GATEWAY_METER_FLUSH_SECONDS one process (holding a lock)
turns that hash into a batch with an id of its own and writes the batch to the database in one
transaction, its id with it (gateway.services.record_meter_batch), and only then drops it from
Redis. A flush that fails at any point leaves the batch in Redis, and the next one writes it
again, which the id turns into nothing: each request is counted once. Without Redis the process
keeps its own batches and writes them the same way."""

import logging
import uuid
from collections import defaultdict

import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Sums kept per (service id, API key id, key prefix, minute as epoch seconds).
REQUESTS, ERRORS, PROMPT, COMPLETION, LATENCY, LATENCY_MAX, TTFT, STREAMS = range(8)
METRICS = ("requests", "errors", "prompt", "completion", "latency", "latency_max", "ttft", "streams")
Row = tuple[str, str, str, int]

OPEN = "aip:gw:meter:open"
PENDING = "aip:gw:meter:pending"
BATCH = "aip:gw:meter:batch:"
LOCK = "aip:gw:meter:lock"

# Adds sums to the open hash (latency_max keeps the larger).
_PUSH = """
for i = 1, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if string.sub(field, -11) == 'latency_max' then
    local current = tonumber(redis.call('HGET', KEYS[1], field) or '0')
    if tonumber(value) > current then redis.call('HSET', KEYS[1], field, value) end
  else
    redis.call('HINCRBYFLOAT', KEYS[1], field, value)
  end
end
"""
# The open hash becomes a batch named by ARGV[1] (new sums start a new open hash); returns every
# batch not yet written, this one included.
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], ARGV[2] .. ARGV[1])
  redis.call('SADD', KEYS[2], ARGV[1])
end
return redis.call('SMEMBERS', KEYS[2])
"""
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class Meter:
    """This process's sums since its last push."""

    def __init__(self):
        self.sums: dict[Row, list] = {}

    def record(self, *, service_id: str, key_id: str, key_prefix: str, at: float, error: bool, latency_ms: float,
               ttft_ms: float | None, prompt: int, completion: int) -> None:
        row = (service_id, key_id, key_prefix, int(at // 60) * 60)
        sums = self.sums.get(row)
        if sums is None:
            sums = self.sums[row] = [0, 0, 0, 0, 0.0, 0.0, 0.0, 0]
        sums[REQUESTS] += 1
        sums[ERRORS] += error
        sums[PROMPT] += prompt
        sums[COMPLETION] += completion
        sums[LATENCY] += latency_ms
        if latency_ms > sums[LATENCY_MAX]:
            sums[LATENCY_MAX] = latency_ms
        if ttft_ms is not None:
            sums[TTFT] += ttft_ms
            sums[STREAMS] += 1

    def take(self) -> dict[Row, list]:
        sums, self.sums = self.sums, {}
        return sums


def merge(into: dict[Row, list], sums: dict[Row, list]) -> None:
    for row, values in sums.items():
        mine = into.get(row)
        if mine is None:
            into[row] = list(values)
            continue
        for index, value in enumerate(values):
            mine[index] = max(mine[index], value) if index == LATENCY_MAX else mine[index] + value


class LocalStore:
    """Batches kept by this process (no Redis)."""

    def __init__(self):
        self.open: dict[Row, list] = {}
        self.pending: dict[str, dict[Row, list]] = {}

    async def push(self, sums: dict[Row, list]) -> None:
        merge(self.open, sums)

    async def take(self) -> list[tuple[str, dict[Row, list]]]:
        if self.open:
            self.pending[str(uuid.uuid4())], self.open = self.open, {}
        return list(self.pending.items())

    async def done(self, batch_id: str) -> None:
        self.pending.pop(batch_id, None)

    async def release(self) -> None:
        pass


class RedisStore:
    """Batches in Redis, shared by every gateway process."""

    def __init__(self, client: aioredis.Redis, *, lock_seconds: float):
        self.client = client
        self.lock_seconds = lock_seconds
        self.token = uuid.uuid4().hex
        self._push = client.register_script(_PUSH)
        self._take = client.register_script(_TAKE)
        self._unlock = client.register_script(_UNLOCK)

    async def push(self, sums: dict[Row, list]) -> None:
        args = []
        for (service_id, key_id, prefix, minute), values in sums.items():
            head = f"{service_id}|{key_id}|{prefix}|{minute}|"
            for name, value in zip(METRICS, values, strict=True):
                if value:
                    args += [head + name, repr(value)]
        if args:
            await self._push(keys=[OPEN], args=args)

    async def take(self) -> list[tuple[str, dict[Row, list]]]:
        """The batches to write, if this process holds the flush lock (else none)."""
        if not await self.client.set(LOCK, self.token, nx=True, px=int(self.lock_seconds * 1000)):
            return []
        batch_ids = await self._take(keys=[OPEN, PENDING], args=[str(uuid.uuid4()), BATCH])
        batches = []
        for batch_id in sorted(b.decode() if isinstance(b, bytes) else b for b in batch_ids):
            fields = await self.client.hgetall(BATCH + batch_id)
            batches.append((batch_id, parse(fields)))
        return batches

    async def done(self, batch_id: str) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.srem(PENDING, batch_id)
            pipe.delete(BATCH + batch_id)
            await pipe.execute()

    async def release(self) -> None:
        await self._unlock(keys=[LOCK], args=[self.token])


def parse(fields: dict) -> dict[Row, list]:
    sums: dict[Row, list] = defaultdict(lambda: [0, 0, 0, 0, 0.0, 0.0, 0.0, 0])
    for field, value in fields.items():
        field = field.decode() if isinstance(field, bytes) else field
        service_id, key_id, prefix, minute, name = field.split("|")
        index = METRICS.index(name)
        number = float(value)
        sums[(service_id, key_id, prefix, int(minute))][index] = number if index in (LATENCY, LATENCY_MAX, TTFT) \
            else int(round(number))
    return dict(sums)


async def push(meter: Meter, store) -> None:
    """Hands this process's sums to the store; kept for the next push if it cannot take them."""
    sums = meter.take()
    if not sums:
        return
    try:
        await store.push(sums)
    except (RedisError, OSError):
        merge(meter.sums, sums)
        logger.warning("gateway metering: Redis unreachable; %d sums kept for the next push", len(sums),
                       exc_info=True)


async def flush(store, write) -> int:
    """Writes the store's batches (`write(batch_id, sums)` awaits the database); returns the
    batches written. A batch that fails stays for the next flush."""
    written = 0
    try:
        batches = await store.take()
    except (RedisError, OSError):
        logger.warning("gateway metering: Redis unreachable; the flush waits", exc_info=True)
        return 0
    try:
        for batch_id, sums in batches:
            try:
                await write(batch_id, sums)
            except Exception:
                logger.exception("gateway metering: batch %s not written; the next flush tries it again", batch_id)
                return written
            await store.done(batch_id)
            written += 1
    finally:
        try:
            await store.release()
        except (RedisError, OSError):
            pass
    return written

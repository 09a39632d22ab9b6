"""Changes that gateway processes must not wait out their cache for: a revoked key, a changed
membership, a service stopped or re-limited. Whoever changes one (an API worker, a Celery worker)
publishes it on a Redis channel after commit; every gateway process listens and forgets what it
cached of it. Without Redis the caches' short lifetime (GATEWAY_CACHE_SECONDS) is the bound."""

import logging
from functools import lru_cache

import orjson
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

CHANNEL = "aip:gateway:invalidate"
KEY, USER, SERVICE, WORKLOAD, NOTEBOOK = "key", "user", "service", "workload", "notebook"


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def publish(kind: str, ids) -> None:
    """Tell gateway processes to forget these (best effort: the cache lifetime bounds a lost message)."""
    if not settings.GATEWAY_REDIS_URL:
        return
    try:
        _client(settings.GATEWAY_REDIS_URL).publish(CHANNEL, orjson.dumps({"kind": kind, "ids": [str(i) for i in ids]}))
    except redis.RedisError:
        logger.warning("could not tell the gateways to forget %s %s; their caches expire within %s s", kind,
                       list(ids), settings.GATEWAY_CACHE_SECONDS, exc_info=True)


def parse(message: bytes) -> tuple[str, list[str]] | None:
    try:
        data = orjson.loads(message)
        return str(data["kind"]), [str(i) for i in data["ids"]]
    except (ValueError, KeyError, TypeError):
        return None

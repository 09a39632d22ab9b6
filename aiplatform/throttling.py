"""API rate limits: requests per minute per API key (or per user, for session callers), counted in
the default cache (Redis with CACHE_URL, so every worker and host shares the count), and bad
API keys per client address."""

import logging
import math
import time
import zlib

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions

from .models import Account, ApiKey
from .network import client_address

logger = logging.getLogger(__name__)

PERIOD_SECONDS = 60


def _window(name: str) -> tuple[str, float]:
    """The cache key of the current window of `name` and the seconds until it ends. Windows are
    offset per name, so that not every caller's count resets in the same second."""
    now = time.time() + zlib.crc32(name.encode()) % PERIOD_SECONDS
    return f"rate:{name}:{int(now // PERIOD_SECONDS)}", PERIOD_SECONDS - now % PERIOD_SECONDS


def hit(name: str) -> tuple[int, float] | None:
    """Counts one event under `name`: (events in this minute's window, seconds until it ends), or
    None when the cache cannot be reached (limits fail open: an unreachable counter must not take
    the API down; the log says so)."""
    key, seconds_left = _window(name)
    try:
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first event
            # The key outlives its window, so it cannot expire between the cache's existence
            # check and its increment (which would leave a key without an expiry).
            count = 1 if cache.add(key, 1, timeout=PERIOD_SECONDS + 5) else cache.incr(key)
    except Exception:
        logger.warning("rate limit counter %s unavailable; the request goes on uncounted", name, exc_info=True)
        return None
    return count, seconds_left


def api_rate_limit(user) -> int | None:
    """Requests per minute allowed to each of this user's keys and to their session; None: no
    limit. Operators have a limit of their own; an account's plan may set its members' limit."""
    if user.is_staff:
        return settings.API_RATE_LIMIT_OPERATOR_PER_MINUTE or None
    override = Account.objects.filter(members__user=user).values_list("api_requests_per_minute", flat=True).first()
    if override is not None:
        return override or None  # 0 is no limit, as in the setting
    return settings.API_RATE_LIMIT_PER_MINUTE or None


def enforce_api_rate_limit(request, *, user, api_key: ApiKey | None = None) -> None:
    """Counts an authenticated API request against its key's limit (its user's, for a session)
    and refuses it (429) past the limit. Called as the caller is authenticated, before any
    permission check: requests refused later (another tenant's ids answering 404) count too."""
    limit = api_rate_limit(user)
    if limit is None:
        return
    # Each key, and its user over all of their keys and sessions: more keys buy no more requests.
    counters = [(f"key:{api_key.pk}", "this API key")] if api_key else []
    counters.append((f"user:{user.pk}", "your user, over all of its keys and sessions,"))
    for name, caller in counters:
        counted = hit(name)
        if counted is None or counted[0] <= limit:
            continue
        wait = math.ceil(counted[1])
        raise exceptions.Throttled(
            wait=wait,
            detail=f"Too many requests: {caller} may make {limit} API requests a minute. Retry in {wait} "
                   f"seconds, or ask a platform operator to raise your account's limit.",
        )


def _auth_failures(request) -> str | None:
    address = client_address(request)
    if settings.API_KEY_FAILURES_PER_MINUTE <= 0 or address is None:
        return None
    return f"auth-failures:{address}"


def refuse_authentication_failure(request) -> None:
    """Counts a bad API key against its address and refuses (429) an address past
    API_KEY_FAILURES_PER_MINUTE this minute. Only bad keys are refused: a valid key is never
    locked out by guesses from its address, which many callers may share (a NAT, the local
    backend's workloads)."""
    name = _auth_failures(request)
    if name is None:
        return
    counted = hit(name)
    if counted is not None and counted[0] > settings.API_KEY_FAILURES_PER_MINUTE:
        wait = math.ceil(counted[1])
        raise exceptions.Throttled(
            wait=wait,
            detail=f"Too many invalid API keys from your address ({settings.API_KEY_FAILURES_PER_MINUTE} a "
                   f"minute). Retry in {wait} seconds with a valid key.",
        )

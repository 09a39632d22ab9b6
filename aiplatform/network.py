"""The address a request came from, the one rate limits, login lockouts and the audit trail use."""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXY_NETWORKS)))


def client_address(request) -> str | None:
    """REMOTE_ADDR, or, when that is one of TRUSTED_PROXY_NETWORKS and TRUSTED_PROXY_COUNT proxies
    are in front, the address the outermost of them saw: each proxy appends the address it received
    the request from to X-Forwarded-For, so only the last TRUSTED_PROXY_COUNT entries are
    trustworthy (a client may send any left of them), and only from a proxy (a caller reaching the
    API directly may send any header at all)."""
    peer = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0 and peer is not None and _trusted(peer):
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass  # not an address: a proxy less than configured; the peer's address stands
    return peer

"""The address a request came from, the one rate limits, login lockouts and the audit trail use."""

import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    """REMOTE_ADDR, or with TRUSTED_PROXY_COUNT proxies in front the address the outermost of
    them saw: each proxy appends the address it received the request from to X-Forwarded-For,
    so only the last TRUSTED_PROXY_COUNT entries are trustworthy (a client may send any left of them)."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass  # not an address: a proxy less than configured; the peer's address stands
    return request.META.get("REMOTE_ADDR") or None

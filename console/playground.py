"""The chat playground's key. The gateway, which streams chat completions, takes API keys only
(no cookies: a cross-site page could not make it act for a signed-in user). So the console gives
the page a key of the signed-in user that expires after CONSOLE_PLAYGROUND_KEY_MINUTES, kept in the
session (server-side) and reused while it has a few minutes left, revoked at sign-out. It holds no
more than the session itself does: the API checks the same user's role in every workspace."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from aiplatform import services
from aiplatform.models import ApiKey

SESSION_KEY = "console_playground_key"
KEY_NAME = "console playground"
# A key with less than this left is replaced, so that a chat started now does not outlive it.
REUSE_MARGIN = timedelta(minutes=2)


def playground_key(request) -> dict:
    """{"key", "expires_at"} for the session's user: the session's key while it lives, else a new one
    (the old one revoked)."""
    now = timezone.now()
    held = request.session.get(SESSION_KEY)
    if held and parse_datetime(held["expires_at"]) - now > REUSE_MARGIN:
        return {"key": held["key"], "expires_at": held["expires_at"]}
    if held:
        old = ApiKey.objects.filter(pk=held["id"], user=request.user).first()
        if old is not None:
            services.revoke_api_key(api_key=old)
    issued = services.create_api_key(
        user=request.user, name=KEY_NAME,
        expires_at=now + timedelta(minutes=settings.CONSOLE_PLAYGROUND_KEY_MINUTES),
    )
    held = {"id": str(issued.api_key.pk), "key": issued.token, "expires_at": issued.api_key.expires_at.isoformat()}
    request.session[SESSION_KEY] = held
    return {"key": held["key"], "expires_at": held["expires_at"]}

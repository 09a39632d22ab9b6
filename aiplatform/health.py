"""Liveness and readiness probes (no authentication: orchestrators call them). Anonymous callers
learn only ready or not; the log says which check failed and why, and operators (a staff session)
or READYZ_DETAILS see it in the answer too."""

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.BROKER_HEALTH_TIMEOUT)


def readyz(request):
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            check()
            checks[name] = {"ok": True}
        except Exception as exc:  # any failure means not ready; the log says which and why
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            logger.warning("readyz: the %s check failed: %s", name, checks[name]["error"])
    ready = all(c["ok"] for c in checks.values())
    answer = {"status": "ready" if ready else "not ready"}
    if settings.READYZ_DETAILS or _is_operator(request):
        answer["checks"] = checks
    return JsonResponse(answer, status=200 if ready else 503)


def _is_operator(request) -> bool:
    # A session is only read when there is one: with the database down, reading it would fail.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    try:
        return request.user.is_staff
    except DatabaseError:  # the session store is what is down
        return False

"""Liveness and readiness probes (no authentication: orchestrators call them)."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from .celery import app as celery_app


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
        except Exception as exc:  # any failure means not ready; say which and why
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)

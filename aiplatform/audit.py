"""Records every mutating API call. Views leave `request.audit` (action, target, workspace);
calls that never reached a view (401 before routing, 404 routes) are recorded with the path."""

from .models import AuditEvent

MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        audited = not getattr(request, "audit_skip", False)
        if audited and request.method in MUTATING_METHODS and request.path.startswith("/api/"):
            self.record(request, response)
        return response

    @staticmethod
    def record(request, response):
        details = getattr(request, "audit", None) or {}
        user = getattr(request, "user", None)
        workspace = details.get("workspace")
        if workspace is not None and workspace.pk is None:
            workspace = None  # the call deleted it; the event outlives it
        AuditEvent.objects.create(
            actor=user if user is not None and user.is_authenticated else None,
            workspace=workspace,
            action=details.get("action", f"{request.method.lower()} {request.path}")[:100],
            method=request.method,
            path=request.path[:500],
            target_type=details.get("target_type", ""),
            target_id=details.get("target_id", "")[:100],
            status_code=response.status_code,
            source_ip=request.META.get("REMOTE_ADDR") or None,
            api_key_prefix=getattr(request, "api_key_prefix", ""),
        )

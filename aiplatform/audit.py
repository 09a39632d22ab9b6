"""Records every mutating API call. Views leave `request.audit` (action, target, workspace);
calls that never reached a view (404 routes) are recorded with the path. Calls refused to an
anonymous caller (bad or no credentials) and calls refused by a rate limit leave no row: writing
one each would let anyone fill the database; the request log has them."""

from .models import AuditEvent
from .network import client_address

MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        audited = not getattr(request, "audit_skip", False)
        if audited and request.method in MUTATING_METHODS and request.path.startswith("/api/"):
            user = getattr(request, "user", None)
            refused = response.status_code == 429 or (
                response.status_code >= 400 and (user is None or not user.is_authenticated)
            )
            if not refused:
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
            source_ip=client_address(request),
            api_key_prefix=getattr(request, "api_key_prefix", ""),
        )

"""API conventions every app shares: idempotent POSTs, workspace scoping with role checks, and
the audit details each view leaves for the audit middleware (the error shape is in errors.py,
pagination in pagination.py).

An app's viewset derives from `PlatformViewSet` (platform-level resources) or
`WorkspaceViewSet` (resources under /api/v1/workspaces/{workspace_id}/) and gets all of it."""

import hashlib
import json

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from . import selectors, services
from .models import CAPABILITY_MIN_ROLE, ROLE_CAPABILITIES, Capability
from .schema import IDEMPOTENCY_HEADER

# --- permissions --------------------------------------------------------------------------------


class WorkspaceRolePermission(BasePermission):
    """Resolves the URL's workspace for the caller (404 when they are not a member: another
    tenant's workspace must look like no workspace at all), then checks the capability the
    view's action needs against the caller's role (403 naming the role needed)."""

    def has_permission(self, request, view):
        if "workspace_id" not in view.kwargs:
            return True
        # Views other than WorkspaceViewSet's (the service gateway) name no resource.
        resource_id = getattr(view, "workspace_resource_id", None)
        workspace, role, view.workspace_resource = selectors.workspace_and_role(
            user=request.user, workspace_id=view.kwargs["workspace_id"],
            resource=resource_id() if resource_id else None,
        )
        view.workspace = workspace
        view.role = role
        needed = view.capability_for(view.action, request.method)
        if needed not in ROLE_CAPABILITIES[role]:
            self.message = (
                f"Your role in workspace '{workspace.name}' is {role}; this action needs the "
                f"{CAPABILITY_MIN_ROLE[needed]} role or higher. Ask a workspace owner to change your role."
            )
            return False
        return True


class IsOperatorOrReadOnly(BasePermission):
    """Platform-level resources (flavors, pools, prices) that everyone reads and operators change."""

    message = "Only platform operators change this."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or request.user.is_staff


# --- viewsets -----------------------------------------------------------------------------------


class _IdempotentReplay(Exception):
    def __init__(self, response):
        self.response = response


def request_fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


class PlatformViewSet(viewsets.GenericViewSet):
    """Idempotent POSTs and audit details for every API view of the platform."""

    _idempotency_record = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or not key:
            return
        if len(key) > 255:
            raise exceptions.ValidationError({IDEMPOTENCY_HEADER: "Use a key of at most 255 characters."})
        record = services.claim_idempotency_key(
            user=request.user, key=key, fingerprint=request_fingerprint(request)
        )
        if record.status == record.Status.COMPLETED:
            replay = Response(record.response_body, status=record.response_status)
            replay["Idempotent-Replayed"] = "true"
            raise _IdempotentReplay(replay)
        self._idempotency_record = record

    def get_object(self):
        try:
            return super().get_object()
        except (DjangoValidationError, ValueError):
            # A malformed id names nothing: answer as for any id that is not there.
            raise exceptions.NotFound() from None

    def handle_exception(self, exc):
        if isinstance(exc, _IdempotentReplay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            if 200 <= response.status_code < 300:
                # Stored as the client saw it (UUIDs, decimals and dates already rendered to JSON).
                body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
                services.complete_idempotency_key(record=record, status_code=response.status_code, body=body)
            else:
                services.release_idempotency_key(record=record)
        self._leave_audit_details(request, response)
        return super().finalize_response(request, response, *args, **kwargs)

    def _leave_audit_details(self, request, response):
        target_id = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not target_id and isinstance(getattr(response, "data", None), dict):
            target_id = response.data.get("id", "")
        request._request.audit = {
            "action": f"{self.basename}.{self.action}",
            "target_type": self.basename,
            "target_id": str(target_id or ""),
            "workspace": getattr(self, "workspace", None),
        }


class WorkspaceViewSet(PlatformViewSet):
    """A resource under /api/v1/workspaces/{workspace_id}/. Reads need the viewer role, writes
    the developer role, unless `capabilities` maps an action to another capability."""

    permission_classes = [*PlatformViewSet.permission_classes, WorkspaceRolePermission]
    capabilities: dict[str, Capability] = {}
    workspace = None
    role = None
    workspace_resource = None

    def workspace_resource_id(self):
        """(model, id) of the workspace's resource that the URL names and every action of this
        view needs, fetched with the workspace and role into `workspace_resource` (None when the
        workspace has no such resource); None when there is none."""
        return None

    def capability_for(self, action, method):
        if action in self.capabilities:
            return self.capabilities[action]
        return Capability.READ if method in ("GET", "HEAD", "OPTIONS") else Capability.DEVELOP


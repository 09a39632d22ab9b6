"""What every console page shares: the signed-in user, the workspace the URL names with the caller's
role in it (another tenant's workspace, or a resource in it, is a 404 as in the API), the
capability a page needs (403 naming the role to ask for), and paged lists."""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from rest_framework.exceptions import NotFound

from aiplatform import selectors
from aiplatform.models import CAPABILITY_MIN_ROLE, ROLE_CAPABILITIES, Capability

PAGE_SIZES = (10, 25, 50, 100)
# The session remembers the workspace last opened: /console/ lands there.
LAST_WORKSPACE = "console_workspace"


@dataclass
class Scope:
    """The workspace of a page, the caller's role in it and what that role may do."""

    workspace: object
    role: str
    resource: object = None

    @property
    def api(self) -> str:
        """Where the workspace's resources are in the API (the pages' forms call it)."""
        return f"/api/v1/workspaces/{self.workspace.pk}"

    @property
    def capabilities(self) -> set:
        return ROLE_CAPABILITIES[self.role]

    @property
    def can_annotate(self) -> bool:
        return Capability.ANNOTATE in self.capabilities

    @property
    def can_develop(self) -> bool:
        return Capability.DEVELOP in self.capabilities

    @property
    def can_administer(self) -> bool:
        return Capability.ADMINISTER in self.capabilities


def workspace_page(capability: Capability = Capability.READ, resource=None):
    """A page of one workspace (`workspace` in the URL). `resource` maps the view's kwargs to
    (model, id) of a resource of the workspace, fetched in the same query: missing, or another
    workspace's, it is a 404."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapped(request, workspace, *args, **kwargs):
            named = resource(kwargs) if resource else None
            try:
                workspace, role, found = selectors.workspace_and_role(
                    user=request.user, workspace_id=workspace, resource=named)
            except NotFound:
                raise Http404("Workspace not found.") from None
            if named is not None and found is None:
                raise Http404(f"{named[0]._meta.verbose_name.capitalize()} not found.")
            if capability not in ROLE_CAPABILITIES[role]:
                raise PermissionDenied(
                    f"Your role in workspace '{workspace.name}' is {role}; this page needs the "
                    f"{CAPABILITY_MIN_ROLE[capability]} role or higher. Ask a workspace owner to change your role.")
            request.scope = Scope(workspace=workspace, role=role, resource=found)
            if request.session.get(LAST_WORKSPACE) != str(workspace.pk):
                request.session[LAST_WORKSPACE] = str(workspace.pk)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def page_of(request, queryset):
    """One page of `queryset` (`?page=`, `?page_size=` of PAGE_SIZES): a count and a slice, whatever
    the page size."""
    try:
        size = int(request.GET.get("page_size", PAGE_SIZES[1]))
    except ValueError:
        size = PAGE_SIZES[1]
    size = size if size in PAGE_SIZES else PAGE_SIZES[1]
    return Paginator(queryset, size).get_page(request.GET.get("page"))

"""What the console's frame shows on every page: the workspaces of the switcher and whether the
user administers their account. Read only when a template uses them."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from aiplatform import selectors


def console(request):
    if not request.user.is_authenticated or not request.path.startswith("/console/"):
        return {}
    user = request.user
    return {
        "switcher_workspaces": SimpleLazyObject(lambda: list(selectors.workspaces_for_user(user=user))),
        "account_member": SimpleLazyObject(lambda: selectors.account_member(user=user)),
        "poll_seconds": settings.CONSOLE_POLL_SECONDS,
    }

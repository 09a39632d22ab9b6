"""Every answer names its request: `X-Request-Id` is the caller's own id when it sent a sensible
one (the SDK sends one per call, the same on each retry), else a new one, so that a client's error
and the server's logs can be matched."""

import re
import uuid

HEADER = "X-Request-Id"
_SENSIBLE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        request.request_id = given if _SENSIBLE.fullmatch(given) else uuid.uuid4().hex
        response = self.get_response(request)
        response[HEADER] = request.request_id
        return response

"""OpenAPI generation: the standard error responses, plus what the platform adds."""

from drf_spectacular.utils import OpenApiParameter
from drf_standardized_errors.openapi import AutoSchema as StandardAutoSchema

IDEMPOTENCY_HEADER = "Idempotency-Key"


class AutoSchema(StandardAutoSchema):
    """Documents the standard errors, plus 409 (idempotency and state conflicts) on POSTs and
    DELETEs, 413 on requests with a body, 429 wherever a caller is identified (rate limits count
    in authentication, not in DRF throttles) and 503 everywhere (the database or the broker out
    of reach for now)."""

    def _should_add_error_response(self, responses, status_code):
        if status_code in responses:
            return False
        if status_code == "409":
            return self.method in ("POST", "DELETE")
        if status_code == "413":
            return self.method in ("POST", "PUT", "PATCH")
        if status_code == "429":
            return self._should_add_http401_error_response()
        if status_code == "503":
            return True
        return super()._should_add_error_response(responses, status_code)

    def _is_list_view(self, serializer=None):
        # A view whose collection GET answers one object (a workload's logs) says so.
        if getattr(self.view, "answers_one_object", False):
            return False
        return super()._is_list_view(serializer)

    def get_override_parameters(self):
        params = super().get_override_parameters()
        if self.method == "POST":
            params = [
                *params,
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Retrying a POST with the same key and body returns the first response "
                    "instead of acting twice; the same key with another body is refused (409).",
                ),
            ]
        return params

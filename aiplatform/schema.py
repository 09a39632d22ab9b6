"""OpenAPI generation: the standard error responses, plus what the platform adds."""

from drf_spectacular.utils import OpenApiParameter
from drf_standardized_errors.openapi import AutoSchema as StandardAutoSchema

IDEMPOTENCY_HEADER = "Idempotency-Key"


class AutoSchema(StandardAutoSchema):
    """Documents the standard errors, plus 409 (idempotency and state conflicts) on POSTs."""

    def _should_add_error_response(self, responses, status_code):
        if status_code == "409":
            return self.method in ("POST", "DELETE") and status_code not in responses
        return super()._should_add_error_response(responses, status_code)

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

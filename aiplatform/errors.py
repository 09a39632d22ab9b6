"""The one error shape: DRF errors through drf-standardized-errors, Django-level errors that
services raise converted to it, and errors outside DRF views answered in it under /api/."""

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError, connections
from django.db.models import ProtectedError
from django.http import JsonResponse
from django.utils.log import log_response
from django.views.defaults import server_error as html_server_error
from drf_standardized_errors.handler import ExceptionHandler as StandardExceptionHandler
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum
from kombu.exceptions import OperationalError as BrokerError
from rest_framework import exceptions, serializers, status

from .outbox import BrokerUnavailable
from .services import IdempotencyConflict


def server_error(request, *args, **kwargs):
    if request.path.startswith("/api/"):
        # Django calls this while handling the error, outside any DRF view (a middleware's query).
        unavailable = service_unavailable(sys.exc_info()[1])
        if unavailable is not None:
            return JsonResponse(
                {"type": "server_error",
                 "errors": [{"code": unavailable.detail.code, "detail": str(unavailable.detail), "attr": None}]},
                status=unavailable.status_code, headers={"Retry-After": str(unavailable.wait)},
            )
        return JsonResponse(
            {"type": "server_error", "errors": [{"code": "error", "detail": "Server Error (500)", "attr": None}]},
            status=500,
        )
    return html_server_error(request, *args, **kwargs)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class IllegalTransition(Conflict):
    """A state change the resource's lifecycle forbids (a finished workload started again, a
    completed annotation task annotated, a cancelled subscription renewed): one code in every app."""

    default_code = "illegal_transition"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class ServiceUnavailable(exceptions.APIException):
    """A part the request needs (the database, the broker) cannot be reached: retry after `wait`."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is unavailable for a moment; retry shortly."
    default_code = "unavailable"

    def __init__(self, detail=None, code=None):
        super().__init__(detail, code)
        self.wait = settings.UNAVAILABLE_RETRY_AFTER_SECONDS


def service_unavailable(exc) -> ServiceUnavailable | None:
    """The 503 for an error that says the database or the broker cannot be reached, else None."""
    if isinstance(exc, BrokerUnavailable):
        return ServiceUnavailable("The task queue cannot be reached, so this request was not carried out and nothing "
                                  "was created; retry in a few seconds.", code="broker_unavailable")
    if isinstance(exc, BrokerError):  # a task sent straight to the broker, not through the outbox
        return ServiceUnavailable("The task queue cannot be reached; retry in a few seconds.",
                                  code="broker_unavailable")
    if isinstance(exc, OperationalError | InterfaceError):
        # A connection the database dropped is closed now, so the rest of this request (the audit
        # row, the Idempotency-Key's release) and the next one connect afresh.
        for connection in connections.all(initialized_only=True):
            if not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()
        return ServiceUnavailable("The database cannot be reached for a moment; retry in a few seconds.",
                                  code="database_unavailable")
    return None


class ExceptionHandler(StandardExceptionHandler):
    """Turns the Django-level errors services raise into the one error shape."""

    def report_exception(self, exc, response) -> None:
        # A part that cannot be reached is an expected refusal, not a crash: one line in the log,
        # like a 403 or 404, with no traceback and no signal for error trackers.
        if isinstance(exc, ServiceUnavailable):
            request = getattr(self.context.get("request"), "_request", None)
            log_response("%s: %s", exc.detail, getattr(request, "path", ""), response=response, request=request)
            return
        super().report_exception(exc, response)

    def convert_known_exceptions(self, exc):
        if isinstance(exc, DjangoValidationError):
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            return exceptions.ValidationError(detail=detail)
        if isinstance(exc, ProtectedError):
            names = sorted({type(obj)._meta.verbose_name for obj in exc.protected_objects})
            return Conflict(f"It is still in use by: {', '.join(names)}. Remove those first.", code="in_use")
        if isinstance(exc, IdempotencyConflict):
            return Conflict(exc.message, code=exc.code)
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge(f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
                                   "send it in smaller parts (e.g. samples in batches of at most 1,000).")
        if isinstance(exc, TooManyFieldsSent):
            return exceptions.ParseError(
                f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields or query "
                "parameters; send the body as JSON, or fewer parameters.", code="too_many_fields")
        if isinstance(exc, TooManyFilesSent):
            return exceptions.ParseError(
                f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files; send fewer at once.",
                code="too_many_files")
        if isinstance(exc, DataError):
            # Input a serializer let through but the database cannot store (a number too large…).
            return exceptions.ValidationError({"non_field_errors": "A value is out of range for the database; "
                                                                   "check the sizes of the numbers and dates sent."})
        unavailable = service_unavailable(exc)
        if unavailable is not None:
            return unavailable
        return super().convert_known_exceptions(exc)


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    attr = serializers.CharField(allow_null=True)


class ConflictErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ErrorSerializer(many=True)


class PayloadTooLargeErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ErrorSerializer(many=True)


class ServiceUnavailableErrorResponseSerializer(serializers.Serializer):
    """The database or the broker cannot be reached for now; the answer says when to retry
    (Retry-After)."""

    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = ErrorSerializer(many=True)

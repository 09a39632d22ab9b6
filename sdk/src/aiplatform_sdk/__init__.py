"""The AI Platform's Python SDK: `Client`, typed models, errors. The `aip` command is in `cli`."""

from . import models
from ._client import Client
from ._errors import (
    AIPlatformError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ErrorDetail,
    InternalServerError,
    NotFoundError,
    OperationFailedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    WaitTimeoutError,
)
from ._extras import ChatCompletion, ChatCompletionChunk
from ._generated.resources import OPERATIONS
from ._models import APIModel
from ._pagination import Page, Paginator
from ._types import NOT_GIVEN, RequestOptions
from ._version import __version__

__all__ = [
    "NOT_GIVEN", "OPERATIONS", "AIPlatformError", "APIConnectionError", "APIError", "APIModel", "APIStatusError",
    "APITimeoutError", "AuthenticationError", "BadRequestError", "ChatCompletion", "ChatCompletionChunk", "Client",
    "ConfigurationError", "ConflictError", "ErrorDetail", "InternalServerError", "NotFoundError",
    "OperationFailedError", "Page", "Paginator", "PayloadTooLargeError", "PermissionDeniedError", "RateLimitError",
    "RequestOptions", "ServiceUnavailableError", "WaitTimeoutError", "__version__", "models",
]

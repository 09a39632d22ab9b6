from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import services, throttling


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <api key>`; the key names its owner, and its requests count against
    the key's and its user's rate limits. Bad keys from an address that sent too many of them in
    the last minute are refused (429) until the minute is over."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as 'Authorization: Bearer <api key>'.")
        api_key = services.authenticate_api_key(token=header[1])
        if api_key is None:
            throttling.refuse_authentication_failure(request)
            raise exceptions.AuthenticationFailed("The API key is invalid, revoked or expired.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API key is disabled.")
        throttling.enforce_api_rate_limit(request, user=api_key.user, api_key=api_key)
        request._request.api_key_prefix = api_key.prefix
        return api_key.user, api_key

    def authenticate_header(self, request):
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session login (the console, the browsable API); the user's requests count against
    their rate limit."""

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None:
            throttling.enforce_api_rate_limit(request, user=authenticated[0])
        return authenticated


class SessionAuthenticationScheme(SessionScheme):
    target_class = SessionAuthentication


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from POST /api/v1/api-keys/."}

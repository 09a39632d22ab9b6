from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import services


class JobTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Job <token>`: a running training job's runtime reporting its metrics.
    The token names one job and works only on that job's metrics endpoint while it runs."""

    keyword = "Job"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword or len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Job <token>' with the job's AIP_JOB_TOKEN.")
        job = services.job_for_token(header[1])
        if job is None:
            raise exceptions.AuthenticationFailed("The job token is invalid, or its job has ended.")
        return None, job

    def authenticate_header(self, request):
        return self.keyword


class JobTokenScheme(OpenApiAuthenticationExtension):
    target_class = JobTokenAuthentication
    name = "JobToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "'Job <token>': the AIP_JOB_TOKEN a training job's runtime receives."}

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import services


class BenchmarkTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Benchmark <token>`: a benchmark run's load generator reporting its result.
    The token names one run and works only on that run's result endpoint until its workload ends."""

    keyword = "Benchmark"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword or len(header) != 2:
            raise exceptions.AuthenticationFailed("Send 'Authorization: Benchmark <token>' with the run's "
                                                  "AIP_BENCHMARK_TOKEN.")
        run = services.benchmark_run_for_token(header[1])
        if run is None:
            raise exceptions.AuthenticationFailed("The benchmark token is invalid, or its run has ended.")
        return None, run

    def authenticate_header(self, request):
        return self.keyword


class BenchmarkTokenScheme(OpenApiAuthenticationExtension):
    target_class = BenchmarkTokenAuthentication
    name = "BenchmarkToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "'Benchmark <token>': the AIP_BENCHMARK_TOKEN a benchmark run's load generator "
                               "receives."}

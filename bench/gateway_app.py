"""The gateway as `python -m gateway` runs it, for bench/gateway.py: the same application, with
the benchmark's fake upstream (BENCH_UPSTREAM) as every service's instance instead of the compute
backend's endpoints (found in the background either way, so off the measured path)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
django.setup()

from gateway.app import Gateway  # noqa: E402  (after Django is set up)

UPSTREAMS = os.environ["BENCH_UPSTREAM"].split(",")
application = Gateway(endpoints=lambda spec, role: UPSTREAMS)

"""The gateway as `python -m gateway` runs it, for bench/gateway.py: the same application, with
the benchmark's fake upstreams (BENCH_UPSTREAMS: {workload name: URL}) as the services' instances
instead of the compute backend's endpoints (read in the background either way, off the measured
path)."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
django.setup()

from gateway.app import Gateway  # noqa: E402  (after Django is set up)

UPSTREAMS = json.loads(os.environ["BENCH_UPSTREAMS"])
application = Gateway(endpoints=lambda spec, role: [UPSTREAMS[spec.name]])

"""Settings gunicorn reads from the directory it starts in (`make run`'s Procfile, the benchmarks)."""

import gc


def post_worker_init(worker):
    # The application's modules, settings and URL patterns live as long as the worker: left to
    # the collector, every full collection walks them again (about a tenth of a request's CPU).
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every app's URL patterns now, not on the first request)
    gc.collect()  # what is garbage now is not kept forever
    gc.freeze()

"""Settings gunicorn reads from the directory it starts in (`make run`'s Procfile, the benchmarks)."""


def post_worker_init(worker):
    from django.urls import get_resolver

    from aiplatform.process import tune_collector

    get_resolver().url_patterns  # noqa: B018  (imports every app's URL patterns now, not on the first request)
    tune_collector()

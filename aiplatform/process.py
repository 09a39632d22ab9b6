"""Start-up of long-lived processes (gunicorn and Celery workers)."""

import gc


def freeze_startup_objects() -> None:
    """Keep what the process has loaded so far (modules, settings, URL patterns) out of the
    garbage collector's sight. It lives as long as the process, yet every full collection would
    walk it again: a tenth of a request's CPU, and a third of an import's."""
    gc.collect()  # what is garbage now is not kept forever
    gc.freeze()

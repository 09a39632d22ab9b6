"""Start-up of long-lived processes (gunicorn and Celery workers)."""

import gc

# Collections of the youngest generation after this many new containers (the default is 700),
# and of the older ones after 20 of the younger: a request or an import batch holds tens of
# thousands of short-lived containers that form no cycles, and the collector walked them again
# and again (a third of an import's CPU).
COLLECTOR_THRESHOLDS = (50_000, 20, 20)


def tune_collector() -> None:
    """Keep what the process has loaded so far (modules, settings, URL patterns) out of the
    garbage collector's sight, since it lives as long as the process, and collect less often."""
    gc.collect()  # what is garbage now is not kept forever
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)

"""Start-up of long-lived processes (gunicorn and Celery workers)."""

import gc

# Collections of the youngest generation after this many new containers (the default is 700),
# and of each older one after 10 of the one below: an import batch holds tens of thousands of
# containers that form no cycles, and the collector walked them again and again (a third of the
# import's CPU). Larger thresholds gained nothing more and made the rare pause longer (the
# sample list's p99 doubled at 50,000).
COLLECTOR_THRESHOLDS = (10_000, 10, 10)


def tune_collector() -> None:
    """Keep what the process has loaded so far (modules, settings, URL patterns) out of the
    garbage collector's sight, since it lives as long as the process, and collect less often."""
    gc.collect()  # what is garbage now is not kept forever
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)

"""Start-up of long-lived processes (gunicorn and Celery workers), and what they tune for a
while: the interpreter's thread switches, for the one way work runs beside the database
(thread_alongside)."""

import contextlib
import gc
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

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


# Seconds a thread runs before another waiting for the interpreter gets its turn (the default is
# 0.005), while work is split between a thread that computes and one that waits on the database:
# the waiting one, its statement done, would otherwise idle the database for up to 5 ms.
BRISK_SWITCHES = 0.0002
_brisk = {"users": 0, "interval": None}
_brisk_lock = threading.Lock()


class DatabaseInHelperThread(RuntimeError):
    """Work given to thread_alongside used the database: the calling thread owns the transaction."""


class _NoDatabase:
    """What a helper thread finds in place of each database connection."""

    def __init__(self, alias: str, thread: str):
        self._refusal = (f"the helper thread {thread!r} used the database {alias!r}: read and write in the "
                         "calling thread, which holds the transaction, and hand the helper plain data")

    def __getattr__(self, name):
        raise DatabaseInHelperThread(self._refusal)


def _forbid_database() -> None:
    # Django's connections are per thread: this one's are replaced, the caller's are untouched.
    for alias in connections:
        connections[alias] = _NoDatabase(alias, threading.current_thread().name)


@contextlib.contextmanager
def thread_alongside(name: str):
    """A thread to compute in while this one waits on the database (psycopg2 lets go of the
    interpreter while a statement runs), with brisk thread switches meanwhile. The switch interval
    is the process's: it comes back when the last of several overlapping users is done. On an
    error, work not yet started in the thread is dropped. The thread has no database: work given
    to it that reads or writes one fails with DatabaseInHelperThread (a statement there would run
    outside the caller's transaction and locks)."""
    with _brisk_lock:
        if not _brisk["users"]:
            _brisk["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_brisk["interval"], BRISK_SWITCHES))
        _brisk["users"] += 1
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=_forbid_database)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        with _brisk_lock:
            _brisk["users"] -= 1
            if not _brisk["users"]:
                sys.setswitchinterval(_brisk["interval"])

"""Reconcile as soon as the backend reports a change, for lower latency than beat's periodic
pass (which stays as the safety net: a missed watch event costs at most one interval)."""

import threading
import time

from django.core.management.base import BaseCommand

from k8s import services
from k8s.backend import get_compute_backend


class Command(BaseCommand):
    help = "Watch the compute backend and reconcile workloads whenever something changes."

    def add_arguments(self, parser):
        parser.add_argument("--idle-seconds", type=float, default=10.0,
                            help="Reconcile at least this often even when nothing is reported.")
        parser.add_argument("--min-interval", type=float, default=1.0,
                            help="At most one pass per this many seconds; changes in between share a pass.")
        parser.add_argument("--passes", type=int, default=0, help="Stop after this many passes (0: never).")

    def handle(self, *args, idle_seconds, min_interval, passes, **options):
        changed, stop = threading.Event(), threading.Event()
        get_compute_backend().watch(changed.set, stop=stop)
        done = 0
        try:
            while not passes or done < passes:
                changed.wait(idle_seconds)
                changed.clear()
                report = services.reconcile()
                done += 1
                if report.started or report.succeeded or report.failed or report.vanished:
                    self.stdout.write(f"started {len(report.started)}, succeeded {len(report.succeeded)}, "
                                      f"failed {len(report.failed) + len(report.vanished)}")
                if not passes or done < passes:
                    time.sleep(min_interval)
        finally:
            stop.set()

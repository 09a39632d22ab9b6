"""The floor under bench/dataset_import.py on this host: the issue's reference service did no more
than bulk-insert the manifest's rows (3.8 s for 100,000 when the targets were set). This does
that with the ORM's bulk_create in batches of 5,000, in the same database, without reading object
storage, validating, deduplicating or keeping labels, so the import's time can be read against
what the same host does at the least.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_datasets .venv/bin/python bench/bare_insert.py
"""

import json
import time

from common import cpu_seconds, ensure_database, host_speed, load_average
from dataset_import import manifest

LINES = 100_000


def main():
    ensure_database()
    from django.utils import timezone

    from aiplatform import services as platform
    from datasets import services
    from datasets.models import Sample

    suffix = str(int(time.time()))
    account, user = platform.create_account(name=f"bare-{suffix}", admin_username=f"bare-{suffix}")
    workspace = platform.create_workspace(account=account, name="bare", created_by=user)
    dataset = services.create_dataset(workspace=workspace, created_by=user, name="bare-insert",
                                      type="image_classification")
    lines = manifest(LINES, "bare").splitlines()
    started, cpu = time.perf_counter(), cpu_seconds()
    now = timezone.now()
    for start in range(0, LINES, 5_000):
        rows = [json.loads(line) for line in lines[start:start + 5_000]]
        Sample.objects.bulk_create([
            Sample(dataset=dataset, source=row["source"], metadata=row["property"],
                   annotations=row.get("annotation", []), created_at=now, updated_at=now)
            for row in rows
        ])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    print(f"bare bulk insert of {LINES:,} manifest lines: {seconds:.2f} s ({cpu:.2f} s CPU in this process), "
          f"{LINES / seconds:,.0f} rows/s; load average {load_average()}; host speed {host_speed()} (lower is faster)")


if __name__ == "__main__":
    main()

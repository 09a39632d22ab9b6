"""Imports a 100,000-line image-classification manifest from a local S3 server through an
ImportTask, run by this process as a Celery worker would, and prints seconds, samples/s, SQL
queries and the worker's peak memory. A 10,000-line import runs first to show that memory does
not grow with the number of lines.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_datasets .venv/bin/python bench/dataset_import.py
"""

import json
import random
import time

from common import (
    cpu_seconds,
    ensure_database,
    host_speed,
    load_average,
    peak_rss_mb,
    peak_rss_reset,
    rss_mb,
    start_s3_server,
)

LABELS = ["cat", "dog", "bird", "fish", "horse"]


def manifest(lines: int, prefix: str) -> bytes:
    rng = random.Random(lines)
    out = []
    for n in range(lines):
        sample = {"source": f"s3://bench-data/{prefix}/img{n:07d}.jpg", "property": {"width": 640, "height": 480}}
        if n % 10:  # nine in ten samples are labelled
            sample["usage"] = "TRAIN" if n % 5 else "EVAL"
            sample["annotation"] = [{
                "name": rng.choice(LABELS), "type": "modelarts/image_classification", "annotated-by": "bench",
                "creation-time": "2026-11-23 10:00:00", "confidence": round(rng.random(), 3),
            }]
        out.append(json.dumps(sample))
    return ("\n".join(out) + "\n").encode()


def main():
    server, endpoint = start_s3_server()
    try:
        ensure_database()
        import boto3
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from aiplatform import services as platform
        from aiplatform.process import tune_collector
        from datasets import services, tasks
        from datasets.models import Dataset, ImportTask

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket="bench-data")
        suffix = str(int(time.time()))
        account, user = platform.create_account(name=f"bench-{suffix}", admin_username=f"bench-{suffix}")
        workspace = platform.create_workspace(account=account, name="bench", created_by=user)
        # The bucket is the account's own, reached through its storage connection.
        platform.save_storage_connection(account=account, name="bench", scheme="s3", bucket="bench-data",
                                         access_key_id="bench", secret_access_key="bench", path_style=True)

        tune_collector()  # as a Celery worker process does when it starts
        for lines in (10_000, 100_000):
            key = f"manifests/{lines}.manifest"
            s3.put_object(Bucket="bench-data", Key=key, Body=manifest(lines, str(lines)))
            dataset = services.create_dataset(
                workspace=workspace, created_by=user, name=f"import-{lines}", type="image_classification",
                output_uri="s3://bench-data/work",
            )
            task = ImportTask.objects.create(dataset=dataset, kind="manifest", source_uri=f"s3://bench-data/{key}",
                                             created_by=user)
            base = rss_mb()
            peak_rss_reset()
            with CaptureQueriesContext(connection) as queries:
                started, cpu = time.perf_counter(), cpu_seconds()
                tasks.run_import(str(task.pk))
                seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            peak = peak_rss_mb()
            task.refresh_from_db()
            dataset = Dataset.objects.get(pk=dataset.pk)
            assert task.status == "succeeded" and task.added == lines, (task.status, task.error, task.added)
            print(
                f"{lines:>7} lines: {seconds:.2f} s ({cpu:.2f} s CPU in the worker), {lines / seconds:,.0f} samples/s, "
                f"{len(queries.captured_queries)} SQL queries, worker peak RSS {peak:.0f} MB "
                f"(+{peak - base:.0f} MB over {base:.0f} MB before the task); "
                f"dataset: {dataset.sample_count} samples, {dataset.labelled_count} labelled; "
                f"load average {load_average()}; host speed {host_speed()} (lower is faster)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

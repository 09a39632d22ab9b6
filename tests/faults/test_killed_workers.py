"""Celery workers killed with SIGKILL in the middle of their work (no shutdown, no acknowledgement),
then another worker started: a 50,000-line import, a rating run and a subscription renewal each
end exactly once. Each worker is stopped right where the test wants it by a lock the test holds
(its next statement waits for it), so the kill lands mid-work on any machine."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from aiplatform.models import Role
from billing import services as billing
from billing.models import BillingAccount, Charge, LedgerEntry, Package, RatedUsage, Subscription
from datasets import services as datasets
from datasets.models import Dataset, ImportTask, Sample, SampleLabel
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.datasets.factories import DatasetFactory
from tests.factories import WorkspaceFactory, api_token, lease_events, member_of, workspace_storage
from tests.faults.conftest import blocker_connection, query_one, send_as_beat, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LINES = 50_000


def blocked_session(statement: str):
    """The pid of the test database's session that waits for a lock in `statement` (a prefix)."""
    return query_one("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                     "wait_event_type = 'Lock' AND query LIKE %s", [statement + "%"])


def gone(pid) -> bool:
    return query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])[0] == 0


def test_a_worker_killed_mid_import_is_requeued_and_the_next_imports_each_line_once(workspace, local_root,
                                                                                  start_worker, start_server, queue):
    own = workspace_storage(local_root, workspace)
    (own / "big.manifest").write_text("".join(
        json.dumps({"source": f"file://ws-{workspace.pk}/img/{n:05d}.jpg",
                    "annotation": [{"name": f"label{n % 5}", "type": "modelarts/image_classification"}]}) + "\n"
        for n in range(LINES)))
    dataset = DatasetFactory(workspace=workspace, output_uri=f"file://ws-{workspace.pk}/out", labels=[])
    server = start_server()
    first = start_worker("first")
    response = server.request("POST", f"/api/v1/workspaces/{workspace.pk}/datasets/{dataset.pk}/import-tasks/",
                              token=api_token(member_of(workspace, Role.DEVELOPER)),
                              body={"kind": "manifest", "source_uri": f"file://ws-{workspace.pk}/big.manifest"})
    assert response.status == 202, response.body
    task_id = response.body["id"]
    wait_for(lambda: ImportTask.objects.get(pk=task_id).processed >= datasets.IMPORT_BATCH, "the first batch",
             first.log)

    # Holding the dataset's row stops the worker at its next batch, which waits for it; there it dies.
    blocker = blocker_connection()
    with blocker.cursor() as cursor:
        cursor.execute("SELECT 1 FROM datasets_dataset WHERE id = %s FOR UPDATE", [str(dataset.pk)])
    pid = wait_for(lambda: blocked_session('SELECT 1 AS "a" FROM "datasets_dataset"')
                   or blocked_session('SELECT "datasets_dataset"'), "the worker to wait for its next batch", first.log)
    first.kill()
    blocker.rollback()
    blocker.close()
    wait_for(lambda: gone(pid[0]), "the killed worker's session to end")
    killed = ImportTask.objects.get(pk=task_id)
    assert killed.status == "running" and 0 < killed.processed < LINES
    assert Sample.objects.filter(dataset=dataset).count() == killed.added == killed.processed
    assert Dataset.objects.get(pk=dataset.pk).status == "importing"

    # The next worker's reaper (what beat runs every TASK_REAPER_INTERVAL_SECONDS) finds the
    # heartbeat stopped and requeues the import, which that worker resumes.
    start_worker("second", TASK_STALLED_AFTER_SECONDS="2")
    key = f"datasets.import:{task_id}"
    wait_for(lambda: query_one("SELECT now() - heartbeat_at > interval '2.5 seconds' FROM aiplatform_tasklease "
                               "WHERE key = %s", [key])[0], "the killed worker's heartbeat to be 2 s old")
    send_as_beat("datasets.tasks.reap_stalled_tasks", queue)
    wait_for(lambda: ImportTask.objects.get(pk=task_id).status != "running", "the requeued import to end")

    task = ImportTask.objects.get(pk=task_id)
    assert (task.status, task.total, task.processed, task.added, task.skipped, task.failed) == (
        "succeeded", LINES, LINES, LINES, 0, 0)
    assert Sample.objects.filter(dataset=dataset).count() == LINES
    assert Sample.objects.filter(dataset=dataset).values("source").distinct().count() == LINES
    assert SampleLabel.objects.filter(dataset=dataset).count() == LINES
    dataset.refresh_from_db()
    assert (dataset.status, dataset.sample_count, dataset.label_names) == (
        "ready", LINES, {f"label{n}" for n in range(5)})
    history = lease_events(key)
    assert [e["event"] for e in history] == ["started", "requeued", "restarted", "resumed", "finished"]
    assert "first@" in history[1]["message"]
    assert f"Resumed after item {killed.processed:,} " in history[3]["message"]


def test_a_worker_killed_while_rating_charges_nothing_and_beats_next_run_charges_once(start_worker, queue):
    """The rating beat task runs in one transaction: a worker killed inside it (blocked as it writes
    the ledger entries, its runs, package use and balances written) leaves nothing, and beat's
    next run, in another worker, charges each account once."""
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=10)
    offer = billing.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("5.00"))
    workspaces = [WorkspaceFactory() for _ in range(3)]
    for number, workspace in enumerate(workspaces):
        fund(workspace.account, "100.00")
        billing.buy_package(account=workspace.account, offer=offer, now=at("2023-04-01T00:00:00"))
        ran(workspace, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T03:00:00", name=f"job-{number}")
    billing.meter_usage(now=at("2023-04-03T00:00:00"))
    last = query_one("SELECT max(id) FROM billing_usagerecord")[0]
    blocked = max(str(workspace.account_id) for workspace in workspaces)

    blocker = blocker_connection()
    with blocker.cursor() as cursor:
        cursor.execute("INSERT INTO billing_ledgerentry (account_id, kind, amount, balance_after, key, description, "
                       "created_at) VALUES (%s, 'pay_per_use', 0, 0, %s, '', now())",
                       [blocked, f"usage:{blocked}:1-{last}"])
    first = start_worker("first")
    send_as_beat("billing.tasks.rate_usage", queue)  # every 5 minutes
    pid = wait_for(lambda: blocked_session('COPY "billing_ledgerentry"'), "the rater to block on its ledger entries",
                   first.log)
    first.kill()
    blocker.rollback()
    blocker.close()
    wait_for(lambda: gone(pid[0]), "the killed worker's session to end")

    assert set(Package.objects.values_list("node_seconds_used", flat=True)) == {0}
    assert not RatedUsage.objects.exists()
    assert set(BillingAccount.objects.values_list("balance", "rated_through_id")) == {(Decimal("95.00"), 0)}
    assert not LedgerEntry.objects.filter(kind="pay_per_use").exists()

    second = start_worker("second")
    send_as_beat("billing.tasks.rate_usage", queue)  # its next run
    wait_for(lambda: LedgerEntry.objects.filter(kind="pay_per_use").count() == len(workspaces),
             "beat's next run to charge", second.log)
    assert billing.rate_usage() == 0  # nothing left to rate: each record was rated once
    assert set(Package.objects.values_list("node_seconds_used", flat=True)) == {3600}
    assert set(BillingAccount.objects.values_list("balance", flat=True)) == {Decimal("91.00")}
    assert LedgerEntry.objects.filter(kind="pay_per_use").count() == len(workspaces)
    assert RatedUsage.objects.count() == len(workspaces)


def test_a_worker_killed_while_renewing_a_subscription_renews_it_once_on_beats_next_run(workspace, start_worker,
                                                                                       queue):
    flavor = priced_cpu_flavor(monthly="1750.00")
    fund(workspace.account, "10000.00")
    bought = timezone.now() - timedelta(days=32)
    subscription = billing.buy_subscription(account=workspace.account, pool_name="ded-renew", flavor=flavor, nodes=1,
                                            period="monthly", periods=1, auto_renew=True, now=bought)
    assert subscription.ends_at < timezone.now()  # due: the next process_subscriptions renews it

    blocker = blocker_connection()
    with blocker.cursor() as cursor:
        cursor.execute("INSERT INTO billing_ledgerentry (account_id, kind, amount, balance_after, key, description, "
                       "created_at) VALUES (%s, 'subscription', 0, 0, %s, '', now())",
                       [str(workspace.account_id), f"subscription:{subscription.pk}:renewal:1"])
    first = start_worker("first")
    send_as_beat("billing.tasks.process_subscriptions", queue)  # every minute
    pid = wait_for(lambda: blocked_session('INSERT INTO "billing_ledgerentry"'),
                   "the renewal to block on its ledger entry", first.log)
    first.kill()
    blocker.rollback()
    blocker.close()
    wait_for(lambda: gone(pid[0]), "the killed worker's session to end")

    killed = Subscription.objects.get(pk=subscription.pk)
    assert (killed.status, killed.periods, killed.ends_at, killed.paid) == (
        "active", 1, subscription.ends_at, Decimal("1750.00"))
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("8250.00")
    assert LedgerEntry.objects.filter(account_id=workspace.account_id, kind="subscription").count() == 1

    second = start_worker("second")
    send_as_beat("billing.tasks.process_subscriptions", queue)  # its next run
    wait_for(lambda: Subscription.objects.get(pk=subscription.pk).periods == 2, "the renewal", second.log)
    assert billing.process_subscriptions()["renewed"] == 0  # renewed once: not due any more
    renewed = Subscription.objects.get(pk=subscription.pk)
    assert (renewed.status, renewed.paid) == ("active", Decimal("3500.00"))
    assert renewed.ends_at > timezone.now()
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("6500.00")
    assert list(LedgerEntry.objects.filter(account_id=workspace.account_id, kind="subscription")
                .order_by("created_at").values_list("key", flat=True)) == [
        f"subscription:{subscription.pk}:purchase", f"subscription:{subscription.pk}:renewal:1"]
    assert Charge.objects.filter(account_id=workspace.account_id).count() == 2
    assert [e.reason for e in renewed.events.order_by("created_at")] == ["Purchased", "Renewed"]

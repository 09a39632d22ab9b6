"""Migration 0005 regroups the lines of rating runs written before it by workload, and back;
0006 keeps runs' lines as text, ledger and notification keys unique and packages' pages half
free, and goes back."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = [("billing", "0004_rated_usage_per_run")], [("billing", "0005_rated_usage_lines_by_workload")]
FLAT = [["2023-04-01", "ws", "w1", "train", "package", 1, 7, "0", 3600],
        ["2023-04-01", "ws", "w1", "train", "pay_per_use", 1, None, "2.5000", 1800],
        ["2023-05-01", "ws", "w2", "serve", "pay_per_use", 1, None, "2.5000", 7200]]
GROUPED = [["ws", "w1", "train", [["2023-04-01", "package", 1, 7, "0", 3600],
                                  ["2023-04-01", "pay_per_use", 1, None, "2.5000", 1800]]],
           ["ws", "w2", "serve", [["2023-05-01", "pay_per_use", 1, None, "2.5000", 7200]]]]


def migrate(targets=None):
    """Migrate to the targets (None: the latest) and return the apps as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def fillfactor(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def test_runs_lines_are_grouped_by_workload_and_back():
    account = WorkspaceFactory().account
    try:
        old = migrate(BEFORE).get_model("billing", "RatedUsage")
        run = old.objects.create(account_id=account.pk, after=0, through=3, first_period="2023-04-01",
                                 last_period="2023-05-01", lines=FLAT)
        new = migrate(AFTER).get_model("billing", "RatedUsage")
        assert new.objects.get(pk=run.pk).lines == GROUPED
        assert migrate(BEFORE).get_model("billing", "RatedUsage").objects.get(pk=run.pk).lines == FLAT
    finally:
        migrate()


def test_lines_as_text_keys_unique_and_room_for_updates_come_and_go():
    account = WorkspaceFactory().account
    try:
        assert fillfactor("billing_package") == fillfactor("billing_billingaccount") == ["fillfactor=50"]
        before = migrate(AFTER)
        assert fillfactor("billing_package") is None
        before.get_model("billing", "LedgerEntry").objects.create(account_id=account.pk, kind="top_up", amount=1,
                                                                  balance_after=1, key="k")
        run = before.get_model("billing", "RatedUsage").objects.create(
            account_id=account.pk, after=0, through=3, first_period="2023-04-01", last_period="2023-05-01",
            lines=GROUPED)
        apps = migrate()
        assert fillfactor("billing_package") == ["fillfactor=50"]
        assert apps.get_model("billing", "RatedUsage").objects.get(pk=run.pk).lines == GROUPED
        assert migrate(AFTER).get_model("billing", "RatedUsage").objects.get(pk=run.pk).lines == GROUPED
        apps = migrate()
        for model, fields in (("LedgerEntry", {"kind": "top_up", "amount": 1, "balance_after": 2}),
                              ("Notification", {"kind": "k", "subject": "s", "message": "m"})):
            apps.get_model("billing", model).objects.create(account_id=account.pk, key="once", **fields)
            with pytest.raises(IntegrityError), transaction.atomic():
                apps.get_model("billing", model).objects.create(account_id=account.pk, key="once", **fields)
    finally:
        migrate()

"""Migration 0005 regroups the lines of rating runs written before it by workload, and back."""

import pytest
from django.db import connection
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


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


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
        migrate(AFTER)

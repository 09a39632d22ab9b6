"""A rating worker killed in the middle of its transaction leaves nothing behind, and the next run
charges once: killed while it writes the last part of its accounts (the parts before written
whole, and of the last its runs, package use and balances, but not yet its ledger entries)."""

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

from billing import services
from billing.models import BillingAccount, LedgerEntry, Package, RatedUsage, UsageRecord
from billing.services import usage_rating
from tests.billing.helpers import at, fund, priced_cpu_flavor, public_pool, ran
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
RATER = "import django; django.setup(); from billing import services; services.rate_usage()"


def wait_for(query, params, until, what):
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(query, params)
            row = cursor.fetchone()
            if until(row):
                return row
            time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_killed_rater_leaves_nothing_half_charged():
    flavor = priced_cpu_flavor(hourly="2.00")
    pool = public_pool(flavor, nodes=50)
    offer = services.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("5.00"))
    workspaces = [WorkspaceFactory() for _ in range(usage_rating.RATED_FIRST + 2)]
    for number, workspace in enumerate(workspaces):
        fund(workspace.account, "100.00")
        services.buy_package(account=workspace.account, offer=offer, now=at("2023-04-01T00:00:00"))
        ran(workspace, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T03:00:00", name=f"job-{number}")
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    last = UsageRecord.objects.order_by("pk").values_list("pk", flat=True).last()
    database = connection.settings_dict["NAME"]
    # Accounts are rated in the order of their ids: the last one is in the last part.
    blocked = max(str(workspace.account_id) for workspace in workspaces)

    # Another transaction holds the ledger key the rater is about to insert, so the rater blocks
    # right there, with everything else of its run already written but not committed.
    blocker = psycopg2.connect(host=connection.settings_dict["HOST"], port=connection.settings_dict["PORT"],
                               user=connection.settings_dict["USER"], dbname=database)
    with blocker.cursor() as cursor:
        cursor.execute("INSERT INTO billing_ledgerentry (account_id, kind, amount, balance_after, key, description, "
                       "created_at) VALUES (%s, 'pay_per_use', 0, 0, %s, '', now())",
                       [blocked, f"usage:{blocked}:1-{last}"])
    env = {**os.environ, "DATABASE_URL": f"postgres://{connection.settings_dict['USER']}@"
                                         f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}/"
                                         f"{database}"}
    rater = subprocess.Popen([sys.executable, "-c", RATER], cwd=ROOT, env=env)
    try:
        (pid,) = wait_for("SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                          "AND query LIKE 'COPY \"billing_ledgerentry\"%%'", [database],
                          lambda row: row is not None, "the rater to block on its ledger entries")
        rater.kill()
        rater.wait()
    finally:
        blocker.rollback()
        blocker.close()
    wait_for("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid], lambda row: row[0] == 0,
             "the killed rater's session to end")

    assert set(Package.objects.values_list("node_seconds_used", flat=True)) == {0}
    assert not RatedUsage.objects.exists()
    assert set(BillingAccount.objects.values_list("balance", "rated_through_id")) == {(Decimal("95.00"), 0)}
    assert not LedgerEntry.objects.filter(kind="pay_per_use").exists()

    assert services.rate_usage() == 3 * len(workspaces)
    assert set(Package.objects.values_list("node_seconds_used", flat=True)) == {3600}
    assert set(BillingAccount.objects.values_list("balance", flat=True)) == {Decimal("91.00")}
    assert LedgerEntry.objects.filter(kind="pay_per_use").count() == len(workspaces)

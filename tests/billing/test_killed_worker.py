"""A rating worker killed in the middle of its transaction (after it wrote charge lines, package
use and the balance, before its ledger entry) leaves nothing behind; the next run charges once."""

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
    pool = public_pool(flavor)
    workspace = WorkspaceFactory()
    fund(workspace.account, "100.00")
    offer = services.save_package_offer(name="cpu-1h", family="cpu", node_hours=1, price=Decimal("5.00"))
    services.buy_package(account=workspace.account, offer=offer, now=at("2023-04-01T00:00:00"))
    ran(workspace, pool, flavor, start="2023-04-02T00:00:00", end="2023-04-02T03:00:00")
    services.meter_usage(now=at("2023-04-03T00:00:00"))
    last = UsageRecord.objects.order_by("pk").values_list("pk", flat=True).last()
    database = connection.settings_dict["NAME"]

    # Another transaction holds the ledger key the rater is about to insert, so the rater blocks
    # right there, with everything else of its run already written but not committed.
    blocker = psycopg2.connect(host=connection.settings_dict["HOST"], port=connection.settings_dict["PORT"],
                               user=connection.settings_dict["USER"], dbname=database)
    with blocker.cursor() as cursor:
        cursor.execute("INSERT INTO billing_ledgerentry (account_id, kind, amount, balance_after, key, description, "
                       "created_at) VALUES (%s, 'pay_per_use', 0, 0, %s, '', now())",
                       [str(workspace.account_id), f"usage:{workspace.account_id}:1-{last}"])
    env = {**os.environ, "DATABASE_URL": f"postgres://{connection.settings_dict['USER']}@"
                                         f"{connection.settings_dict['HOST']}:{connection.settings_dict['PORT']}/"
                                         f"{database}"}
    rater = subprocess.Popen([sys.executable, "-c", RATER], cwd=ROOT, env=env)
    try:
        (pid,) = wait_for("SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                          "AND query LIKE 'COPY \"billing_ledgerentry\"%%'", [database],
                          lambda row: row is not None, "the rater to block on its ledger entry")
        rater.kill()
        rater.wait()
    finally:
        blocker.rollback()
        blocker.close()
    wait_for("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid], lambda row: row[0] == 0,
             "the killed rater's session to end")

    assert Package.objects.get().node_seconds_used == 0
    assert not RatedUsage.objects.exists()
    billing = BillingAccount.objects.get(pk=workspace.account_id)
    assert (billing.balance, billing.rated_through_id) == (Decimal("95.00"), 0)
    assert not LedgerEntry.objects.filter(kind="pay_per_use").exists()

    assert services.rate_usage() == 3
    assert Package.objects.get().node_seconds_used == 3600
    assert BillingAccount.objects.get(pk=workspace.account_id).balance == Decimal("91.00")
    assert LedgerEntry.objects.filter(kind="pay_per_use").count() == 1

"""Money rows keep their database foreign keys: a ledger entry, charge, rated usage or notification
that names an account (or a charge that names a workspace, flavor or package) that does not exist
is refused by the database itself, whatever wrote it (the ORM, COPY or hand-written SQL)."""

import uuid
from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import Charge, LedgerEntry, Notification, RatedTokenUsage, RatedUsage

pytestmark = pytest.mark.django_db

MISSING = uuid.uuid4()


def refused(row) -> bool:
    try:
        with transaction.atomic():
            type(row).objects.bulk_create([row])
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # Django's keys are checked at commit
    except IntegrityError:
        return True
    return False


@pytest.mark.parametrize("row", [
    LedgerEntry(account_id=MISSING, kind="top_up", amount=1, balance_after=1, key="k"),
    Notification(account_id=MISSING, kind="k", subject="s", message="m", key="k"),
    RatedUsage(account_id=MISSING, after=0, through=1, first_period=date(2023, 4, 1), last_period=date(2023, 4, 1)),
    RatedTokenUsage(account_id=MISSING, after=0, through=1, first_period=date(2023, 4, 1),
                    last_period=date(2023, 4, 1)),
], ids=lambda row: type(row).__name__)
def test_money_naming_a_missing_account_is_refused_by_the_database(row):
    assert refused(row)


@pytest.mark.parametrize("reference", ["account_id", "workspace_id", "flavor_id", "package_id"])
def test_a_charge_naming_a_missing_row_is_refused_by_the_database(workspace, reference):
    values = {"account_id": workspace.account_id, reference: -1 if reference in ("flavor_id", "package_id")
              else MISSING}
    charge = Charge(period=date(2023, 4, 1), resource_type="package", resource_id="1", resource_name="p",
                    mode="package", unit="package", unit_price=1, key=f"charge-{reference}", **values)
    assert refused(charge)

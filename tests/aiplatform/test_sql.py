"""The COPY writer shared by imports and rating: every kind of value it is given comes back as
written, through PostgreSQL's own parsing of COPY's text format; and model rows inserted by it."""

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection, models, transaction

from aiplatform import sql
from billing.models import LedgerEntry
from tests.factories import WorkspaceFactory


class Status(models.TextChoices):
    DONE = "done"


@pytest.mark.django_db
def test_copy_rows_round_trips_every_kind_of_value():
    when = datetime(2026, 11, 23, 15, 0, 0, 123456, tzinfo=UTC)
    key = uuid.uuid4()
    days = [date(2026, 11, 1), None, date(2000, 2, 29), date(1999, 12, 31)]
    rows = [
        ("plain", None, {"a": [1, "x\ty"], "big": 2**70}, [{"name": "c\\a\nt"}], when, 7, Decimal("1.25"), key,
         True, Status.DONE),
        ("tab\tnew\nline\rback\\slash", "", {}, [], None, -1, Decimal("0"), None, False, ""),
        ("ünïcode ✓", "\\N", {"quote": 'say "hi"'}, ["\\"], when, 2**40, None, key, None, "x"),
        ("day", "2026-11-01", {}, [], when, 0, Decimal("-3.5"), key, True, Status.DONE.value),
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE copied (n serial, t text, u text, j jsonb, l jsonb, w timestamptz, i bigint,"
            " d numeric, k uuid, b boolean, s text, day date)"
        )
        sql.copy_rows(cursor, "copied", ["t", "u", "j", "l", "w", "i", "d", "k", "b", "s", "day"],
                      [(*row, day) for row, day in zip(rows, days, strict=True)])
        cursor.execute("SELECT t, u, j::text, l::text, w, i, d, k, b, s, day FROM copied ORDER BY n")
        back = cursor.fetchall()
    for written, read in zip(rows, back, strict=True):
        text, maybe, mapping, listing, when_read, number, amount, uid, flag, choice, _ = read
        assert (text, maybe, when_read, number, amount, flag, choice) == (
            written[0], written[1], written[4], written[5], written[6], written[8], written[9])
        assert (json.loads(mapping), json.loads(listing)) == (written[2], written[3])
        assert (str(uid) if uid else None) == (str(written[7]) if written[7] else None)
    assert [read[-1] for read in back] == days


@pytest.mark.django_db
def test_copy_texts_takes_rows_made_ahead_and_nothing_for_no_rows():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copied (t text, j jsonb, i bigint)")
        sql.copy_rows(cursor, "copied", ["t", "j", "i"], [])
        made = [sql.copy_text(("x\ty", {"ü": 1}, None)), sql.copy_text(("z", [], 5))]
        sql.copy_texts(cursor, "copied", ["t", "j", "i"], (f"{text}" for text in made))
        cursor.execute("SELECT t, j::text, i FROM copied ORDER BY t")
        assert cursor.fetchall() == [("x\ty", '{"ü": 1}', None), ("z", "[]", 5)]


@pytest.mark.django_db
def test_insert_rows_writes_model_rows_by_attribute_name_and_nothing_for_no_rows():
    account = WorkspaceFactory().account
    when = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    fields = ("account_id", "kind", "amount", "balance_after", "key", "description", "created_at")
    sql.insert_rows(LedgerEntry, fields, [])
    sql.insert_rows(LedgerEntry, fields, [
        (str(account.pk), "pay_per_use", Decimal("-1.2345678901"), Decimal("8.7654321099"), "k1", "tab\there", when),
        (account.pk, "top_up", Decimal("10"), Decimal("10"), "k2", "", when)])
    assert list(LedgerEntry.objects.order_by("key").values_list(*fields)) == [
        (account.pk, "pay_per_use", Decimal("-1.2345678901"), Decimal("8.7654321099"), "k1", "tab\there", when),
        (account.pk, "top_up", Decimal("10"), Decimal("10"), "k2", "", when)]


@pytest.mark.django_db
def test_copy_block_is_written_ahead_and_copied_in_one_piece():
    block = sql.copy_block([("x\ty", {"ü": 1}, None), ("z", [], 5)])
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copied (t text, j jsonb, i bigint)")
        sql.copy_block_to(cursor, "copied", ["t", "j", "i"], "")
        sql.copy_block_to(cursor, "copied", ["t", "j", "i"], block)
        cursor.execute("SELECT t, j::text, i FROM copied ORDER BY t")
        assert cursor.fetchall() == [("x\ty", '{"ü": 1}', None), ("z", "[]", 5)]


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "values"), [
    ("text", ['plain', 'say "hi"', "back\\slash", "a,b", "{braces}", "NULL", "", "ünïcode ✓", " spaced "]),
    ("text", ["quoted \\\" both", None, "x"]),
    ("bigint", [1, -2, 2**62, None]),
    ("numeric", [Decimal("9061.7600000000"), Decimal("-0.0000000001"), Decimal("0E-10")]),
    ("timestamptz", [datetime(2026, 12, 2, 18, 0, 0, 123456, tzinfo=UTC), None]),
    ("uuid", [str(uuid.UUID(int=1)), str(uuid.UUID(int=2**127))]),
    ("text", []),
])
def test_array_literals_read_back_as_the_values_they_were_made_of(kind, values):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT %s::{kind}[]", [sql.array_literal(values)])
        (read,) = cursor.fetchone()
    assert [str(v) if kind == "uuid" else v for v in read] == values


@pytest.mark.django_db(transaction=True)
def test_set_local_tunes_one_transaction_and_knows_its_settings():
    def setting(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    before = setting("work_mem")
    with transaction.atomic():
        sql.set_local(work_mem="64MB", synchronous_commit="off")
        assert (setting("work_mem"), setting("synchronous_commit")) == ("64MB", "off")
    assert setting("work_mem") == before
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        sql.set_local(work_mem="64MB")
    with transaction.atomic(), pytest.raises(ValueError, match="statement_timeout"):
        sql.set_local(statement_timeout="0")


@pytest.mark.django_db
def test_analyze_gathers_statistics_of_the_columns_named():
    account = WorkspaceFactory().account
    for number in range(3):
        LedgerEntry.objects.create(account=account, kind="top_up", amount=Decimal(number), balance_after=0,
                                   key=f"k{number}")
    sql.analyze(LedgerEntry, ["kind", "amount"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [LedgerEntry._meta.db_table])
        assert {name for (name,) in cursor.fetchall()} == {"kind", "amount"}

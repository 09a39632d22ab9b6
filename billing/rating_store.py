"""The rating store: what rating reads and writes, as named rows, and every statement billing
writes by hand. Each statement takes named parameters (`%(name)s`); rows go to PostgreSQL as one
array per field (`unnest`), the arrays' names and types derived from the row's fields, or as a
block of COPY text whose columns are the row's fields. On other databases (the embedded SQLite)
the same reads and writes go through the ORM.

Rating runs in three steps, each with its own rows: read (UsageSummary, UsageRecordRow; rating.py),
rate (pure Python, rating.py and services), write (Rated: RunRow, EntryRow, Deduction, AccountMove,
Notice). `prepare` turns Rated rows into what the writer binds, in a helper thread
(aiplatform.process.thread_alongside) while the database writes the rows prepared before."""

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

from django.db import connection
from django.db.models import Count, Max, Min

from aiplatform import jsoncodec
from aiplatform import sql as aiplatform_sql
from aiplatform.models import Workspace
from resourcepools.models import Flavor, PodSet, PoolKind, ResourcePool, Workload

from .models import BillingAccount, LedgerEntry, Notification, Package, RatedUsage, UsageRecord
from .rating import UsageRecordRow, UsageSummary, micros

# --- rows ---------------------------------------------------------------------------------------


class Notice(NamedTuple):
    """A notification to leave once per key (Notification's fields)."""

    account_id: str
    kind: str
    subject: str
    message: str
    key: str


class RunRow(NamedTuple):
    """A rating run of one account: a RatedUsage row (its fields, by name)."""

    account_id: str
    after: int
    through: int
    first_period: date
    last_period: date
    lines: list
    pay_per_use: Decimal
    created_at: datetime


class EntryRow(NamedTuple):
    """A ledger entry of a rating run's debit: a LedgerEntry row (its fields, by name)."""

    account_id: str
    kind: str
    amount: Decimal
    balance_after: Decimal
    key: str
    description: str
    created_at: datetime


class Deduction(NamedTuple):
    """A package's node-seconds used after rating took from it."""

    id: int
    used: int


class AccountMove(NamedTuple):
    """An account's balance after a rating run, and since when it is in arrears (None: it is not)."""

    account_id: str
    balance: Decimal
    arrears_since: datetime | None


class Prepared(NamedTuple):
    """Rated rows as the PostgreSQL writer binds them: runs and entries as COPY text, the rest as
    named array parameters (`arrays`)."""

    runs: str
    entries: str
    arrays: dict[str, str]


class Rated(NamedTuple):
    """Some accounts' usage rated, ready to write. `prepared` is set for PostgreSQL (prepare)."""

    runs: list[RunRow]
    entries: list[EntryRow]
    deductions: list[Deduction]
    moves: list[AccountMove]
    warnings: list[Notice]
    prepared: Prepared | None = None


# PostgreSQL types of the rows' fields where they are bound as arrays.
_ARRAY_TYPES = {
    Notice: {"account_id": "uuid", "kind": "text", "subject": "text", "message": "text", "key": "text"},
    Deduction: {"id": "bigint", "used": "bigint"},
    AccountMove: {"account_id": "uuid", "balance": "numeric", "arrears_since": "timestamptz"},
}


def _unnest(row_type, name: str) -> str:
    """`unnest(%(name_field)s::type[], …) AS name(field, …)` for the fields of a row type."""
    types = _ARRAY_TYPES[row_type]
    arrays = ", ".join(f"%({name}_{field})s::{types[field]}[]" for field in row_type._fields)
    return f"unnest({arrays}) AS {name}({', '.join(row_type._fields)})"


def arrays(row_type, name: str, rows: list) -> dict[str, str]:
    """The parameters of `_unnest(row_type, name)` for these rows: a PostgreSQL array literal per field."""
    return {f"{name}_{field}": aiplatform_sql.array_literal([getattr(row, field) for row in rows])
            for field in row_type._fields}


# --- statements (PostgreSQL) --------------------------------------------------------------------

# The usage records with ids in (after, through] summed up per pod set, replicas and node-seconds
# (the usage_runs index serves it), with the pod set's flavor, pool kind and owners: a pod set's
# flavor and its workload's pool never change, so they are joined to the summaries rather than
# grouped by, which costs the aggregate a fifth of its time. Columns are UsageSummary's fields.
# `{accounts}` is empty (the range read whole) or ACCOUNTS_OF_RECORDS.
SUMMARIES = f"""
SELECT summary.pod_set_id, pod_set.flavor_id, pool.kind = %(dedicated_kind)s AS dedicated, summary.replicas,
       summary.node_seconds, summary.records,
       CAST(EXTRACT(EPOCH FROM summary.first) * 1000000 AS bigint) AS first,
       CAST(EXTRACT(EPOCH FROM summary.last) * 1000000 AS bigint) AS last,
       flavor.family, CAST(workspace.account_id AS text) AS account_id,
       CAST(workload.workspace_id AS text) AS workspace_id, CAST(workload.id AS text) AS workload_id,
       workload.name AS workload_name
FROM (
    SELECT pod_set_id, replicas, node_seconds, COUNT(*) AS records, MIN(started_at) AS first,
           MAX(started_at) AS last
    FROM {UsageRecord._meta.db_table}
    WHERE id > %(after)s AND id <= %(through)s{{accounts}}
    GROUP BY pod_set_id, replicas, node_seconds
) summary
JOIN {PodSet._meta.db_table} pod_set ON pod_set.id = summary.pod_set_id
JOIN {Workload._meta.db_table} workload ON workload.id = pod_set.workload_id
JOIN {Workspace._meta.db_table} workspace ON workspace.id = workload.workspace_id
JOIN {ResourcePool._meta.db_table} pool ON pool.id = workload.pool_id
JOIN {Flavor._meta.db_table} flavor ON flavor.id = pod_set.flavor_id"""
ACCOUNTS_OF_RECORDS = " AND account_id = ANY(%(account_ids)s::uuid[])"

# New notifications (Notice rows), created at a moment; keys seen before are skipped. Returns the
# keys created. Rating runs it inside its own statement (DEDUCT_MOVE_WARN).
NEW_NOTIFICATIONS = f"""
INSERT INTO {Notification._meta.db_table} (account_id, kind, subject, message, key, created_at)
SELECT account_id, kind, subject, message, key, %(notified_at)s
FROM {_unnest(Notice, "notice")}
ON CONFLICT (key) DO NOTHING RETURNING key"""

# A rating run's packages' deductions (Deduction rows), the accounts' balances and cursors
# (AccountMove rows, all moved to `through`) and the warnings (NEW_NOTIFICATIONS), in one statement.
DEDUCT_MOVE_WARN = f"""
WITH used AS (
    UPDATE {Package._meta.db_table} package SET node_seconds_used = deduction.used
    FROM {_unnest(Deduction, "deduction")} WHERE package.id = deduction.id
), cursors AS (
    UPDATE {BillingAccount._meta.db_table} billing
    SET rated_through_id = %(through)s, updated_at = %(updated_at)s, balance = move.balance,
        arrears_since = move.arrears_since
    FROM {_unnest(AccountMove, "move")} WHERE billing.account_id = move.account_id
){NEW_NOTIFICATIONS}"""


# --- reads --------------------------------------------------------------------------------------


def read_summaries(*, account_ids, after: int, through: int, whole_range: bool = False) -> list[UsageSummary]:
    """The accounts' usage records with ids in (after, through] summed up (SUMMARIES): full hours
    of a steady pod set come out as one summary. With `whole_range` the range is read whole and
    other accounts' summaries dropped, which beats testing each record's account when the range
    holds little else."""
    accounts = {str(account_id) for account_id in account_ids}
    if connection.vendor != "postgresql":
        return _summaries_by_orm(accounts=accounts, after=after, through=through)
    params = {"dedicated_kind": PoolKind.DEDICATED, "after": after, "through": through}
    if not whole_range:
        params["account_ids"] = aiplatform_sql.array_literal(sorted(accounts))
    with connection.cursor() as cursor:
        cursor.execute(SUMMARIES.format(accounts="" if whole_range else ACCOUNTS_OF_RECORDS), params)
        summaries = [UsageSummary(*row) for row in cursor.fetchall()]
    return [summary for summary in summaries if summary.account_id in accounts]


def _summaries_by_orm(*, accounts: set[str], after: int, through: int) -> list[UsageSummary]:
    records = UsageRecord.objects.filter(pk__gt=after, pk__lte=through, account_id__in=list(accounts)).order_by()
    return [UsageSummary(
        pod_set_id=row["pod_set_id"], flavor_id=row["pod_set__flavor_id"],
        dedicated=row["workload__pool__kind"] == PoolKind.DEDICATED, replicas=row["replicas"],
        node_seconds=row["node_seconds"], records=row["records"], first=micros(row["first"]),
        last=micros(row["last"]), family=row["pod_set__flavor__family"],
        account_id=str(row["workload__workspace__account_id"]), workspace_id=str(row["workload__workspace_id"]),
        workload_id=str(row["workload_id"]), workload_name=row["workload__name"],
    ) for row in records.values(
        "pod_set_id", "replicas", "node_seconds", "pod_set__flavor_id", "workload__pool__kind",
        "pod_set__flavor__family", "workload__workspace__account_id", "workload__workspace_id", "workload_id",
        "workload__name").annotate(records=Count("id"), first=Min("started_at"), last=Max("started_at"))]


def read_records(*, pod_set_ids, account_ids, after: int, through: int) -> list[UsageRecordRow]:
    """The records of some pod sets with ids in (after, through], one by one."""
    records = UsageRecord.objects.filter(pk__gt=after, pk__lte=through, account_id__in=list(account_ids),
                                         pod_set_id__in=list(pod_set_ids)).order_by()
    return [UsageRecordRow(pod_set_id=pod_set_id, flavor_id=flavor_id, dedicated=dedicated, started=micros(started_at),
                           node_seconds=node_seconds)
            for pod_set_id, flavor_id, dedicated, started_at, node_seconds in records.values_list(
                "pod_set_id", "flavor_id", "dedicated", "started_at", "node_seconds")]


# --- writes -------------------------------------------------------------------------------------


def insert_new_notifications(*, notices: list[Notice], now: datetime) -> set[str]:
    """Insert the notices whose keys are new (NEW_NOTIFICATIONS); returns their keys."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(NEW_NOTIFICATIONS, {"notified_at": now, **arrays(Notice, "notice", notices)})
            return {key for (key,) in cursor.fetchall()}
    return _new_notifications_by_orm(notices=notices, now=now)


def _new_notifications_by_orm(*, notices: list[Notice], now: datetime) -> set[str]:
    # The embedded database has one writer at a time: the keys it lacks now are those created.
    keys = {notice.key for notice in notices}
    known = set(Notification.objects.filter(key__in=keys).values_list("key", flat=True))
    Notification.objects.bulk_create([Notification(**notice._asdict()) for notice in notices
                                      if notice.key not in known], ignore_conflicts=True)
    Notification.objects.filter(key__in=keys - known).update(created_at=now)  # bulk_create sets its own
    return keys - known


def prepare(rated: Rated) -> Rated:
    """Rated rows with what the PostgreSQL writer binds (pure Python: it runs in the helper thread).
    Runs and ledger entries become COPY text, each kind by its own format (looking up each
    value's converter, copy_text, cost twice the time); the rest arrays, field by field."""
    escape = aiplatform_sql.copy_escape
    runs = "".join([
        f"{run.account_id}\t{run.after}\t{run.through}\t{run.first_period}\t{run.last_period}\t"
        f"{escape(jsoncodec.dumps(run.lines).decode())}\t{run.pay_per_use}\t{run.created_at.isoformat()}\n"
        for run in rated.runs])
    entries = "".join([
        f"{entry.account_id}\t{entry.kind}\t{entry.amount}\t{entry.balance_after}\t{escape(entry.key)}\t"
        f"{escape(entry.description)}\t{entry.created_at.isoformat()}\n" for entry in rated.entries])
    return rated._replace(prepared=Prepared(runs, entries, {
        **arrays(Deduction, "deduction", rated.deductions), **arrays(AccountMove, "move", rated.moves),
        **arrays(Notice, "notice", rated.warnings)}))


def write_rated(*, rated: Rated, through: int, now: datetime, notified_at: datetime) -> set[str]:
    """Write what rating made of some accounts: its runs, the packages' deductions, the accounts'
    balances and cursors (moved to `through`), the warnings and the ledger entries. Returns the
    keys of the warnings created."""
    if connection.vendor != "postgresql":
        return _write_by_orm(rated=rated, through=through, now=now, notified_at=notified_at)
    prepared = rated.prepared or prepare(rated).prepared
    with connection.cursor() as cursor:
        aiplatform_sql.copy_block_into(cursor, RatedUsage, RunRow._fields, prepared.runs)
        cursor.execute(DEDUCT_MOVE_WARN, {"through": through, "updated_at": now, "notified_at": notified_at,
                                          **prepared.arrays})
        created = {key for (key,) in cursor.fetchall()}
        aiplatform_sql.copy_block_into(cursor, LedgerEntry, EntryRow._fields, prepared.entries)
    return created


def _write_by_orm(*, rated: Rated, through: int, now: datetime, notified_at: datetime) -> set[str]:
    # bulk_create stamps created_at itself: the rows' own moment (one per Rated) is set after.
    RatedUsage.objects.bulk_create([RatedUsage(**run._asdict()) for run in rated.runs])
    if rated.runs:
        RatedUsage.objects.filter(account_id__in=[run.account_id for run in rated.runs], through=through).update(
            created_at=rated.runs[0].created_at)
    Package.objects.bulk_update([Package(pk=d.id, node_seconds_used=d.used) for d in rated.deductions],
                                ["node_seconds_used"], batch_size=500)
    BillingAccount.objects.bulk_update([
        BillingAccount(account_id=UUID(move.account_id), balance=move.balance, arrears_since=move.arrears_since,
                       rated_through_id=through, updated_at=now) for move in rated.moves],
        ["balance", "arrears_since", "rated_through_id", "updated_at"], batch_size=500)
    created = _new_notifications_by_orm(notices=rated.warnings, now=notified_at)
    LedgerEntry.objects.bulk_create([LedgerEntry(**entry._asdict()) for entry in rated.entries])
    if rated.entries:
        LedgerEntry.objects.filter(key__in=[entry.key for entry in rated.entries]).update(
            created_at=rated.entries[0].created_at)
    return created

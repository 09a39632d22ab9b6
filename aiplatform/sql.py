"""Many rows in one statement, on PostgreSQL and on the embedded SQLite alike: Django's
bulk_update builds a CASE per row and takes seconds for ten thousand rows, so services that
write many rows send them as one VALUES list instead."""

from django.db import connection

# SQLite binds at most 32,766 parameters in one statement; PostgreSQL 65,535.
MAX_PARAMETERS = 32_000


def chunks(rows: list[tuple]) -> list[list[tuple]]:
    """The rows in slices small enough for one statement each."""
    if not rows:
        return []
    size = max(MAX_PARAMETERS // len(rows[0]), 1)
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def values(rows: list[tuple], types: tuple[str | None, ...]) -> tuple[str, list]:
    """`VALUES (%s, …), …` for the rows and its parameters. PostgreSQL types parameters of a
    VALUES list as text unless told, so each column with a type gets a cast there."""
    postgres = connection.vendor == "postgresql"
    row = "(" + ", ".join(f"%s::{t}" if postgres and t else "%s" for t in types) + ")"
    params = [value for r in rows for value in r]
    return "VALUES " + ", ".join([row] * len(rows)), params


def prepared(fields, row: tuple) -> tuple:
    """A row of model values as the database takes them (a UUID, a Decimal or a time on SQLite)."""
    return tuple(field.get_db_prep_value(value, connection) for field, value in zip(fields, row, strict=True))

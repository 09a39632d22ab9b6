"""Hand-written SQL where the ORM costs too much: the hottest reads (the API key of every
request, a page of samples), whose compile by the ORM costs more CPU than the database spends
running them, and writes of many rows at once (Django's bulk_update builds a CASE per row and
takes seconds for ten thousand). What the readers give back is what the ORM would have
returned; the writers work on PostgreSQL and on the embedded SQLite alike."""

import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import F, Lookup, TextField
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import DataContains, KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from . import jsoncodec

# Parameters one statement may bind: SQLite at most 32,766, PostgreSQL 65,535.
MAX_PARAMETERS = {"sqlite": 32_000, "postgresql": 65_000}

# Select lists, and readers of each connection (each thread has its own), keyed by the fields'
# identities: hashing a field runs Python code, and looking up every field's converters cost
# more than reading the row. Each entry keeps its fields, so their identities stay theirs. The
# readers use the connection itself, not django.db.connection: each use of that proxy is a
# thread-local look-up, and rows are read column by column.
_select_lists: dict = {}


def columns(alias: str, fields) -> str:
    """The select list of these model fields' columns of the table aliased `alias`."""
    fields = tuple(fields)
    key = (alias, *map(id, fields))
    if key not in _select_lists:
        quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
        _select_lists[key] = fields, ", ".join(f"{alias}.{quote(field.column)}" for field in fields)
    return _select_lists[key][1]


def reader(fields):
    """A function turning a row of these model fields' columns, in order, into their values as
    the ORM returns them: converted by each field and the database backend (on PostgreSQL most
    need nothing, so a page of rows is hardly touched)."""
    connection = connections[DEFAULT_DB_ALIAS]
    fields = tuple(fields)
    key = tuple(map(id, fields))
    # Kept on the connection, which its readers refer to: they go when it goes.
    known = connection.__dict__.setdefault("aiplatform_readers", {})
    if key not in known:
        known[key] = fields, _reader(connection, fields)
    return known[key][1]


def _reader(connection, fields: tuple):
    steps = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            steps.append((index, column, converters))

    def read(row) -> list:
        values = list(row)
        for index, column, converters in steps:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return values

    return read


def instance(model, fields, values):
    """The instance of `model` that the ORM builds from these fields' raw column values."""
    return model.from_db(DEFAULT_DB_ALIAS, [field.attname for field in fields], reader(fields)(values))


def uuid_text(name: str):
    """A uuid column, for values(): as text on PostgreSQL, which writes it as str() does, sparing
    a UUID object per row; the embedded SQLite's 32 hex digits come as UUIDs, which str() turns
    into the same text."""
    return Cast(name, TextField()) if connection.vendor == "postgresql" else F(name)


def uuids_in(ids):
    """The right side of an `__in` lookup on a uuid column: uuids as text, handed to PostgreSQL as
    one array, rather than each made a UUID by the ORM first (a thousand cost 3 ms)."""
    ids = list(ids)
    return RawSQL("SELECT unnest(%s::uuid[])", (ids,)) if connection.vendor == "postgresql" else ids


class JSONKeyEquals(Lookup):
    """A filter condition: the JSON object in a column has `key` set to the text `value`, given as
    `JSONKeyEquals(F("tags"), (key, value))`. PostgreSQL matches by containment (a GIN index
    serves it); databases without a containment lookup (the embedded SQLite) compare the key's
    text. Decided when the query is compiled, for the connection that runs it."""

    lookup_name = "key_equals"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        key, value = self.rhs
        if connection.features.supports_json_field_contains:
            return compiler.compile(DataContains(self.lhs, {key: value}))
        return compiler.compile(Exact(KeyTextTransform(key, self.lhs), value))


# Settings a transaction may tune for itself (SET LOCAL), with the values they may take: a name
# or value is never taken from outside this list, so the statement built from them is safe.
_LOCAL_SETTINGS = {"work_mem": ("64MB", "256MB"), "random_page_cost": ("1.1",), "synchronous_commit": ("off",)}


def set_local(**settings: str) -> None:
    """Tune the current transaction on PostgreSQL (SET LOCAL: it ends with the transaction), e.g.
    set_local(work_mem="64MB"); other databases have no such settings, and nothing is done."""
    if connection.vendor != "postgresql" or not settings:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("set_local tunes a transaction: call it inside transaction.atomic()")
    for name, value in settings.items():
        if value not in _LOCAL_SETTINGS.get(name, ()):
            raise ValueError(f"{name} = {value!r} is not a setting set_local knows ({_LOCAL_SETTINGS})")
    with connection.cursor() as cursor:
        cursor.execute("; ".join(f"SET LOCAL {name} = '{value}'" for name, value in settings.items()))


def analyze(model, columns=()) -> None:
    """Refresh the planner's statistics of a model's table (of some of its columns) on PostgreSQL,
    e.g. after a bulk load changed its size many times over; SQLite plans without them."""
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {quote(model._meta.db_table)}{f' ({names})' if names else ''}")


def chunks(rows: list[tuple]) -> list[list[tuple]]:
    """The rows in slices small enough for one statement each."""
    if not rows:
        return []
    size = max(MAX_PARAMETERS.get(connection.vendor, 32_000) // len(rows[0]), 1)
    return [rows[start:start + size] for start in range(0, len(rows), size)]


def values(rows: list[tuple], types: tuple[str | None, ...]) -> tuple[str, list]:
    """`VALUES (%s, …), …` for the rows and its parameters. PostgreSQL types parameters of a
    VALUES list as text unless told, so each column with a type gets a cast there."""
    postgres = connection.vendor == "postgresql"
    row = "(" + ", ".join(f"%s::{t}" if postgres and t else "%s" for t in types) + ")"
    params = [value for r in rows for value in r]
    return "VALUES " + ", ".join([row] * len(rows)), params


def copy_rows(cursor, table: str, columns, rows) -> None:
    """Write rows into a table through COPY: on PostgreSQL far faster than any INSERT."""
    copy_texts(cursor, table, columns, map(copy_text, rows))


def insert_rows(model, fields, rows) -> None:
    """Insert rows of these fields' values (by attribute name) into a model's table: by COPY on
    PostgreSQL, by bulk_create elsewhere. No model methods or signals run."""
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(fields, row, strict=True))) for row in rows])
        return
    with connection.cursor() as cursor:
        copy_block_into(cursor, model, fields, copy_block(rows))


def copy_block_into(cursor, model, fields, block: str) -> None:
    """COPY rows of these fields' values (by attribute name), as copy_block made them, into a
    model's table (on PostgreSQL)."""
    copy_block_to(cursor, model._meta.db_table, [model._meta.get_field(name).column for name in fields], block)


def copy_texts(cursor, table: str, columns, texts) -> None:
    """COPY rows given in COPY's text format (`copy_text`), e.g. made ahead of time."""
    texts = list(texts)
    if texts:
        copy_block_to(cursor, table, columns, "\n".join(texts) + "\n")


def copy_block(rows) -> str:
    """Rows as one block of COPY's text format, which may be made ahead of time (in another thread)."""
    return "".join([copy_text(row) + "\n" for row in rows])


def copy_block_to(cursor, table: str, columns, block: str) -> None:
    """COPY a block of rows (copy_block) into a table."""
    if block:
        # Handed over in one piece: read in 8 KB pieces, each would wait for the GIL again
        # while another thread (an import's reader or a rater) holds it.
        with cursor.db.wrap_database_errors:  # Django's own errors, as from any other statement
            cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', io.StringIO(block), len(block))


def array_literal(values) -> str:
    """Values as the text of a PostgreSQL array, to bind as one parameter (cast to its type): the
    database parses a thousand values at once rather than a thousand parameters, and the text
    may be made ahead of time (in another thread). None is NULL; text is quoted."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds == {str}:  # a column of text, without a look-up per value
        return "{" + ",".join([_array_quoted(value) for value in values]) + "}"
    if kinds <= {int, Decimal}:
        return "{" + ",".join(map(str, values)) + "}"
    return "{" + ",".join([_ARRAY_ITEM.get(type(value), _array_text)(value) for value in values]) + "}"


def _array_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_text(value) -> str:
    return _array_quoted(value.isoformat() if isinstance(value, datetime) else str(value))


_ARRAY_ITEM = {int: str, Decimal: str, type(None): lambda value: "NULL"}


def copy_text(row) -> str:
    """A row in COPY's text format, without its line end: each value converted by its type's
    converter, looked up once per value (the lines of 100,000 samples are 1.3 million values)."""
    convert = _COPY_TEXT.get
    return "\t".join([(convert(type(value)) or _copy_other)(value) for value in row])


def copy_escape(text: str) -> str:
    """Text as a value in COPY's text format."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _json_text(value) -> str:
    return copy_escape(jsoncodec.dumps(value).decode())


def _copy_other(value) -> str:
    """A value of a type without a converter of its own (subclasses among them) in COPY's text format."""
    if isinstance(value, str):
        return copy_escape(value)
    if isinstance(value, dict | list):
        return _json_text(value)
    if isinstance(value, datetime):
        return _isoformat(value)
    return str(value)


@lru_cache(maxsize=16)
def _isoformat(value: datetime) -> str:
    # The rows of a batch share their timestamps.
    return value.isoformat()


_COPY_NULL = "\\N"
_COPY_TEXT = {str: copy_escape, type(None): lambda value: _COPY_NULL, dict: _json_text, list: _json_text,
              datetime: _isoformat, int: str, bool: str, Decimal: str, UUID: str, date: str}

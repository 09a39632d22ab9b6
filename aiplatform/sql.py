"""Hand-written SQL for the hottest reads (the API key of every request, a page of samples):
building and compiling such a query with the ORM costs more CPU than the database spends
running it. What these helpers read back is what the ORM would have returned."""

from django.db import DEFAULT_DB_ALIAS, connections

# The connection itself, not django.db.connection: each use of that proxy is a thread-local
# look-up, and rows are read column by column.


def columns(alias: str, fields) -> str:
    """The select list of these model fields' columns of the table aliased `alias`."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in fields)


def reader(fields):
    """A function turning a row of these model fields' columns, in order, into their values as
    the ORM returns them: converted by each field and the database backend (on PostgreSQL most
    need nothing, so a page of rows is hardly touched)."""
    connection = connections[DEFAULT_DB_ALIAS]
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

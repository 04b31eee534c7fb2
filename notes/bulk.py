"""Rows written without the ORM's per-object work, the fastest way each database offers.

Multi-row INSERT ... RETURNING id; for many rows on PostgreSQL, the ids
drawn from the table's sequence in one query, then COPY, which skips
parsing and planning a statement per row and is about twice as fast for a
million notes. `notes.services` writes imports and seeding this way, and
also the one note, revision or tag row of an edit: compiling an INSERT is
most of what Model.save() costs. The values are written as given, so the
caller passes what the fields hold.
"""

import json
import os

from django.db import connections, router

from notesite.prepared import fetchall, run_sql


def default_writers(connection):
    """How many connections can usefully write batches at once.

    SQLite has one writer at a time, so one. PostgreSQL writes on a
    backend process per connection: one more writer than there are cores
    keeps them busy while each waits for its next batch (at most four).
    """
    if connection.vendor == "sqlite":
        return 1
    return min(4, (os.cpu_count() or 1) + 1)


# A few rows go in one INSERT; COPY pays off over many (it needs the ids first).
COPY_MIN_ROWS = 100


def insert_rows(model, rows):
    """INSERT `rows` (dicts of column name to value, all with the same keys); returns the new ids in order."""
    if not rows:
        return []
    connection = connections[router.db_for_write(model)]
    fields = [model._meta.get_field(column.removesuffix("_id")) for column in rows[0]]
    if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        return _copy_rows(connection, model, fields, rows)
    return _insert_rows(connection, model, fields, rows)


def insert_instance(model, row):
    """INSERT one row holding every column but the id; the instance, as Model.objects.create() returns it."""
    [row_id] = insert_rows(model, [row])
    values = {**row, model._meta.pk.attname: row_id}
    names = [field.attname for field in model._meta.concrete_fields]
    return model.from_db(router.db_for_write(model), names, [values[name] for name in names])


def _insert_rows(connection, model, fields, rows):
    # Only dates and JSON need the field's adaptation; the rest are stored as given.
    adapt = [
        (lambda value, field=field: field.get_db_prep_save(value, connection))
        if field.get_internal_type() in {"DateTimeField", "JSONField"}
        else None
        for field in fields
    ]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    row_placeholder = f"({', '.join(['%s'] * len(fields))})"
    # Few enough rows that the statement stays under 4 KiB, which drivers
    # parse once and cache.
    per_statement = max(1, min(connection.ops.bulk_batch_size(fields, rows), 3800 // (len(row_placeholder) + 2)))
    pk = connection.ops.quote_name(model._meta.pk.column)
    ids = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        params = [
            value if prepare is None else prepare(value)
            for row in chunk
            for prepare, value in zip(adapt, row.values(), strict=True)
        ]
        placeholders = ", ".join([row_placeholder] * len(chunk))
        sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES {placeholders} RETURNING {pk}"
        ids.extend(row[0] for row in run_sql(connection, sql, params, fetchall))
    return ids


def _copy_rows(connection, model, fields, rows):
    table, pk = model._meta.db_table, model._meta.pk.column
    is_json = [field.get_internal_type() == "JSONField" for field in fields]
    columns = ", ".join(connection.ops.quote_name(name) for name in [pk, *(field.column for field in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, len(rows)]
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for pk_value, row in zip(ids, rows, strict=True):
                copy.write_row(
                    (
                        pk_value,
                        *(
                            json.dumps(value) if json_field else value
                            for json_field, value in zip(is_json, row.values(), strict=True)
                        ),
                    )
                )
    return ids

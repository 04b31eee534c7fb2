"""JSON written by the database: a row's representation as one text column.

SQLite (json_object) and PostgreSQL (json_build_object) build JSON in C from
the columns they already hold, where Python would convert each value into an
object and then format it again. Each expression here writes a value exactly
as the API's JSON has it (notes.serializers.FastRepresentationMixin.sql_representation
chooses them from a serializer's fields; tests compare the two on both
databases).
"""

import datetime
import re

from django.db.models import Func, TextField

# The databases these expressions are written for.
VENDORS = {"sqlite", "postgresql"}

_KEY = re.compile(r"[a-z_]+")


class JSONObjectText(Func):
    """A JSON object, keys in the order given, as text.

    Not Django's JSONObject: on PostgreSQL that builds jsonb, which reorders
    the keys, and it answers a parsed value rather than the text.
    """

    output_field = TextField()

    def __init__(self, pairs):
        self.keys = [key for key, _ in pairs]
        # Keys are written into the SQL as literals: field names only.
        if not all(_KEY.fullmatch(key) for key in self.keys):
            raise ValueError(f"JSON keys must be field names: {self.keys}")
        super().__init__(*(expression for _, expression in pairs))

    def as_sql(self, compiler, connection, function="json_object", template="%s", **extra_context):
        members, params = [], []
        for key, expression in zip(self.keys, self.get_source_expressions(), strict=True):
            sql, member_params = compiler.compile(expression)
            members.append(f"'{key}', {sql}")
            params.extend(member_params)
        return template % f"{function}({', '.join(members)})", params

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="json_build_object", template="(%s)::text")


class JSONBoolean(Func):
    """A boolean column as true or false: SQLite keeps booleans as 0 and 1."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="json(CASE WHEN %(expressions)s THEN 'true' ELSE 'false' END)"
        )


class JSONColumn(Func):
    """A JSONField's value embedded as JSON, not as a string of it (SQLite stores it as text)."""

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="json(%(expressions)s)")


class TextConcat(Func):
    """Parts joined as text with ||, none of them null.

    Django's Concat wraps each part in COALESCE, for parts that may be null
    (on SQLite, ~7% of the time writing a page's notes).
    """

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = TextField()


def utc_timestamp(value):
    """A date-time as the API writes it (in Python what UTCTimestampText writes in SQL).

    The year always has four digits: strftime's %Y writes the year 999 as
    "999" on glibc, which no ISO 8601 parser reads back.
    """
    value = value.astimezone(datetime.UTC)
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S.%f}Z"


class UTCTimestampText(Func):
    """A date-time as the API writes it: 2026-11-24T10:00:00.123456Z, in UTC.

    SQLite holds Django's text, "2026-11-24 10:00:00.123456" in UTC, without
    the fraction when it is zero; PostgreSQL formats its timestamptz.
    """

    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # The fraction completed and the space made a T: three string
        # operations per value, where splitting it into parts took ten (a
        # fifth of the time SQLite spent writing a page).
        return self.as_sql(
            compiler, connection, template="replace(substr(%(expressions)s || '.000000', 1, 26), ' ', 'T') || 'Z'"
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="""to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
        )

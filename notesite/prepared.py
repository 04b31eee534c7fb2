"""Querysets compiled to SQL once and run many times: for the hottest statements.

Django's ORM spends ~200 µs turning even a primary-key lookup into SQL,
which on a token check or a note fetch is most of a request, and as much
again for each UPDATE or DELETE of an edit. These classes build their
queryset once with placeholder values, let the ORM compile it (once per
database), and later runs only swap the real values into that SQL, so the
SQL is always the ORM's own. PreparedQuery (objects) and PreparedValues
(values() rows) read rows back through the same compiler (converters,
select_related), so a run returns exactly what the queryset would;
PreparedUpdate prepares each value as update() would.

A run also skips Django's cursor wrapper when nothing watches queries
(run_sql, which notes.bulk and notes.feed use too).
"""

import functools
import threading
from collections.abc import Mapping

from django.db import connections, router, transaction
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import Model, sql
from django.db.models.deletion import Collector
from django.db.models.query import get_related_populators


class Prepared:
    """What the three kinds share: a queryset built from placeholders, plans kept per shape."""

    def __init__(self, model, build, placeholders):
        """`build(*placeholders)` returns the queryset; each placeholder must reach
        the SQL parameters unchanged and exactly once (plain equality lookups)."""
        self.model = model
        self.build = build
        self.placeholders = placeholders
        self._plans = {}
        self._lock = threading.Lock()

    def plan(self, shape, make):
        """The plan for `shape` (at least the database alias), made by `make(queryset)` on first use."""
        plan = self._plans.get(shape)
        if plan is None:
            with self._lock:
                if shape not in self._plans:
                    self._plans[shape] = make(self.build(*self.placeholders))
                plan = self._plans[shape]
        return plan


class PreparedQuery(Prepared):
    def first(self, *values):
        """The first object the queryset would give for `values`, or None."""
        alias = router.db_for_read(self.model)
        plan = self.plan(alias, lambda queryset: SelectPlan(queryset, alias, self.placeholders))
        row = run_sql(connections[alias], plan.sql, with_values(plan.params, plan.positions, values), fetchone)
        if row is None:
            return None
        if plan.converters:
            row = next(plan.compiler.apply_converters([row], plan.converters))
        instance = plan.model.from_db(alias, plan.init_list, row[plan.start : plan.end])
        for populator in plan.related_populators:
            populator.populate(row, instance)
        return instance


class PreparedValues(Prepared):
    """A values() queryset's rows, compiled once per database and per number of rows asked for."""

    def rows(self, *values, count, shape=()):
        """The first `count` rows the queryset would give for `values`: mappings equal to values()' dicts.

        `shape`: anything else the SQL depends on (a script prefix a reversed URL in it has).
        """
        alias = router.db_for_read(self.model)
        # A slice is written into the SQL (LIMIT 51), not passed as a parameter.
        shape = (alias, count, shape)
        plan = self.plan(shape, lambda queryset: ValuesPlan(queryset[:count], alias, self.placeholders))
        rows = run_sql(connections[alias], plan.sql, with_values(plan.params, plan.positions, values), fetchall)
        return [ConvertedOnRead(plan, row) for row in rows]


class ConvertedOnRead(Mapping):
    """A values() row whose columns are converted as they are first read: row["title"] or row.title.

    Converting is most of the cost of reading a row in Python (a date-time
    from SQLite's text is parsed and made aware); a page whose notes come
    as JSON from the database reads its cursor's columns from one row only.
    """

    __slots__ = ("_plan", "_raw", "_read")

    def __init__(self, plan, raw):
        self._plan, self._raw, self._read = plan, raw, {}

    def __getitem__(self, name):
        read = self._read
        if name not in read:
            position = self._plan.position_of[name]
            if position not in self._plan.converters:  # as the driver gave it (a page's JSON)
                return self._raw[position]
            value = self._raw[position]
            converters, expression = self._plan.converters[position]
            for converter in converters:
                value = converter(value, expression, self._plan.compiler.connection)
            read[name] = value
        return read[name]

    def __getattr__(self, name):
        # Columns are attributes too, for code written for model instances.
        # (Never the slots: before __init__, as copy makes a row, they are unset.)
        if name in self.__slots__:
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self):
        return iter(self._plan.names)

    def __len__(self):
        return len(self._plan.names)

    def __repr__(self):
        return f"<ConvertedOnRead {dict(self)!r}>"


class PreparedUpdate(Prepared):
    """`build(*key).update(**values)`, compiled once per database and per set of columns.

    For plain values (no expressions or model instances): each is prepared
    by its field's get_db_prep_save, as QuerySet.update() does.
    """

    def update(self, key, values):
        """Set `values` (field name to value) on the rows `build(*key)` selects; return how many."""
        # Either would change the SQL, which the plan compiled for its first values.
        if any(hasattr(value, "resolve_expression") or isinstance(value, Model) for value in values.values()):
            raise TypeError("PreparedUpdate takes plain values, not expressions or model instances.")
        alias = router.db_for_write(self.model)
        connection = connections[alias]
        # A None is written as NULL, without a parameter: it changes the SQL.
        shape = (alias, *((name, value is None) for name, value in values.items()))
        plan = self.plan(shape, lambda queryset: UpdatePlan(queryset, alias, self.placeholders, values))
        params = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(plan.fields, values.values(), strict=True)
            if value is not None
        ]
        params.extend(with_values(plan.key_params, plan.positions, key))
        # As QuerySet.update(): a failed statement spoils the transaction.
        with transaction.mark_for_rollback_on_error(alias):
            return run_sql(connection, plan.sql, params, rowcount)


class PreparedDelete(Prepared):
    """`build(*key).delete()` for a model nothing cascades from, compiled once per database."""

    def delete(self, *key):
        """Delete the rows `build(*key)` selects; return how many."""
        alias = router.db_for_write(self.model)
        plan = self.plan(alias, lambda queryset: DeletePlan(queryset, alias, self.placeholders))
        with transaction.mark_for_rollback_on_error(alias):
            return run_sql(connections[alias], plan.sql, with_values(plan.params, plan.positions, key), rowcount)


def fetchone(cursor):
    return cursor.fetchone()


def fetchall(cursor):
    return cursor.fetchall()


def rowcount(cursor):
    return cursor.rowcount


def run_sql(connection, sql, params, read):
    """Execute `sql` with `params` on `connection` and return `read(cursor)`.

    Through Django's cursor whenever something watches queries: the debug
    cursor (DEBUG, django_assert_num_queries, CaptureQueriesContext) or an
    execute wrapper. Otherwise on the cursor the backend creates for it,
    without the wrapper around it (~17 us of a ~25 us primary-key lookup
    on SQLite), under the checks Django's cursor makes (connection, thread,
    broken transaction; ensure_connection() refuses an async context, as
    Django's cursor() does) and with errors translated the same way. On SQLite
    the driver's own cursor, with the SQL in its parameter style, as
    Django's SQLite cursor rewrites it.
    """
    if connection.vendor not in DRIVER_CURSOR_VENDORS or connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return read(cursor)
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        if connection.vendor == "sqlite":
            cursor, sql = connection.connection.cursor(), qmark_style(sql)
        else:
            cursor = connection.create_cursor()
        try:
            cursor.execute(sql, params)
            return read(cursor)
        finally:
            cursor.close()


# The backends whose cursors run_sql knows to create as Django would.
DRIVER_CURSOR_VENDORS = {"sqlite", "postgresql"}


@functools.lru_cache(maxsize=256)
def qmark_style(sql):
    """`sql` with %s placeholders as SQLite's ?, as Django's SQLite cursor rewrites every statement."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


def placeholder_positions(params, placeholders):
    """Where each placeholder stands in `params`: it must stand there exactly once."""
    positions = []
    for placeholder in placeholders:
        if params.count(placeholder) != 1:
            raise ValueError(f"Placeholder {placeholder!r} must appear exactly once in {params!r}.")
        positions.append(params.index(placeholder))
    return positions


def with_values(params, positions, values):
    params = list(params)
    for position, value in zip(positions, values, strict=True):
        params[position] = value
    return params


class SelectPlan:
    """What running a queryset needs, worked out once: as ModelIterable does per run."""

    def __init__(self, queryset, alias, placeholders):
        self.compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = tuple(params)
        self.positions = placeholder_positions(self.params, placeholders)
        select, klass_info = self.compiler.select, self.compiler.klass_info
        self.converters = self.compiler.get_converters([column[0] for column in select[: self.compiler.col_count]])
        self.model = klass_info["model"]
        self.start, self.end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.related_populators = get_related_populators(klass_info, select, alias)


class ValuesPlan:
    """What running a values() queryset needs, worked out once: as ValuesIterable does per run."""

    def __init__(self, queryset, alias, placeholders):
        query = queryset.query
        self.compiler = query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = tuple(params)
        self.positions = placeholder_positions(self.params, placeholders)
        if query.selected:
            self.names = list(query.selected)
        else:
            self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
        self.position_of = {name: position for position, name in enumerate(self.names)}
        select = self.compiler.select[: self.compiler.col_count]
        self.converters = self.compiler.get_converters([column[0] for column in select])


class UpdatePlan:
    """The UPDATE of QuerySet.update(**values), its SET parameters left to each run."""

    def __init__(self, queryset, alias, placeholders, values):
        query = queryset.query.chain(sql.UpdateQuery)
        query.add_update_values(values)
        if query.related_updates or any(hasattr(field, "get_placeholder") for field, _, _ in query.values):
            raise ValueError("Only plain columns of the model's own table can be prepared.")
        self.sql, params = query.get_compiler(using=alias).as_sql()
        self.fields = [field for field, _, _ in query.values]
        # SET's parameters come first, one per value that is not None; then the WHERE's.
        self.key_params = tuple(params[sum(value is not None for value in values.values()) :])
        self.positions = placeholder_positions(self.key_params, placeholders)


class DeletePlan:
    """The one DELETE that QuerySet.delete() runs when nothing cascades."""

    def __init__(self, queryset, alias, placeholders):
        # delete() collects related rows and sends signals: one DELETE is the
        # same only when there are none, which the Collector decides.
        if not Collector(using=alias, origin=queryset).can_fast_delete(queryset):
            raise ValueError(f"Deleting {queryset.model.__name__} rows cascades or sends signals.")
        query = queryset.query.chain(sql.DeleteQuery)
        self.sql, params = query.get_compiler(using=alias).as_sql()
        self.params = tuple(params)
        self.positions = placeholder_positions(self.params, placeholders)

"""Querysets compiled to SQL once and run many times: for the hottest lookups.

Django's ORM spends ~200 µs turning even a primary-key lookup into SQL,
which on a token check or a note fetch is most of a request. A
PreparedQuery builds its queryset once with placeholder values, lets the
ORM compile it (once per database), and later runs only swap the real
values into that SQL. Rows come back through the same compiler (converters,
select_related), so a run returns exactly what the queryset would.
"""

import threading

from django.db import connections, router
from django.db.models.query import get_related_populators


class PreparedQuery:
    def __init__(self, model, build, placeholders):
        """`build(*placeholders)` returns the queryset; each placeholder must reach
        the SQL parameters unchanged and exactly once (plain equality lookups)."""
        self.model = model
        self.build = build
        self.placeholders = placeholders
        self._plans = {}
        self._lock = threading.Lock()

    def first(self, *values):
        """The first object the queryset would give for `values`, or None."""
        alias = router.db_for_read(self.model)
        plan = self._plans.get(alias) or self._compile(alias)
        params = list(plan.params)
        for position, value in zip(plan.positions, values, strict=True):
            params[position] = value
        with connections[alias].cursor() as cursor:
            cursor.execute(plan.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if plan.converters:
            row = next(plan.compiler.apply_converters([row], plan.converters))
        instance = plan.model.from_db(alias, plan.init_list, row[plan.start : plan.end])
        for populator in plan.related_populators:
            populator.populate(row, instance)
        return instance

    def _compile(self, alias):
        with self._lock:
            if alias not in self._plans:
                self._plans[alias] = Plan(self.build(*self.placeholders), alias, self.placeholders)
        return self._plans[alias]


class Plan:
    """What running a queryset needs, worked out once: as ModelIterable does per run."""

    def __init__(self, queryset, alias, placeholders):
        self.compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = tuple(params)
        self.positions = []
        for placeholder in placeholders:
            if self.params.count(placeholder) != 1:
                raise ValueError(f"Placeholder {placeholder!r} must appear exactly once in {self.params!r}.")
            self.positions.append(self.params.index(placeholder))
        select, klass_info = self.compiler.select, self.compiler.klass_info
        self.converters = self.compiler.get_converters([column[0] for column in select[: self.compiler.col_count]])
        self.model = klass_info["model"]
        self.start, self.end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.related_populators = get_related_populators(klass_info, select, alias)

"""Keyset pagination over the queryset's whole ordering, ending in the id.

DRF's CursorPagination positions on the first ordering field plus an
offset, so a page deep in a million notes degrades to OFFSET. Here a cursor
carries the ordering values of the last row it saw, and the next page is
"rows after that tuple", which an index answers directly however deep the
page. Cursors are signed: a tampered one is refused, not trusted; so is one
issued to another user, or for another search, filter or ordering.

A computed key (a search's rank) is read from its row alone
(notes.search), so it moves only when the row changes: the next page is
positioned on the values the cursor holds, whatever became of the row
they came from since. A search's cursor also holds where its window starts
(`window_floor`), so the window stays the one the walk started in.
"""

import datetime
import functools
import hashlib
from collections.abc import Mapping
from functools import reduce
from urllib.parse import quote_plus, urlencode

import orjson
from django.core import signing
from django.db.models import BooleanField, Expression, F, Q, Value
from django.utils.dateparse import parse_datetime
from django.utils.encoding import escape_uri_path
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

CURSOR_SALT = "notes.pagination.cursor"


class CursorSerializer:
    """A cursor's payload as JSON for django.core.signing, by orjson.

    signing's own JSONSerializer builds a JSON encoder per cursor; orjson
    writes the same bytes for the ASCII a cursor holds (non-ASCII text as
    UTF-8, not escaped) and reads either, so links signed before still work.
    """

    def dumps(self, obj):
        return orjson.dumps(obj)

    def loads(self, data):
        return orjson.loads(data)


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    limit_query_param = "limit"
    default_limit = 50
    max_limit = 200
    # The unique field that ends every ordering, so the order is total.
    tiebreak = "id"
    # Where a search's window starts, for its links (notes.search); None outside a search.
    window_floor = None

    def paginate_queryset(self, queryset, request, view=None):
        keys = ordering_keys(queryset, self.tiebreak)

        def fetch(count, position, backwards):
            ordered = queryset
            if backwards:
                ordered = queryset.order_by(*(_flip(key) for key in keys))
            if position is not None:
                ordered = ordered.filter(after(keys, position, backwards))
            return list(ordered[:count])

        rows = self.paginate_rows(request, keys, fetch)
        # A search's rows carry where its window starts (notes.search); its links keep it.
        self.window_floor = self.window_floor_of(rows[0]) if rows else None
        return rows

    def paginate_rows(self, request, keys, fetch):
        """The page the request asks for, in the order `keys` (ordering_keys), read by `fetch`.

        `fetch(count, position, backwards)` answers the first `count` rows
        after `position` (None: from the start) in that order, or in the
        reverse order when moving backwards; each row has the keys' values.
        """
        self.request = request
        self.limit = self.get_limit(request)
        self.keys = keys
        self.window_floor = None
        position, backwards = self.decode_cursor(request)
        rows = fetch(self.limit + 1, position, backwards)
        has_more = len(rows) > self.limit
        rows = rows[: self.limit]
        if backwards:
            rows.reverse()

        # Moving forwards there is a previous page if we came from a cursor;
        # moving backwards there is a next page by construction.
        self.next_position = self.previous_position = None
        if rows:
            if has_more or backwards:
                self.next_position = self.values_of(rows[-1])
            if position is not None and (has_more or not backwards):
                self.previous_position = self.values_of(rows[0])
        return rows

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self.link(self.next_position, backwards=False),
                "previous": self.link(self.previous_position, backwards=True),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page, 1 to {self.max_limit} (default {self.default_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
        ]

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_limit):
            raise ValidationError({self.limit_query_param: [f"Must be an integer from 1 to {self.max_limit}."]})
        return int(raw)

    def decode_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None, False
        try:
            payload = signing.loads(raw, salt=CURSOR_SALT, serializer=CursorSerializer)
            keys, values, backwards = payload["k"], payload["v"], payload["b"]
            # A link handed out before cursors named their user and query names neither.
            user, query = payload.get("u", request.user.pk), payload.get("q", self.asked)
        except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
            raise ValidationError({self.cursor_query_param: ["Invalid cursor."]}) from None
        if user != request.user.pk:
            raise ValidationError({self.cursor_query_param: ["This cursor was issued to another user."]})
        if keys != self.keys:
            raise ValidationError({self.cursor_query_param: ["This cursor belongs to another ordering."]})
        if query != self.asked:
            raise ValidationError(
                {self.cursor_query_param: ["This cursor belongs to another search or filter: follow its own links."]}
            )
        return [_decode_value(value) for value in values], bool(backwards)

    @functools.cached_property
    def asked(self):
        """The request's query_of(), read by its cursor and by both its links."""
        return self.query_of(self.request)

    def query_of(self, request):
        """What the request's parameters ask for, but its position and page size, as a short digest."""
        asked = sorted(
            (name, values)
            for name, values in request.query_params.lists()
            if name not in {self.cursor_query_param, self.limit_query_param}
        )
        return hashlib.blake2b(orjson.dumps(asked), digest_size=8).hexdigest() if asked else ""

    def values_of(self, row):
        if isinstance(row, Mapping):  # a values() queryset, e.g. tag counts
            return [row[key.lstrip("-")] for key in self.keys]
        return [getattr(row, key.lstrip("-")) for key in self.keys]

    @staticmethod
    def window_floor_of(row):
        return row.get("window_floor") if isinstance(row, Mapping) else getattr(row, "window_floor", None)

    @classmethod
    def window_floor_in_cursor(cls, request):
        """Where the search window of the request's cursor starts: None without one, or for a cursor paging refuses."""
        raw = request.query_params.get(cls.cursor_query_param)
        if raw is None:
            return None
        try:
            floor = signing.loads(raw, salt=CURSOR_SALT, serializer=CursorSerializer).get("w")
        except (signing.BadSignature, ValueError, AttributeError):
            return None
        return floor if type(floor) is int and floor >= 0 else None

    def link(self, position, *, backwards):
        if position is None:
            return None
        payload = {
            "k": self.keys,
            "v": [_encode_value(v) for v in position],
            "b": backwards,
            "u": self.request.user.pk,
            "q": self.asked,
        }
        if self.window_floor is not None:
            payload["w"] = self.window_floor
        # The request's URL with the cursor replaced, written as DRF's
        # replace_query_param writes it (parameters sorted), from the query
        # the request has already parsed rather than from its URL re-parsed.
        query = dict(self.request.query_params.lists())
        query[self.cursor_query_param] = [signing.dumps(payload, salt=CURSOR_SALT, serializer=CursorSerializer)]
        url = self.request.build_absolute_uri(escape_uri_path(self.request.path))
        return f"{url}?{urlencode(sorted(query.items()), doseq=True, quote_via=_quote_plus)}"


def _quote_plus(value, safe="", encoding=None, errors=None):
    """quote_plus(value) as urlencode calls it: the same text, without its slow path for a cursor.

    A colon is outside quote_plus's safe characters, so a signed cursor's two
    colons sent all ~190 of its characters through quote_plus one at a time
    (8 us of a page's ~600). Here colons are kept safe, then written %3A as
    quote_plus writes them; escapes are %XX, so every colon left came from
    the value.
    """
    return quote_plus(value, safe + ":", encoding, errors).replace(":", "%3A")


def ordering_keys(queryset, tiebreak="id"):
    """The queryset's ordering as field names with '-' for descending, ending in the tiebreak."""
    keys = [str(key) for key in (queryset.query.order_by or queryset.model._meta.ordering)]
    unique = {tiebreak, "pk"} if tiebreak == "id" else {tiebreak}
    if not any(key.lstrip("-") in unique for key in keys):
        keys.append(f"-{tiebreak}" if keys and keys[-1].startswith("-") else tiebreak)
    return ["-id" if key == "-pk" else "id" if key == "pk" else key for key in keys]


def after(keys, position, backwards=False):
    """Rows strictly after `position` in the order `keys` (before, if backwards).

    When every key runs the same way, as every ordering the API offers does,
    this is one row comparison, (a, b, c) > (x, y, z), which both databases
    answer as a range of the index on (a, b, c), however deep the page.
    Mixed directions expand to a > x OR (a = x AND (b > y OR (b = y AND c < z))).
    """
    directions = {key.startswith("-") != backwards for key in keys}
    if len(directions) == 1:
        columns = [F(key.lstrip("-")) for key in keys]
        values = [value if hasattr(value, "resolve_expression") else Value(value) for value in position]
        return RowComparison(columns, "<" if directions.pop() else ">", values)
    clauses = []
    for depth, key in enumerate(keys):
        field = key.lstrip("-")
        descending = key.startswith("-") != backwards
        equal = {keys[i].lstrip("-"): position[i] for i in range(depth)}
        beyond = {f"{field}__{'lt' if descending else 'gt'}": position[depth]}
        clauses.append(Q(**equal, **beyond))
    return reduce(lambda left, right: left | right, clauses)


class RowComparison(Expression):
    """`(a, b, c) < (x, y, z)`: SQL row values, compared left to right."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, columns, operator, values):
        super().__init__()
        self.columns, self.operator, self.values = list(columns), operator, list(values)

    def get_source_expressions(self):
        return [*self.columns, *self.values]

    def set_source_expressions(self, expressions):
        self.columns, self.values = expressions[: len(self.columns)], expressions[len(self.columns) :]

    def as_sql(self, compiler, connection):
        sides, params = [], []
        for expressions in (self.columns, self.values):
            compiled = [compiler.compile(expression) for expression in expressions]
            sides.append(", ".join(sql for sql, _ in compiled))
            params += [param for _, part in compiled for param in part]
        return f"({sides[0]}) {self.operator} ({sides[1]})", params


def _flip(key):
    return key[1:] if key.startswith("-") else f"-{key}"


def _encode_value(value):
    if isinstance(value, datetime.datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value):
    if isinstance(value, dict):
        parsed = parse_datetime(value["dt"])
        if parsed is None:
            raise ValueError("Not a datetime.")
        return parsed
    return value

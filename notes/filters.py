"""The query parameters of the note list: search, filters and ordering.

django-filter shows them in the browsable API and the OpenAPI schema. Every
value is checked strictly: django-filter's stock fields quietly ignore some
bad values (`pinned=maybe` filters nothing), which would answer a typo with
the wrong notes, so each field here refuses what it does not understand
(400, naming the parameter). An empty value means the parameter is absent,
as the browsable API's filter form sends every field.
"""

import datetime
import re
from dataclasses import dataclass

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime
from django_filters.widgets import QueryArrayWidget
from drf_spectacular.utils import extend_schema_field

from notes.pagination import KeysetPagination
from notes.search import search_notes
from notes.searchtext import query_terms
from notes.tags import MAX_TAGS, normalise_tag

SEARCH_MAX_LENGTH = 500
SEARCH_MAX_TERMS = 32
ORDERINGS = ("updated_at", "-updated_at", "created_at", "-created_at", "title", "-title")


@dataclass(frozen=True)
class Search:
    """A search's terms; never empty-looking, so a query of no words finds nothing instead of everything."""

    terms: list


class SearchField(forms.CharField):
    """Plain words: whatever the user types is split into words, never parsed as syntax."""

    def __init__(self, **kwargs):
        super().__init__(max_length=SEARCH_MAX_LENGTH, **kwargs)

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        terms = query_terms(text)
        if len(terms) > SEARCH_MAX_TERMS:
            raise ValidationError(f"Use at most {SEARCH_MAX_TERMS} words.", code="max_terms")
        return Search(terms)


class StrictBooleanField(forms.Field):
    widget = forms.Select(choices=[("", "---------"), ("true", "true"), ("false", "false")])

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in {"true", "false"}:
            return value == "true"
        raise ValidationError("Must be true or false.", code="invalid")


class RepeatedParameterWidget(QueryArrayWidget):
    """django-filter's text box for several values, read from `tag=a&tag=b` alone.

    QueryArrayWidget also reads `tag[]=a`, but the list runs its filters only
    when a parameter names one, so `tag[]` filtered only beside another filter.
    """

    def value_from_datadict(self, data, files, name):
        return data.getlist(name)


class TagsField(forms.Field):
    """One or more tags, `tag=a&tag=b`, normalised like a note's tags."""

    widget = RepeatedParameterWidget

    def to_python(self, value):
        names = []
        for raw in value or ():
            if not raw:
                continue  # `tag=`, an empty filter, as every other filter takes it
            try:
                names.append(normalise_tag(raw))
            except ValidationError as error:
                # The message quotes the tag; django-filter %-formats messages.
                raise ValidationError([m.replace("%", "%%") for m in error.messages], code="invalid") from None
        if len(set(names)) > MAX_TAGS:
            raise ValidationError(f"Give at most {MAX_TAGS} tags.", code="max_tags")
        return sorted(set(names))


# A time followed by a space and an offset without its sign: "+01:00" sent
# unencoded in a query string, where + stands for a space.
UNENCODED_PLUS = re.compile(r"\d:\d\d(?::\d\d(?:[.,]\d+)?)? \d\d(?::?\d\d)?")


class UpdatedSinceField(forms.Field):
    """ISO 8601 date or date-time; without a zone it is UTC."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            parsed = parse_datetime(value.strip())
            if parsed is not None:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=datetime.UTC)
                # Far-off dates in other zones overflow when made UTC.
                return parsed.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            pass
        if UNENCODED_PLUS.search(value):
            raise ValidationError(
                # %% as django-filter %-formats messages.
                "Must be an ISO 8601 date or date-time. It has a space where an offset's + would be: a + in a "
                "query string means a space, so percent-encode it as %%2B, e.g. 2026-11-24T10:00:00%%2B01:00.",
                code="unencoded_plus",
            )
        raise ValidationError("Must be an ISO 8601 date or date-time, e.g. 2026-11-24T10:00:00Z.", code="invalid")


SEARCH_HELP = (
    f"Words to find in the title or content, best matches first (at most {SEARCH_MAX_LENGTH} characters). "
    "Plain words: quotes and operators are not syntax."
)
PINNED_HELP = "`true` or `false`; empty means not given."
TAG_HELP = "Notes having this tag; repeat the parameter for notes having all of them."
UPDATED_SINCE_HELP = (
    "Notes changed at or after this ISO 8601 date or date-time (UTC when no zone is given), "
    "e.g. `2026-11-24T10:00:00Z` or `2026-11-24`; empty means not given."
)


@extend_schema_field({"type": "string", "maxLength": SEARCH_MAX_LENGTH, "description": SEARCH_HELP})
class SearchFilter(django_filters.Filter):
    field_class = SearchField


# Empty values are in the schema: the browsable API's filter form sends every field.
@extend_schema_field({"type": "string", "enum": ["true", "false", ""], "description": PINNED_HELP})
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


@extend_schema_field({"type": "array", "items": {"type": "string"}, "description": TAG_HELP})
class TagsFilter(django_filters.Filter):
    field_class = TagsField


@extend_schema_field({"type": "string", "description": UPDATED_SINCE_HELP})
class UpdatedSinceFilter(django_filters.Filter):
    field_class = UpdatedSinceField


ORDERING_HELP = "Default: pinned first, then most recently updated; with `search`, best match first."


@extend_schema_field({"type": "string", "enum": [*ORDERINGS, ""], "description": ORDERING_HELP})
class OrderingFilter(django_filters.ChoiceFilter):
    pass


class NoteFilter(django_filters.FilterSet):
    # Declared first: a search orders by rank, which `ordering` then overrides.
    search = SearchFilter(
        method="filter_search",
        label="Search",
        help_text=SEARCH_HELP,
    )
    pinned = StrictBooleanFilter(field_name="pinned", label="Pinned", help_text=PINNED_HELP)
    tag = TagsFilter(
        method="filter_tags",
        label="Tag",
        help_text=TAG_HELP,
    )
    updated_since = UpdatedSinceFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Updated since",
        help_text=UPDATED_SINCE_HELP,
    )
    ordering = OrderingFilter(
        choices=[(choice, choice) for choice in ORDERINGS],
        method="filter_ordering",
        label="Ordering",
        help_text=ORDERING_HELP,
    )

    def filter_search(self, queryset, name, value):
        # A walk's later pages search the window its first page did.
        floor = KeysetPagination.window_floor_in_cursor(self.request)
        return search_notes(queryset, owner=self.request.user, terms=value.terms, window_floor=floor)

    def filter_tags(self, queryset, name, value):
        for tag in value:
            queryset = queryset.filter(tag_index__name=tag)
        return queryset

    def filter_ordering(self, queryset, name, value):
        # The id breaks ties, in the same direction, so the keyset is total.
        return queryset.order_by(value, "-id" if value.startswith("-") else "id")

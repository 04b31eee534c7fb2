"""What every admin page of the project shares: a clear 4xx for any URL or form a browser would not send.

Django's changelist takes a lookup on any of a model's own fields from the
URL, and runs some of them only when the page is drawn (a hidden token
guessed by its prefix, a regular expression, a year past 9999, a NUL on
PostgreSQL); a date hierarchy overflows past year 9999; an action's selection
is put in a query as posted.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import BadRequest, ValidationError
from django.utils.text import smart_split

# A search's words are ANDed, each over every search field: SQLite refuses
# an expression nested deeper than 1,000.
MAX_SEARCH_WORDS = 50


class FilteredChangeList(ChangeList):
    """A changelist filtered only by its sidebar's filters and its date hierarchy."""

    def get_filters(self, request):
        try:
            specs, has_filters, lookups, may_have_duplicates, has_active_filters = super().get_filters(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error  # a date past what Python's dates hold
        # What is left is what no filter took: a date hierarchy's bounds, or a lookup typed by hand.
        offered = {f"{self.date_hierarchy}__gte", f"{self.date_hierarchy}__lt"} if self.date_hierarchy else set()
        if unoffered := set(lookups) - offered:
            raise DisallowedModelAdminLookup(f"Filtering by {', '.join(sorted(unoffered))} not allowed")
        return specs, has_filters, lookups, may_have_duplicates, has_active_filters


class StrictAdminMixin:
    def get_changelist(self, request, **kwargs):
        return FilteredChangeList

    def get_search_results(self, request, queryset, search_term):
        if len(list(smart_split(search_term))) > MAX_SEARCH_WORDS:
            self.message_user(request, f"Search for at most {MAX_SEARCH_WORDS} words at a time.", messages.WARNING)
            raise IncorrectLookupParameters
        return super().get_search_results(request, queryset, search_term)

    def response_action(self, request, queryset):
        key = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                key.clean(value, None)
            except ValidationError:
                raise BadRequest(f"No {self.model._meta.verbose_name} can have the id {value!r}.") from None
        return super().response_action(request, queryset)


class StrictModelAdmin(StrictAdminMixin, admin.ModelAdmin):
    pass

"""A page's links, written as DRF's replace_query_param wrote them: no database needed."""

from urllib.parse import quote_plus

import pytest
from django.core import signing
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from notes.pagination import KeysetPagination, _quote_plus


@pytest.mark.parametrize(
    "query", ["", "limit=2&a=%FF&b=%00&a=2", "cursor=old&z=1&empty=", "tag=a&x=%C3%A9+y", "q=a:b%3Ac+%3A&t:=:"]
)
def test_links_are_written_as_drfs_replace_query_param_wrote_them(monkeypatch, query):
    # The link is built from the parsed query, not by re-parsing the URL;
    # clients holding links, or comparing them, see the same text as before.
    monkeypatch.setattr(signing, "dumps", lambda *args, **kwargs: "signed:cursor")
    request = Request(RequestFactory().get(f"/api/notes/?{query}"))
    paginator = KeysetPagination()
    paginator.request, paginator.keys = request, ["-id"]

    link = paginator.link([5], backwards=False)

    assert link == replace_query_param(request.build_absolute_uri(), "cursor", "signed:cursor")


@given(st.text(alphabet=st.sampled_from("ab:+% /\x00é€~-_.")) | st.text())
def test_links_quote_every_value_as_quote_plus_does(value):
    assert _quote_plus(value) == quote_plus(value)
    assert _quote_plus(value.encode()) == quote_plus(value.encode())

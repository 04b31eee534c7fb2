"""Export then import into a fresh user reproduces every note exactly (property-based)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from notes.services import note_create
from notes.tags import normalise_tags

pytestmark = pytest.mark.django_db

# Any text PostgreSQL can store and the API accepts: no NUL, no lone surrogates.
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
odd_text = st.sampled_from(
    [
        "---",
        "...",
        "---\ntitle: injected\n---",
        '"quoted" \\ back\\slash',
        "line\r\nbreaks\rand\u2028separators\u2029\x85",
        "\ufeffbom first",
        "tab\tand\x0bcontrols\x1b\x7f\x9f",
        "emoji 😀👨‍👩‍👧 and 中文 and עברית\u202e",
        "# heading\n\n```\n---\n```",
        "yes",
        "null",
        "2026-01-01",
        "key: value",
        "- item",
        "[a, b]",
        "{a: 1}",
        "&anchor *alias !tag %directive @at `tick`",
    ]
)
titles = st.one_of(odd_text, st.text(characters, min_size=1, max_size=200)).map(str.strip).filter(bool)
contents = st.one_of(
    st.just(""),
    odd_text,
    st.text(characters, max_size=500),
    # Very long text, up to the content limit (and highly compressible).
    st.text(characters, min_size=1, max_size=20).map(lambda unit: (unit * 100_000)[:100_000]),
)
tag_names = st.one_of(
    st.from_regex(r"[a-z0-9_/\-]{1,20}", fullmatch=True),
    st.text(st.characters(whitelist_categories=("Ll", "Lo", "Nd")), min_size=1, max_size=10),
)
notes = st.lists(
    st.fixed_dictionaries(
        {
            "title": titles,
            "content": contents,
            "pinned": st.booleans(),
            "tags": st.lists(tag_names, max_size=5).map(normalise_tags),
        }
    ),
    min_size=1,
    max_size=6,
)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def snapshot(user):
    return sorted((n.title, n.content, n.pinned, n.tags) for n in user.notes.all())


def round_trip(export_format, generated):
    source, target = UserFactory(), UserFactory()
    for fields in generated:
        note_create(owner=source, **fields)

    exported = b"".join(client_for(source).get("/api/export/", {"format": export_format}).streaming_content)
    content_type = "application/json" if export_format == "json" else "application/zip"
    response = client_for(target).post("/api/import/", data=exported, content_type=content_type)

    assert response.status_code == 201, response.content[:2000]
    assert snapshot(target) == snapshot(source)
    assert snapshot(source) == sorted((n["title"], n["content"], n["pinned"], n["tags"]) for n in generated)
    created = {(n.title, n.created_at, n.updated_at) for n in source.notes.all()}
    assert {(n.title, n.created_at, n.updated_at) for n in target.notes.all()} == created


round_trip_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@round_trip_settings
@given(generated=notes)
def test_json_export_then_import_reproduces_every_note(generated):
    round_trip("json", generated)


@round_trip_settings
@given(generated=notes)
def test_markdown_export_then_import_reproduces_every_note(generated):
    round_trip("markdown", generated)

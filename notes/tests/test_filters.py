"""Filters and ordering of the note list, and their strict 400s."""

import datetime

import pytest
from django.utils import timezone

from notes.models import Note
from notes.services import note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def listed(client, **params):
    response = client.get("/api/notes/", params)
    assert response.status_code == 200, response.content
    return [note["id"] for note in response.json()["results"]]


def set_updated_at(note, when):
    Note.objects.filter(pk=note.pk).update(updated_at=when)


@pytest.fixture
def pinned_and_not(user):
    pinned = NoteFactory(owner=user)
    note_update(note=pinned, pinned=True)
    return pinned, NoteFactory(owner=user)


def test_pinned_true_lists_pinned_notes(auth_client, pinned_and_not):
    assert listed(auth_client, pinned="true") == [pinned_and_not[0].pk]


@pytest.mark.parametrize("value", ["True", "TRUE", "1", "yes"])
def test_pinned_is_exactly_true_or_false(auth_client, pinned_and_not, value):
    response = auth_client.get("/api/notes/", {"pinned": value})

    assert response.status_code == 400
    assert response.json() == {"pinned": ["Must be true or false."]}


def test_pinned_false_lists_the_others(auth_client, pinned_and_not):
    assert listed(auth_client, pinned="false") == [pinned_and_not[1].pk]


def test_tag_filter_lists_notes_with_the_tag(auth_client, user):
    home = NoteFactory(owner=user, tags=["home"])
    NoteFactory(owner=user, tags=["work"])

    assert listed(auth_client, tag="home") == [home.pk]


def test_repeated_tags_must_all_match(auth_client, user):
    both = NoteFactory(owner=user, tags=["home", "urgent"])
    NoteFactory(owner=user, tags=["home"])
    NoteFactory(owner=user, tags=["urgent"])

    assert listed(auth_client, tag=["home", "urgent"]) == [both.pk]


def test_tag_filter_normalises_like_tags(auth_client, user):
    note = NoteFactory(owner=user, tags=["notes/inbox"])

    assert listed(auth_client, tag=" Notes/Inbox ") == [note.pk]


def test_tag_filter_ignores_trashed_notes_and_other_users(auth_client, user, other_user):
    NoteFactory(owner=other_user, tags=["home"])
    trashed = NoteFactory(owner=user, tags=["home"])
    auth_client.delete(f"/api/notes/{trashed.pk}/")

    assert listed(auth_client, tag="home") == []


def test_updated_since_is_inclusive(auth_client, user):
    at = timezone.now().replace(microsecond=0) - datetime.timedelta(days=1)
    before, exactly, after = (NoteFactory(owner=user) for _ in range(3))
    set_updated_at(before, at - datetime.timedelta(microseconds=1))
    set_updated_at(exactly, at)
    set_updated_at(after, at + datetime.timedelta(hours=1))

    assert set(listed(auth_client, updated_since=at.isoformat())) == {exactly.pk, after.pk}


@pytest.mark.parametrize(
    ("value", "included"),
    [
        ("2026-01-10T12:00:00", True),  # no zone: UTC
        ("2026-01-10T12:00:00Z", True),
        ("2026-01-10T12:00:01Z", False),
        ("2026-01-10T13:00:00+01:00", True),
        ("2026-01-10T12:00:00.000001Z", False),
        ("2026-01-10", True),  # a date: its midnight, UTC
        ("2026-01-11", False),
    ],
)
def test_updated_since_reads_iso_8601(auth_client, user, value, included):
    note = NoteFactory(owner=user)
    set_updated_at(note, datetime.datetime(2026, 1, 10, 12, 0, tzinfo=datetime.UTC))

    assert (listed(auth_client, updated_since=value) == [note.pk]) is included


@pytest.mark.parametrize("field", ["updated_at", "created_at", "title"])
@pytest.mark.parametrize("descending", [False, True])
def test_ordering_sorts_and_pages_by_the_field_then_id(auth_client, user, field, descending):
    base = timezone.now()
    for i in range(7):
        note = NoteFactory(owner=user, title=f"title {i % 3}")
        # Ties on purpose, so the id must break them.
        when = base - datetime.timedelta(days=i % 3)
        Note.objects.filter(pk=note.pk).update(created_at=when, updated_at=when)
    ordering = f"-{field}" if descending else field
    expected = list(
        Note.objects.owned_by(user).order_by(ordering, "-id" if descending else "id").values_list("pk", flat=True)
    )

    seen, url = [], f"/api/notes/?ordering={ordering}&limit=2"
    while url:
        body = auth_client.get(url).json()
        seen += [note["id"] for note in body["results"]]
        url = body["next"]

    assert seen == expected


def test_empty_parameters_are_ignored(auth_client, user):
    note = NoteFactory(owner=user)

    assert listed(auth_client, pinned="", tag="", updated_since="", ordering="", search="") == [note.pk]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("pinned", "maybe"),
        ("pinned", "1"),
        ("pinned", "yes"),
        ("pinned", "true\x00"),
        ("ordering", "bogus"),
        ("ordering", "id"),
        ("ordering", "title,-created_at"),
        ("ordering", "-pinned"),
        ("ordering", "title\x00"),
        ("updated_since", "yesterday"),
        ("updated_since", "2026-13-01T00:00:00Z"),
        ("updated_since", "2026-02-30"),
        ("updated_since", "2026-01-01T25:00:00Z"),
        ("updated_since", "9999-12-31T23:59:59-01:00"),
        ("updated_since", "0001-01-01T00:00:00+01:00"),
        ("updated_since", "2026-01-01\x00"),
        ("tag", "two words"),
        ("tag", "a" * 51),
        ("tag", "bad\x00tag"),
        ("tag", [f"t{i}" for i in range(21)]),
        ("tag", "home,urgent"),  # repeat the parameter instead
        ("search", "milk\x00"),
        ("limit", "0"),
        ("limit", "500"),
        ("cursor", "garbage"),
    ],
)
def test_invalid_values_are_400_naming_the_parameter(auth_client, user, parameter, value):
    NoteFactory(owner=user)

    response = auth_client.get("/api/notes/", {parameter: value})

    assert response.status_code == 400, response.content
    assert list(response.json()) == [parameter]


@pytest.mark.parametrize("offset", ["+01:00", "+0100", "+01"])
def test_updated_since_with_an_unencoded_plus_says_to_percent_encode_it(auth_client, db, offset):
    # "+" in a query string decodes to a space: the client meant an offset.
    response = auth_client.get(f"/api/notes/?updated_since=2026-01-01T00:00:00{offset}")

    assert response.status_code == 400
    (message,) = response.json()["updated_since"]
    assert "percent-encode it as %2B" in message


def test_updated_since_with_a_percent_encoded_plus_is_read(auth_client, user):
    note = NoteFactory(owner=user)
    set_updated_at(note, datetime.datetime(2026, 1, 10, 12, 0, tzinfo=datetime.UTC))

    response = auth_client.get("/api/notes/?updated_since=2026-01-10T13:00:00%2B01:00")

    assert [found["id"] for found in response.json()["results"]] == [note.pk]


def test_updated_since_without_a_plus_gets_the_plain_message(auth_client, db):
    response = auth_client.get("/api/notes/?updated_since=yesterday")

    assert response.json() == {"updated_since": ["Must be an ISO 8601 date or date-time, e.g. 2026-11-24T10:00:00Z."]}


def test_every_invalid_parameter_is_named(auth_client, db):
    response = auth_client.get("/api/notes/", {"pinned": "maybe", "ordering": "bogus", "tag": "a b"})

    assert response.status_code == 400
    assert set(response.json()) == {"pinned", "ordering", "tag"}


def test_a_notes_own_url_ignores_list_parameters(auth_client, user):
    note = NoteFactory(owner=user)

    response = auth_client.get(f"/api/notes/{note.pk}/", {"pinned": "maybe", "search": "nothing"})

    assert response.status_code == 200


def test_filters_appear_in_the_openapi_schema(api_client, db):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    parameters = {p["name"]: p for p in schema["paths"]["/api/notes/"]["get"]["parameters"]}

    assert {"search", "pinned", "tag", "updated_since", "ordering", "cursor", "limit"} <= set(parameters)
    # The empty value is listed too: the browsable API's filter form sends it.
    assert sorted(parameters["ordering"]["schema"]["enum"]) == sorted(
        ["updated_at", "-updated_at", "created_at", "-created_at", "title", "-title", ""]
    )
    assert sorted(parameters["pinned"]["schema"]["enum"]) == ["", "false", "true"]


def test_filters_appear_in_the_browsable_api(auth_client, db):
    response = auth_client.get("/api/notes/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b'name="updated_since"' in response.content
    assert b'name="ordering"' in response.content


def test_filtered_list_costs_two_queries(auth_client, user, django_assert_num_queries):
    for i in range(20):
        NoteFactory(owner=user, tags=["home", "x"] if i % 2 else ["home"])

    with django_assert_num_queries(2):  # the token with its user, the page
        auth_client.get("/api/notes/", {"tag": ["home", "x"], "pinned": "false", "ordering": "-title"})


def test_a_bad_tag_with_a_percent_sign_is_a_400_not_a_500(auth_client, db):
    """Found by the fuzzer: the message quotes the tag, and django-filter %-formats it."""
    response = auth_client.get("/api/notes/", {"tag": "50% off"})

    assert response.status_code == 400
    assert "50% off" in response.json()["tag"][0]


@pytest.mark.parametrize("others", [{}, {"pinned": ""}, {"pinned": "false"}])
def test_tag_brackets_are_an_unknown_parameter_whatever_else_is_asked(auth_client, user, others):
    NoteFactory(owner=user, title="home one", tags=["home"])
    NoteFactory(owner=user, title="work one", tags=["work"])

    response = auth_client.get("/api/notes/", {"tag[]": "home", **others})

    assert response.status_code == 200
    assert sorted(note["title"] for note in response.json()["results"]) == ["home one", "work one"]


def test_repeated_and_empty_tags(auth_client, user):
    NoteFactory(owner=user, title="both", tags=["home", "work"])
    NoteFactory(owner=user, title="home only", tags=["home"])

    both = auth_client.get("/api/notes/?tag=home&tag=work&tag=").json()["results"]

    assert [note["title"] for note in both] == ["both"]

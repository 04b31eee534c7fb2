"""Keyset pagination: a walk sees every unchanged note exactly once."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.urls import set_script_prefix

from notes.models import Note
from notes.pagination import CURSOR_SALT, CursorSerializer, after
from notes.services import note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def walk(client, url):
    seen, pages = [], 0
    while url:
        body = client.get(url).json()
        seen += [note["id"] for note in body["results"]]
        url = body["next"]
        pages += 1
    return seen, pages


def test_list_uses_the_envelope(auth_client, user):
    NoteFactory(owner=user)

    body = auth_client.get("/api/notes/").json()

    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None
    assert body["previous"] is None


def test_default_order_is_pinned_first_then_newest_change_then_id(auth_client, user):
    old, pinned_old, newer = (NoteFactory(owner=user) for _ in range(3))
    note_update(note=pinned_old, pinned=True)
    note_update(note=newer, title="touched")

    ids = [note["id"] for note in auth_client.get("/api/notes/").json()["results"]]

    assert ids == [pinned_old.pk, newer.pk, old.pk]


def test_default_page_size_is_50(auth_client, user):
    NoteFactory.create_batch(51, owner=user)

    body = auth_client.get("/api/notes/").json()

    assert len(body["results"]) == 50
    assert body["next"] is not None


def test_walk_visits_every_note_once_in_order(auth_client, user):
    notes = NoteFactory.create_batch(23, owner=user)
    for note in notes[::4]:
        note_update(note=note, pinned=True)

    seen, pages = walk(auth_client, "/api/notes/?limit=5")

    expected = list(Note.objects.owned_by(user).alive().values_list("pk", flat=True))
    assert seen == expected
    assert pages == 5


def test_walk_sees_unchanged_notes_exactly_once_while_others_change(auth_client, user):
    notes = NoteFactory.create_batch(30, owner=user)
    changing = set(notes[::3])
    stable_ids = {note.pk for note in notes if note not in changing}

    seen, url, step = [], "/api/notes/?limit=4", 0
    while url:
        body = auth_client.get(url).json()
        seen += [note["id"] for note in body["results"]]
        url = body["next"]
        # Between pages: edit one, trash one, create one.
        note = notes[(step * 3) % 30]
        if step % 3 == 0 and note in changing:
            note_update(note=Note.objects.get(pk=note.pk), title=f"edited {step}")
        elif step % 3 == 1 and note in changing:
            note_trash(note=Note.objects.get(pk=note.pk))
        NoteFactory(owner=user)
        step += 1

    assert len(seen) == len(set(seen))
    assert stable_ids <= set(seen)


@pytest.mark.parametrize(
    "ordering",
    [["title", "id"], ["-title", "-id"], ["-pinned", "-updated_at", "-id"], ["-pinned", "title", "id"]],
)
def test_keyset_walk_matches_the_full_ordering(user, ordering):
    for i in range(12):
        NoteFactory(owner=user, title=f"title {i % 4}", pinned=i % 3 == 0)
    queryset = Note.objects.owned_by(user).order_by(*ordering)
    expected = list(queryset.values_list("pk", flat=True))

    seen, position = [], None
    while True:
        page = queryset.filter(after(ordering, position)) if position else queryset
        rows = list(page[:5])
        if not rows:
            break
        seen += [row.pk for row in rows]
        position = [getattr(rows[-1], key.lstrip("-")) for key in ordering]

    assert seen == expected


def test_previous_link_walks_back(auth_client, user):
    NoteFactory.create_batch(12, owner=user)
    first = auth_client.get("/api/notes/?limit=5").json()
    second = auth_client.get(first["next"]).json()

    back = auth_client.get(second["previous"]).json()

    assert [n["id"] for n in back["results"]] == [n["id"] for n in first["results"]]
    assert back["previous"] is None
    assert back["next"] is not None


def test_last_page_has_no_next(auth_client, user):
    NoteFactory.create_batch(6, owner=user)
    first = auth_client.get("/api/notes/?limit=5").json()

    last = auth_client.get(first["next"]).json()

    assert len(last["results"]) == 1
    assert last["next"] is None
    assert last["previous"] is not None


@pytest.mark.parametrize("limit", ["0", "201", "500", "-1", "abc", "1.5", "", "\uff15"])
def test_invalid_limit_is_400_naming_it(auth_client, db, limit):
    response = auth_client.get(f"/api/notes/?limit={limit}")

    assert response.status_code == 400
    assert "limit" in response.json()


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limit_bounds_are_accepted(auth_client, db, limit):
    assert auth_client.get(f"/api/notes/?limit={limit}").status_code == 200


def test_tampered_cursor_is_400(auth_client, user):
    NoteFactory.create_batch(3, owner=user)
    next_url = auth_client.get("/api/notes/?limit=1").json()["next"]
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    tampered = cursor[:-2] + ("xx" if not cursor.endswith("xx") else "yy")

    response = auth_client.get("/api/notes/", {"cursor": tampered, "limit": 1})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize("cursor", ["abc", "", "%00", "a" * 5000])
def test_garbage_cursor_is_400(auth_client, db, cursor):
    response = auth_client.get(f"/api/notes/?cursor={cursor}")

    assert response.status_code == 400
    assert "cursor" in response.json()


def test_next_link_keeps_the_query_and_replaces_the_cursor(auth_client, user):
    NoteFactory.create_batch(5, owner=user, tags=["b"])

    first = auth_client.get("/api/notes/?tag=b&limit=2&zz=%C3%A9+x&empty=").json()["next"]
    second = auth_client.get(first).json()["next"]

    for link in [first, second]:
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/api/notes/")
        names = [pair.split("=")[0] for pair in parts.query.split("&")]
        assert names == ["cursor", "empty", "limit", "tag", "zz"]  # sorted, the cursor once
        assert parse_qs(parts.query, keep_blank_values=True)["zz"] == ["é x"]
    assert urlsplit(first).query != urlsplit(second).query


def test_cursors_signed_before_orjson_still_page(auth_client, user):
    # Links handed out earlier were signed over Django's JSONSerializer
    # (non-ASCII escaped as \uXXXX); a cursor reads either.
    for title in ["a", "b", "é1", "é2", "z"]:
        NoteFactory(owner=user, title=title)
    payload = {"k": ["title", "id"], "v": ["é1", Note.objects.get(title="é1").pk], "b": False}
    cursor = signing.dumps(payload, salt=CURSOR_SALT)
    assert cursor != signing.dumps(payload, salt=CURSOR_SALT, serializer=CursorSerializer)

    titles = [note["title"] for note in auth_client.get("/api/notes/?ordering=title").json()["results"]]

    response = auth_client.get("/api/notes/", {"ordering": "title", "cursor": cursor})

    assert response.status_code == 200
    assert [note["title"] for note in response.json()["results"]] == titles[titles.index("é1") + 1 :]
    assert "é2" in titles[titles.index("é1") + 1 :]


def test_cursor_signed_for_another_ordering_is_400(auth_client, db):
    forged = signing.dumps({"k": ["title", "id"], "v": ["a", 1], "b": False}, salt=CURSOR_SALT)

    response = auth_client.get(f"/api/notes/?cursor={forged}")

    assert response.status_code == 400
    assert "cursor" in response.json()


def test_list_costs_two_queries_whatever_the_page_size(auth_client, user, django_assert_num_queries):
    NoteFactory.create_batch(30, owner=user, tags=["a", "b"])

    with django_assert_num_queries(2):  # the token with its user, the page
        auth_client.get("/api/notes/?limit=30")


def test_the_first_page_shows_each_note_as_its_own_url_does(auth_client, user):
    # The first page is written by the database from a statement compiled
    # once (views.first_page_of), the next ones from the queryset, a note's
    # own URL from another statement (views.live_note_json_of): all agree.
    notes = NoteFactory.create_batch(5, owner=user, tags=["b", "ä"], content='"quoted"\n\x01 😀')
    note_update(note=notes[1], pinned=True)

    first = auth_client.get("/api/notes/?limit=3").json()
    second = auth_client.get(first["next"]).json()

    for item in first["results"] + second["results"]:
        assert item == {**auth_client.get(item["url"]).json(), "snippet": None}
    assert len({item["id"] for item in first["results"] + second["results"]}) == 5


def test_the_first_page_follows_the_script_prefix(auth_client, user):
    note = NoteFactory(owner=user)

    set_script_prefix("/notes/")  # as WSGIHandler does from SCRIPT_NAME (the test client does not)
    try:
        below_prefix = auth_client.get("/api/notes/").json()
    finally:
        set_script_prefix("/")
    at_root = auth_client.get("/api/notes/").json()

    assert below_prefix["results"][0]["url"] == f"http://testserver/notes/api/notes/{note.pk}/"
    assert at_root["results"][0]["url"] == f"http://testserver/api/notes/{note.pk}/"


def pointing_at(link):
    """A page link as what it points at: the URL, and its cursor's position decoded.

    The cursor's signature holds the second it was signed, so two links to
    the same page made a second apart differ as text.
    """
    if link is None:
        return None
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    cursor = query.pop("cursor", [None])[0]
    position = cursor and signing.loads(cursor, salt=CURSOR_SALT, serializer=CursorSerializer)
    return parts._replace(query=""), query, position


@pytest.mark.parametrize(
    "query",
    ["", "limit=2", "tag=b", "pinned=true", "ordering=title", "ordering=-created_at&limit=3", "search="],
)
def test_json_pages_equal_the_serializers_data(auth_client, user, query):
    # JSON pages are written by the database; the browsable API's come from
    # the serializer (the data its page shows). Every page of a walk agrees.
    for index in range(5):
        note = NoteFactory(owner=user, title=f'{"ü" * index}"{index}', tags=["b", "é"][: index % 3], content="\x02😀")
        note_update(note=note, pinned=index % 2 == 0)

    url, pages = f"/api/notes/?{query}", 0
    while url:
        as_json = auth_client.get(url).json()
        as_data = auth_client.get(url, HTTP_ACCEPT="text/html").data
        assert as_json["results"] == [dict(item) for item in as_data["results"]]
        for link in ["next", "previous"]:
            assert pointing_at(as_json[link]) == pointing_at(as_data[link])
        assert as_json.keys() == as_data.keys()
        url, pages = as_json["next"], pages + 1
    assert pages >= 1


def test_the_browsable_api_lists_the_same_notes(auth_client, user):
    note = NoteFactory(owner=user, title="<b>seen</b>")

    response = auth_client.get("/api/notes/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response.data["results"][0]["id"] == note.pk  # the serializer's data, which the page shows
    assert b"&lt;b&gt;seen&lt;/b&gt;" in response.content


def test_deep_page_costs_the_same_queries(auth_client, user, django_assert_num_queries):
    NoteFactory.create_batch(30, owner=user)
    url = auth_client.get("/api/notes/?limit=10").json()["next"]
    url = auth_client.get(url).json()["next"]

    with django_assert_num_queries(2):
        auth_client.get(url)


def test_a_cursor_issued_to_another_user_is_400(auth_client, other_client, user):
    NoteFactory.create_batch(3, owner=user)
    cursor = parse_qs(urlsplit(auth_client.get("/api/notes/?limit=1").json()["next"]).query)["cursor"][0]

    response = other_client.get("/api/notes/", {"limit": 1, "cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["This cursor was issued to another user."]}


@pytest.mark.parametrize("changed", [{"search": "eggs"}, {"pinned": "true"}, {"tag": "home"}])
def test_a_cursor_for_another_search_or_filter_is_400(auth_client, user, changed):
    NoteFactory.create_batch(3, owner=user, title="milk and eggs", tags=["home"])
    next_link = auth_client.get("/api/notes/?search=milk&limit=1").json()["next"]
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]

    response = auth_client.get("/api/notes/", {"search": "milk", "limit": 1, "cursor": cursor, **changed})

    assert response.status_code == 400
    assert "another search or filter" in response.json()["cursor"][0]


def test_a_cursor_follows_with_another_page_size(auth_client, user):
    NoteFactory.create_batch(5, owner=user)
    next_link = auth_client.get("/api/notes/?limit=2").json()["next"]
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]

    response = auth_client.get("/api/notes/", {"limit": 3, "cursor": cursor})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 3

"""GET /api/tags/, POST /api/tags/rename/, DELETE /api/tags/{name}/."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import example, given
from hypothesis import strategies as st

from notes import services
from notes.models import Note
from notes.tags import normalise_tag
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def tags_of(note):
    return Note.objects.get(pk=note.pk).tags


def test_tags_are_listed_with_counts_most_used_first(auth_client, user):
    NoteFactory(owner=user, tags=["home", "work"])
    NoteFactory(owner=user, tags=["home"])
    NoteFactory(owner=user, tags=["art"])

    body = auth_client.get("/api/tags/").json()

    assert body == {
        "next": None,
        "previous": None,
        "results": [{"name": "home", "count": 2}, {"name": "art", "count": 1}, {"name": "work", "count": 1}],
    }


def test_trashed_notes_and_other_users_do_not_count(auth_client, user, other_user):
    NoteFactory(owner=user, tags=["home"])
    trashed = NoteFactory(owner=user, tags=["home", "old"])
    auth_client.delete(f"/api/notes/{trashed.pk}/")
    NoteFactory(owner=other_user, tags=["home", "secret"])

    assert auth_client.get("/api/tags/").json()["results"] == [{"name": "home", "count": 1}]


def test_tags_are_paged(auth_client, user):
    for i in range(5):
        NoteFactory(owner=user, tags=[f"tag{j}" for j in range(i + 1)])

    seen, url = [], "/api/tags/?limit=2"
    while url:
        body = auth_client.get(url).json()
        seen += [tag["name"] for tag in body["results"]]
        url = body["next"]

    assert seen == ["tag0", "tag1", "tag2", "tag3", "tag4"]


def test_tag_list_costs_two_queries(auth_client, user, django_assert_num_queries):
    for i in range(10):
        NoteFactory(owner=user, tags=[f"t{i % 3}", "common"])

    with django_assert_num_queries(2):  # the token with its user, the counts
        auth_client.get("/api/tags/")


def test_rename_changes_every_note_as_an_edit(auth_client, user):
    first = NoteFactory(owner=user, tags=["home", "x"])
    second = NoteFactory(owner=user, tags=["home"])
    untouched = NoteFactory(owner=user, tags=["work"])

    response = auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"name": "house", "count": 2}
    assert tags_of(first) == ["house", "x"]
    assert tags_of(second) == ["house"]
    assert Note.objects.get(pk=first.pk).version == 2
    assert Note.objects.get(pk=untouched.pk).version == 1
    assert auth_client.get("/api/notes/", {"tag": "home"}).json()["results"] == []
    assert len(auth_client.get("/api/notes/", {"tag": "house"}).json()["results"]) == 2


def test_rename_into_an_existing_tag_merges(auth_client, user):
    both = NoteFactory(owner=user, tags=["home", "house"])
    NoteFactory(owner=user, tags=["home"])

    response = auth_client.post("/api/tags/rename/", {"from": "home", "to": "House"}, format="json")

    assert response.json() == {"name": "house", "count": 2}
    assert tags_of(both) == ["house"]


def test_rename_leaves_other_users_alone(auth_client, user, other_user):
    NoteFactory(owner=user, tags=["home"])
    theirs = NoteFactory(owner=other_user, tags=["home"])

    auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert tags_of(theirs) == ["home"]


def test_rename_of_an_unused_tag_is_404(auth_client, user, other_user):
    NoteFactory(owner=other_user, tags=["home"])

    response = auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "home", "to": "home"}, "to"),
        ({"from": "home", "to": "two words"}, "to"),
        ({"from": "", "to": "x"}, "from"),
        ({"to": "x"}, "from"),
        ({"from": "home", "to": 42}, "to"),
        ({"from": "home", "to": "x", "extra": 1}, "extra"),
        ({"from": "ho\x00me", "to": "x"}, "from"),
    ],
)
def test_rename_validates_both_names(auth_client, user, body, field):
    note = NoteFactory(owner=user, tags=["home"])

    response = auth_client.post("/api/tags/rename/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert tags_of(note) == ["home"]


@pytest.mark.django_db(transaction=True)
def test_rename_commits_in_batches_so_other_writers_get_in(auth_client, user, monkeypatch):
    monkeypatch.setattr(services, "RETAG_BATCH_SIZE", 2)
    notes = [NoteFactory(owner=user, tags=["home"]) for _ in range(5)]
    commits = []
    commit = connection.commit
    monkeypatch.setattr(connection, "commit", lambda: commits.append(1) or commit())

    response = auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert response.json() == {"name": "house", "count": 5}
    assert [tags_of(note) for note in notes] == [["house"]] * 5
    assert len(commits) == 3  # 2 + 2 + 1 notes


def test_on_sqlite_a_rename_pauses_between_batches_for_other_writers(auth_client, user, monkeypatch):
    monkeypatch.setattr(services, "RETAG_BATCH_SIZE", 2)
    for _ in range(5):
        NoteFactory(owner=user, tags=["home"])
    pauses = []
    monkeypatch.setattr(services.time, "sleep", pauses.append)

    auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    # SQLite's busy handler polls every 100 ms at most; PostgreSQL queues waiters itself.
    expected = [services.SQLITE_BUSY_POLL_SECONDS] * 2 if connection.vendor == "sqlite" else []
    assert pauses == expected


def test_rename_answers_the_tag_even_when_a_write_took_it_off_meanwhile(auth_client, user, monkeypatch):
    note = NoteFactory(owner=user, tags=["home"])

    def rename_then_edit(**kwargs):
        changed = services.tag_rename(**kwargs)
        services.note_update(note=Note.objects.get(pk=note.pk), tags=[])  # another client, just after
        return changed

    monkeypatch.setattr("notes.views.tag_rename", rename_then_edit)

    response = auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert (response.status_code, response.json()) == (200, {"name": "house", "count": 0})


def test_a_tag_as_listed_finds_and_deletes_itself(auth_client, user):
    """ "J" + combining caron lower-cases to "j" + caron, which NFC composes: one tag, "ǰ"."""
    decomposed = auth_client.post("/api/notes/", {"title": "A", "tags": ["J\u030c"]}, format="json").json()
    composed = auth_client.post("/api/notes/", {"title": "B", "tags": ["\u01f0"]}, format="json").json()

    [listed] = auth_client.get("/api/tags/").json()["results"]

    assert listed == {"name": "\u01f0", "count": 2}
    assert decomposed["tags"] == composed["tags"] == ["\u01f0"]
    assert auth_client.delete(f"/api/tags/{listed['name']}/").status_code == 204
    assert auth_client.get("/api/tags/").json()["results"] == []


@given(st.text(st.characters(categories=["L", "M", "N"]), max_size=4))
@example("J\u030c")
@example("H\u0331")
@example("\u0130\u0301")
def test_a_normalised_tag_normalises_to_itself(raw):
    try:
        tag = normalise_tag(raw)
    except ValidationError:
        return
    assert normalise_tag(tag) == tag


def test_delete_removes_the_tag_from_every_note(auth_client, user):
    first = NoteFactory(owner=user, tags=["home", "x"])
    second = NoteFactory(owner=user, tags=["home"])

    response = auth_client.delete("/api/tags/home/")

    assert response.status_code == 204
    assert tags_of(first) == ["x"]
    assert tags_of(second) == []
    assert Note.objects.get(pk=second.pk).version == 2
    assert auth_client.get("/api/tags/").json()["results"] == [{"name": "x", "count": 1}]


@pytest.mark.parametrize("path", ["/api/tags/notes/inbox/", "/api/tags/notes%2Finbox", "/api/tags/Notes/Inbox"])
def test_delete_takes_names_with_slashes(auth_client, user, path):
    note = NoteFactory(owner=user, tags=["notes/inbox", "notes"])

    response = auth_client.delete(path)

    assert response.status_code == 204
    assert tags_of(note) == ["notes"]


def test_a_tag_named_rename_can_be_deleted(auth_client, user):
    note = NoteFactory(owner=user, tags=["rename", "keep"])

    response = auth_client.delete("/api/tags/rename/")

    assert response.status_code == 204
    assert tags_of(note) == ["keep"]


@pytest.mark.parametrize("name", ["missing", "two words", "x" * 60])
def test_delete_of_a_tag_on_no_note_is_404(auth_client, user, other_user, name):
    NoteFactory(owner=other_user, tags=["missing"])

    assert auth_client.delete(f"/api/tags/{name}/").status_code == 404


def test_tags_need_authentication(api_client, db):
    assert api_client.get("/api/tags/").status_code == 401
    assert api_client.post("/api/tags/rename/", {"from": "a", "to": "b"}, format="json").status_code == 401
    assert api_client.delete("/api/tags/a/").status_code == 401

"""Revisions (SPEC 3, "Nothing lost"): every change keeps the state it replaced."""

import pytest

from notes.models import Note, Revision
from notes.services import changed_fields_since, note_restore, note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

REVISION_FIELDS = {"version", "title", "content", "pinned", "tags", "updated_at"}


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Groceries", content="milk", tags=["home"])


def revisions_url(note):
    return f"/api/notes/{note.pk}/revisions/"


def restore_url(note, version):
    return f"/api/notes/{note.pk}/revisions/{version}/restore/"


def test_a_new_note_has_no_revisions(auth_client, note):
    response = auth_client.get(revisions_url(note))

    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": []}


def test_an_edit_keeps_the_state_it_replaced(auth_client, note):
    before = auth_client.get(f"/api/notes/{note.pk}/").json()

    auth_client.put(f"/api/notes/{note.pk}/", {"title": "Shopping", "content": "bread", "pinned": True})

    results = auth_client.get(revisions_url(note)).json()["results"]
    assert results == [
        {
            "version": 1,
            "title": "Groceries",
            "content": "milk",
            "pinned": False,
            "tags": ["home"],
            "updated_at": before["updated_at"],
        }
    ]


def test_revisions_are_listed_newest_first(auth_client, note):
    for title in ["two", "three", "four"]:
        auth_client.patch(f"/api/notes/{note.pk}/", {"title": title})

    results = auth_client.get(revisions_url(note)).json()["results"]

    assert [(r["version"], r["title"]) for r in results] == [(3, "three"), (2, "two"), (1, "Groceries")]
    assert set(results[0]) == REVISION_FIELDS


def test_a_change_to_nothing_keeps_no_revision(auth_client, note):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Groceries", "tags": ["HOME"]})

    assert not Revision.objects.filter(note=note).exists()


def test_trash_and_restore_each_keep_a_revision(auth_client, note):
    auth_client.delete(f"/api/notes/{note.pk}/")
    auth_client.post(f"/api/trash/{note.pk}/restore/")

    results = auth_client.get(revisions_url(note)).json()["results"]

    assert [r["version"] for r in results] == [2, 1]
    assert Revision.objects.get(note=note, version=2).title == "Groceries"


def test_revisions_page_with_the_list_envelope(auth_client, note):
    for n in range(5):
        auth_client.patch(f"/api/notes/{note.pk}/", {"title": f"t{n}"})

    first = auth_client.get(revisions_url(note), {"limit": 2}).json()
    second = auth_client.get(first["next"]).json()
    third = auth_client.get(second["next"]).json()

    versions = [r["version"] for page in (first, second, third) for r in page["results"]]
    assert versions == [5, 4, 3, 2, 1]
    assert third["next"] is None
    assert first["previous"] is None


def test_only_the_newest_revisions_are_kept(auth_client, note, settings):
    settings.NOTES_REVISIONS_KEPT = 3

    for n in range(6):
        auth_client.patch(f"/api/notes/{note.pk}/", {"title": f"t{n}"})

    assert list(Revision.objects.filter(note=note).values_list("version", flat=True)) == [6, 5, 4]


def test_restore_brings_back_a_revision_as_a_new_version(auth_client, note):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Shopping", "tags": ["work"], "pinned": True})

    response = auth_client.post(restore_url(note, 1))

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    body = response.json()
    assert (body["title"], body["content"], body["pinned"], body["tags"], body["version"]) == (
        "Groceries",
        "milk",
        False,
        ["home"],
        3,
    )
    note.refresh_from_db()
    assert (note.title, note.tags, note.version) == ("Groceries", ["home"], 3)
    assert note.tag_index.get().name == "home"
    replaced = Revision.objects.get(note=note, version=2)
    assert (replaced.title, replaced.pinned, replaced.tags) == ("Shopping", True, ["work"])


def test_restoring_the_current_state_changes_nothing(auth_client, note):
    auth_client.delete(f"/api/notes/{note.pk}/")
    auth_client.post(f"/api/trash/{note.pk}/restore/")

    response = auth_client.post(restore_url(note, 2))  # the same fields as now

    assert response.status_code == 200
    assert response.json()["version"] == 3


def test_restore_honours_if_match(auth_client, note):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Shopping"})

    assert auth_client.post(restore_url(note, 1), HTTP_IF_MATCH='"2"').status_code == 200


@pytest.mark.parametrize("version", ["2", "0", "9999999999", "99999999999999999999"])
def test_restoring_a_version_not_kept_is_404(auth_client, note, version):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Shopping"})

    response = auth_client.post(restore_url(note, version))

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    note.refresh_from_db()
    assert note.version == 2


def test_revisions_of_a_trashed_note_are_404(auth_client, note):
    note_trash(note=note)

    assert auth_client.get(revisions_url(note)).status_code == 404
    assert auth_client.post(restore_url(note, 1)).status_code == 404


def test_another_users_revisions_are_404_like_missing_ones(auth_client, other_user):
    others = NoteFactory(owner=other_user, title="Secret")
    note_update(note=others, title="Still secret")

    assert auth_client.get(revisions_url(others)).json() == auth_client.get("/api/notes/999999/revisions/").json()
    assert auth_client.get(revisions_url(others)).status_code == 404
    assert auth_client.post(restore_url(others, 1)).status_code == 404
    others.refresh_from_db()
    assert (others.title, others.version) == ("Still secret", 2)


def test_anonymous_revision_requests_are_401(api_client, note):
    assert api_client.get(revisions_url(note)).status_code == 401
    assert api_client.post(restore_url(note, 1)).status_code == 401


def test_listing_revisions_costs_three_queries(auth_client, note, django_assert_num_queries):
    for n in range(10):
        note = note_update(note=note, title=f"t{n}", tags=[f"t{n}"])

    with django_assert_num_queries(3):  # the token with its user, the note, the page
        response = auth_client.get(revisions_url(note))

    assert len(response.json()["results"]) == 10


# Deleting forever takes the history with it.


def test_deleting_forever_deletes_the_revisions(auth_client, note):
    note_update(note=note, title="Shopping")
    auth_client.delete(f"/api/notes/{note.pk}/")

    auth_client.delete(f"/api/trash/{note.pk}/")

    assert not Revision.objects.filter(note_id=note.pk).exists()


# changed_fields in the 412 answer comes from the revisions.


def stale_patch(client, note, if_match):
    return client.patch(f"/api/notes/{note.pk}/", {"title": "mine"}, HTTP_IF_MATCH=if_match)


def test_changed_fields_are_exactly_those_changed_since_the_clients_version(auth_client, note):
    note = note_update(note=note, content="bread")  # v2
    note = note_update(note=note, pinned=True)  # v3

    since_v1 = stale_patch(auth_client, note, '"1"').json()["changed_fields"]
    since_v2 = stale_patch(auth_client, note, '"2"').json()["changed_fields"]

    assert since_v1 == ["content", "pinned"]
    assert since_v2 == ["pinned"]


def test_a_field_changed_and_changed_back_is_not_reported(auth_client, note):
    note = note_update(note=note, tags=["work"])
    note = note_update(note=note, tags=["home"], content="bread")

    response = stale_patch(auth_client, note, '"1"')

    assert response.status_code == 412
    assert response.json()["changed_fields"] == ["content"]


def test_trash_and_restore_change_no_field(auth_client, note):
    note = note_trash(note=note)
    note_restore(note=note)

    response = stale_patch(auth_client, note, '"1"')

    assert response.status_code == 412
    assert response.json()["changed_fields"] == []


def test_changed_fields_are_all_when_the_version_is_older_than_the_kept_revisions(auth_client, note, settings):
    settings.NOTES_REVISIONS_KEPT = 2
    for content in ["a", "b", "c"]:
        note = note_update(note=note, content=content)

    response = stale_patch(auth_client, note, '"1"')

    assert Revision.objects.filter(note=note, version=1).exists() is False
    assert response.json()["changed_fields"] == ["title", "content", "pinned", "tags"]


@pytest.mark.parametrize("if_match", ['"7"', '"abc"'])
def test_changed_fields_are_all_for_a_version_the_note_never_had(auth_client, note, if_match):
    note_update(note=note, content="bread")

    response = stale_patch(auth_client, note, if_match)

    assert response.json()["changed_fields"] == ["title", "content", "pinned", "tags"]


def test_changed_fields_since_several_versions_are_their_union(user):
    note = NoteFactory(owner=user, title="a", content="a")
    note = note_update(note=note, title="b")  # v2
    note = note_update(note=note, content="b")  # v3

    assert changed_fields_since(note, {1, 2}) == ["title", "content"]
    assert changed_fields_since(note, {2}) == ["content"]


def test_a_stale_write_in_the_service_reports_what_changed(user):
    from notes.services import VersionConflict

    note = NoteFactory(owner=user, title="a")
    stale = Note.objects.get(pk=note.pk)
    note_update(note=note, pinned=True)

    with pytest.raises(VersionConflict) as conflict:
        note_update(note=stale, if_match={1}, title="b")

    assert conflict.value.changed_fields == ["pinned"]

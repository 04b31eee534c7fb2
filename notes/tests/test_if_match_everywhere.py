"""Every endpoint that changes a note honours If-Match (a stale one is 412 and changes nothing) and If-None-Match."""

import pytest

from notes.models import Note, Revision
from notes.services import note_restore, note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def live_note(user):
    note = NoteFactory(owner=user, title="t", content="v1")
    return note_update(note=note, content="v2")  # version 2, revision 1 kept


def trashed_note(user):
    return note_trash(note=live_note(user))  # version 3


ENDPOINTS = {
    "put note": (live_note, "put", "/api/notes/{pk}/", {"title": "mine"}),
    "patch note": (live_note, "patch", "/api/notes/{pk}/", {"title": "mine"}),
    "trash note": (live_note, "delete", "/api/notes/{pk}/", None),
    "restore revision": (live_note, "post", "/api/notes/{pk}/revisions/1/restore/", None),
    "restore from trash": (trashed_note, "post", "/api/trash/{pk}/restore/", None),
    "delete forever": (trashed_note, "delete", "/api/trash/{pk}/", None),
}


def snapshot(pk):
    note = Note.objects.get(pk=pk)
    revisions = list(Revision.objects.filter(note_id=pk).values_list("version", flat=True))
    return (note.title, note.content, note.version, note.deleted_at, revisions)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_stale_if_match_is_412_and_changes_nothing(auth_client, user, endpoint):
    make, method, path, data = ENDPOINTS[endpoint]
    note = make(user)
    before = snapshot(note.pk)

    response = getattr(auth_client, method)(path.format(pk=note.pk), data, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    body = response.json()
    assert set(body) == {"detail", "current", "changed_fields"}
    assert body["current"]["id"] == note.pk
    assert body["current"]["version"] == note.version
    assert body["changed_fields"] == ["content"]
    assert response["ETag"] == f'"{note.version}"'
    assert snapshot(note.pk) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_current_if_match_is_accepted(auth_client, user, endpoint):
    make, method, path, data = ENDPOINTS[endpoint]
    note = make(user)

    response = getattr(auth_client, method)(path.format(pk=note.pk), data, HTTP_IF_MATCH=f'"{note.version}"')

    assert response.status_code in {200, 204}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("header", ["*", '"{version}"', 'W/"{version}"', '"1", "{version}"'])
def test_if_none_match_naming_the_note_is_412_and_changes_nothing(auth_client, user, endpoint, header):
    make, method, path, data = ENDPOINTS[endpoint]
    note = make(user)
    before = snapshot(note.pk)

    response = getattr(auth_client, method)(
        path.format(pk=note.pk), data, HTTP_IF_NONE_MATCH=header.format(version=note.version)
    )

    assert response.status_code == 412
    assert response.json()["detail"] == f"If-None-Match names version {note.version}, the note's own."
    assert (response.json()["current"]["version"], response.json()["changed_fields"]) == (note.version, [])
    assert snapshot(note.pk) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_if_none_match_naming_another_version_lets_the_change_through(auth_client, user, endpoint):
    make, method, path, data = ENDPOINTS[endpoint]
    note = make(user)

    response = getattr(auth_client, method)(path.format(pk=note.pk), data, HTTP_IF_NONE_MATCH='"1"')

    assert response.status_code in {200, 204}


def test_a_restore_that_lost_the_race_is_not_found(user):
    """A note restored by another client is no longer in the trash to restore."""
    from django.http import Http404

    note = trashed_note(user)
    stale = Note.objects.get(pk=note.pk)
    note_restore(note=note)

    with pytest.raises(Http404):
        note_restore(note=stale)


def test_a_stale_restore_in_the_service_is_refused(user):
    """If-Match is checked again where the change is made, after the view's check."""
    from notes.services import VersionConflict, note_delete_forever

    note = trashed_note(user)
    stale = Note.objects.get(pk=note.pk)
    note_restore(note=note)
    note_trash(note=note)

    with pytest.raises(VersionConflict):
        note_delete_forever(note=stale, if_match={3})

    assert Note.objects.filter(pk=note.pk).exists()


READS = {"note": (live_note, "/api/notes/{pk}/"), "trashed note": (trashed_note, "/api/trash/{pk}/")}


@pytest.mark.parametrize("read", READS)
def test_a_read_whose_if_match_names_another_version_is_412(auth_client, user, read):
    # RFC 9110, 13.1.1: a GET is not performed either when If-Match is false.
    make, path = READS[read]
    note = make(user)

    stale = auth_client.get(path.format(pk=note.pk), HTTP_IF_MATCH='"1"')
    current = auth_client.get(path.format(pk=note.pk), HTTP_IF_MATCH=f'"1", "{note.version}"')
    any_version = auth_client.get(path.format(pk=note.pk), HTTP_IF_MATCH="*")
    both = auth_client.get(path.format(pk=note.pk), HTTP_IF_MATCH='"1"', HTTP_IF_NONE_MATCH=f'"{note.version}"')

    assert (stale.status_code, stale["ETag"]) == (412, f'"{note.version}"')
    assert stale.json() == {"detail": f"If-Match names another version: the note is at version {note.version}."}
    assert (current.status_code, current.json()["version"]) == (200, note.version)
    assert any_version.status_code == 200
    assert both.status_code == 412  # If-Match is evaluated first (13.2.2)

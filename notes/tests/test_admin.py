"""The admin changes notes through the same services as the API."""

import pytest

from accounts.tests.factories import UserFactory
from notes.models import Note, NoteTag
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_changelist_shows_notes_with_filters_and_search(admin_client, user):
    NoteFactory(owner=user, title="Findable", tags=["home"])
    NoteFactory(owner=user, title="Other")

    response = admin_client.get("/admin/notes/note/", {"q": "Findable", "tag": "home", "pinned__exact": "0"})

    assert response.status_code == 200
    assert b"Findable" in response.content
    assert b"Other" not in response.content
    for filter_title in [b"By pinned", b"By tag", b"By trashed", b"By owner"]:
        assert filter_title in response.content


def test_trashed_filter_separates_trashed_notes(admin_client, user):
    NoteFactory(owner=user, title="Alive")
    gone = NoteFactory(owner=user, title="Gone")
    admin_client.post("/admin/notes/note/", {"action": "move_to_trash", "_selected_action": [gone.pk]})

    trashed = admin_client.get("/admin/notes/note/", {"trashed": "yes"}).content

    assert b"Gone" in trashed
    assert b"Alive" not in trashed


def test_adding_a_note_goes_through_the_services(admin_client, user):
    response = admin_client.post(
        "/admin/notes/note/add/",
        {"owner": user.pk, "title": "  From admin ", "content": "body", "tags": "Home, work, home"},
    )

    assert response.status_code == 302
    note = Note.objects.get()
    assert (note.owner, note.title, note.tags, note.version) == (user, "From admin", ["home", "work"], 1)
    assert sorted(NoteTag.objects.filter(note=note).values_list("name", flat=True)) == ["home", "work"]


def test_editing_bumps_the_version_and_reindexes_tags(admin_client, user):
    note = NoteFactory(owner=user, title="Before", tags=["old"])

    response = admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"title": "After", "content": note.content, "tags": "new", "seen_version": note.version},
    )

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.title, note.tags, note.version, note.owner) == ("After", ["new"], 2, user)
    assert list(NoteTag.objects.filter(note=note).values_list("name", flat=True)) == ["new"]


def test_saving_unchanged_bumps_nothing(admin_client, user):
    note = NoteFactory(owner=user, tags=["a"])

    admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"title": note.title, "content": note.content, "tags": "a", "seen_version": note.version},
    )

    note.refresh_from_db()
    assert note.version == 1


@pytest.mark.parametrize("tags", ["bad tag", "semi;colon", ",".join(f"t{i}" for i in range(21))])
def test_invalid_tags_are_refused_by_the_form(admin_client, user, tags):
    response = admin_client.post("/admin/notes/note/add/", {"owner": user.pk, "title": "t", "tags": tags})

    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not Note.objects.exists()


def test_blank_title_is_refused_by_the_form(admin_client, user):
    response = admin_client.post("/admin/notes/note/add/", {"owner": user.pk, "title": "   ", "tags": ""})

    assert response.status_code == 200
    assert not Note.objects.exists()


def test_timestamps_and_version_are_read_only(admin_client, user):
    note = NoteFactory(owner=user)

    page = admin_client.get(f"/admin/notes/note/{note.pk}/change/").content.decode()

    for field in ["created_at", "updated_at", "version", "deleted_at"]:
        assert f'name="{field}"' not in page


def test_delete_moves_the_note_to_the_trash(admin_client, user):
    note = NoteFactory(owner=user)

    response = admin_client.post(f"/admin/notes/note/{note.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    note.refresh_from_db()
    assert note.deleted_at is not None
    assert note.version == 2


def test_bulk_pin_and_unpin_bump_each_note(admin_client, user):
    notes = NoteFactory.create_batch(3, owner=user)
    selected = [note.pk for note in notes]

    admin_client.post("/admin/notes/note/", {"action": "pin", "_selected_action": selected})
    pinned = list(Note.objects.filter(pk__in=selected).values_list("pinned", "version"))
    admin_client.post("/admin/notes/note/", {"action": "unpin", "_selected_action": selected})
    unpinned = list(Note.objects.filter(pk__in=selected).values_list("pinned", "version"))

    assert pinned == [(True, 2)] * 3
    assert unpinned == [(False, 3)] * 3


def test_bulk_trash_trashes_each_note_and_there_is_no_hard_bulk_delete(admin_client, user):
    notes = NoteFactory.create_batch(2, owner=user)

    response = admin_client.get("/admin/notes/note/")
    admin_client.post("/admin/notes/note/", {"action": "move_to_trash", "_selected_action": [n.pk for n in notes]})

    assert b"delete_selected" not in response.content
    assert Note.objects.trashed().count() == 2

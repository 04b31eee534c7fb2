"""The admin changes notes through the same services: revisions and trash hold."""

import pytest

from notes.models import Note, Revision
from notes.services import note_trash, note_update
from notes.tests.admin_helpers import confirmation_form
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/notes/note/"


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Groceries", content="milk", tags=["home"])


def run_action(client, action, notes):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [note.pk for note in notes]})


def test_an_admin_edit_keeps_a_revision(admin_client, note):
    response = admin_client.post(
        f"{CHANGELIST}{note.pk}/change/",
        {"title": "Shopping", "content": "bread", "pinned": "on", "tags": "home, work", "seen_version": note.version},
    )

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.title, note.pinned, note.tags, note.version) == ("Shopping", True, ["home", "work"], 2)
    kept = Revision.objects.get(note=note)
    assert (kept.version, kept.title, kept.content) == (1, "Groceries", "milk")


def test_bulk_pin_keeps_a_revision_of_each_note(admin_client, user):
    notes = NoteFactory.create_batch(3, owner=user)

    run_action(admin_client, "pin", notes)

    assert set(Note.objects.values_list("pinned", "version")) == {(True, 2)}
    assert Revision.objects.filter(note__in=notes, version=1, pinned=False).count() == 3


def test_bulk_trash_moves_notes_to_the_trash_with_revisions(admin_client, user):
    notes = NoteFactory.create_batch(2, owner=user)

    run_action(admin_client, "move_to_trash", notes)

    assert Note.objects.trashed().count() == 2
    assert Revision.objects.filter(note__in=notes, version=1).count() == 2


def test_bulk_restore_takes_notes_out_of_the_trash(admin_client, user):
    notes = [note_trash(note=NoteFactory(owner=user)) for _ in range(2)]
    live = NoteFactory(owner=user)

    run_action(admin_client, "restore_from_trash", [*notes, live])

    assert Note.objects.trashed().count() == 0
    assert sorted(Note.objects.values_list("version", flat=True)) == [1, 3, 3]
    assert Revision.objects.filter(note__in=notes, version=2).count() == 2


def test_admin_delete_of_a_live_note_moves_it_to_the_trash(admin_client, note):
    response = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.is_trashed, note.version) == (True, 2)
    assert Revision.objects.filter(note=note, version=1).exists()


def test_admin_delete_of_a_trashed_note_deletes_it_forever(admin_client, note):
    note_update(note=note, title="Shopping")
    note_trash(note=note)
    form = confirmation_form(admin_client, f"{CHANGELIST}{note.pk}/delete/")

    response = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", form)

    assert response.status_code == 302
    assert not Note.objects.filter(pk=note.pk).exists()
    assert not Revision.objects.filter(note_id=note.pk).exists()


def test_the_change_page_shows_the_history(admin_client, note):
    note_update(note=note, title="Shopping", content="bread")

    response = admin_client.get(f"{CHANGELIST}{note.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    revision = Revision.objects.get(note=note)
    assert f'<a href="/admin/notes/revision/{revision.pk}/change/">1</a>' in page
    assert "<td>Groceries</td><td>milk</td>" in page


def test_the_history_escapes_what_it_shows(admin_client, note):
    note_update(note=note, title="<script>alert(1)</script>")
    note_update(note=note, title="safe")

    page = admin_client.get(f"{CHANGELIST}{note.pk}/change/").content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_revision_opens_read_only(admin_client, note):
    note_update(note=note, content="bread")
    revision = Revision.objects.get(note=note)

    response = admin_client.get(f"/admin/notes/revision/{revision.pk}/change/")

    assert response.status_code == 200
    assert "milk" in response.content.decode()
    assert admin_client.post(f"/admin/notes/revision/{revision.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Revision.objects.filter(pk=revision.pk).exists()


def test_a_trashed_note_is_shown_but_not_edited(admin_client, note):
    note_trash(note=note)

    page = admin_client.get(f"{CHANGELIST}{note.pk}/change/")
    post = admin_client.post(f"{CHANGELIST}{note.pk}/change/", {"title": "x", "content": "", "tags": ""})

    assert page.status_code == 200
    assert post.status_code == 403
    note.refresh_from_db()
    assert (note.title, note.version) == ("Groceries", 2)

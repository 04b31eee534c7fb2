"""The migration that adds the change feed places the notes already there in it (issue 5)."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from notes.models import ChangeCounter, Note
from notes.services import note_create
from notes.tests.migration_helpers import migrate

BEFORE = [("notes", "0004_note_search")]
AFTER = [("notes", "0005_change_feed")]


@pytest.mark.django_db(transaction=True)
def test_existing_notes_get_positions_in_their_owners_feed():
    alice, bob = UserFactory(), UserFactory()
    old_apps = migrate(BEFORE)
    try:
        OldNote = old_apps.get_model("notes", "Note")
        now = timezone.now()
        for owner, title in [(alice, "a1"), (bob, "b1"), (alice, "a2")]:
            OldNote.objects.create(owner_id=owner.pk, title=title, created_at=now, updated_at=now)
        migrate(AFTER)
    finally:
        migrate()  # whatever comes later, for the tests that follow

    notes = {note.title: note for note in Note.objects.all()}
    newest = note_create(owner=alice, title="a3")

    assert all(note.change_seq == note.pk for note in notes.values())
    assert ChangeCounter.objects.get(owner=alice).last_seq == notes["a2"].pk + 1
    assert ChangeCounter.objects.get(owner=bob).last_seq == notes["b1"].pk
    assert newest.change_seq == notes["a2"].pk + 1

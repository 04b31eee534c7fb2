"""The migration that renormalises tags stored before a tag normalised to itself."""

import pytest

from notes.models import Note, NoteTag
from notes.services import note_create
from notes.tests.factories import NoteFactory
from notes.tests.migration_helpers import migrate

BEFORE = [("notes", "0006_attachments_and_public_links")]
AFTER = [("notes", "0007_renormalise_tags")]


@pytest.mark.django_db(transaction=True)
def test_a_tag_stored_decomposed_becomes_the_tag_it_names(user, auth_client):
    decomposed = NoteFactory(owner=user, tags=["home"])
    composed = note_create(owner=user, title="B", tags=["\u01f0"])
    # As the old rule stored "J" + caron: lower-cased, not composed again.
    Note.objects.filter(pk=decomposed.pk).update(tags=["home", "j\u030c"])
    NoteTag.objects.create(note=decomposed, owner=user, name="j\u030c")
    migrate(BEFORE)
    try:
        migrate(AFTER)
    finally:
        migrate()

    changed = Note.objects.get(pk=decomposed.pk)
    assert changed.tags == ["home", "\u01f0"]
    assert Note.objects.get(pk=composed.pk).tags == ["\u01f0"]
    # A change like any other: a new version and ETag, a new place in the feed, the old state kept.
    assert changed.version == decomposed.version + 1
    assert changed.change_seq > Note.objects.get(pk=composed.pk).change_seq
    assert changed.revisions.get(version=decomposed.version).tags == ["home", "j\u030c"]
    assert Note.objects.get(pk=composed.pk).version == composed.version
    assert sorted(NoteTag.objects.filter(note=decomposed).values_list("name", flat=True)) == ["home", "\u01f0"]
    assert auth_client.get("/api/tags/").json()["results"] == [
        {"name": "\u01f0", "count": 2},
        {"name": "home", "count": 1},
    ]

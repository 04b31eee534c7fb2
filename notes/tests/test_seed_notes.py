"""manage.py seed_notes: realistic notes in bulk, indexed like any other."""

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note, NoteTag
from notes.search import search_notes
from notes.searchtext import query_terms, search_text

pytestmark = pytest.mark.django_db


def test_seed_creates_notes_with_tags_and_search_text(user, capsys):
    call_command("seed_notes", user=user.username, count=300, batch_size=70)

    notes = Note.objects.owned_by(user)
    assert notes.count() == 300
    assert NoteTag.objects.filter(owner=user).count() == sum(len(note.tags) for note in notes)
    for note in notes[:50]:
        assert note.search_content == search_text(note.content)
    assert "300 notes" in capsys.readouterr().out


def test_seeded_notes_are_found_by_search(user):
    call_command("seed_notes", user=user.username, count=200)
    note = Note.objects.owned_by(user).filter(content__contains="See ").first()
    word = note.content.split("See ")[1].split(".")[0]

    found = search_notes(Note.objects.owned_by(user).alive(), owner=user, terms=query_terms(word))

    assert note in found


def test_seed_creates_a_missing_user(db):
    call_command("seed_notes", user="seeded", count=3)

    assert Note.objects.filter(owner__username="seeded").count() == 3


def test_seed_is_deterministic_for_a_seed(user, other_user):
    call_command("seed_notes", user=user.username, count=20, seed=7)
    call_command("seed_notes", user=other_user.username, count=20, seed=7)

    mine = list(Note.objects.owned_by(user).order_by("id").values_list("title", "content"))
    theirs = list(Note.objects.owned_by(other_user).order_by("id").values_list("title", "content"))
    assert mine == theirs


@pytest.mark.parametrize("count", [0, -5])
def test_seed_refuses_a_count_below_one(user, count):
    with pytest.raises(CommandError):
        call_command("seed_notes", user=user.username, count=count)

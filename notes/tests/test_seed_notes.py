"""manage.py seed_notes: realistic notes in bulk, indexed like any other."""

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note, NoteTag
from notes.search import search_notes
from notes.searchtext import query_terms, search_text

pytestmark = pytest.mark.django_db


def test_seed_creates_notes_with_tags_and_search_text(user, capsys):
    call_command("seed_notes", user=user.username, count=300, batch_size=70, writers=1)

    notes = Note.objects.owned_by(user)
    assert notes.count() == 300
    assert NoteTag.objects.filter(owner=user).count() == sum(len(note.tags) for note in notes)
    for note in notes[:50]:
        assert note.search_content == search_text(note.content)
    assert "300 notes" in capsys.readouterr().out


def test_seeded_notes_are_found_by_search(user):
    call_command("seed_notes", user=user.username, count=200, writers=1)
    note = Note.objects.owned_by(user).filter(content__contains="See ").first()
    word = note.content.split("See ")[1].split(".")[0]

    found = search_notes(Note.objects.owned_by(user).alive(), owner=user, terms=query_terms(word))

    assert note in found


def test_seed_creates_a_missing_user(db):
    call_command("seed_notes", user="seeded", count=3, writers=1)

    assert Note.objects.filter(owner__username="seeded").count() == 3


def test_seed_is_deterministic_for_a_seed(user, other_user):
    call_command("seed_notes", user=user.username, count=20, seed=7, writers=1)
    call_command("seed_notes", user=other_user.username, count=20, seed=7, writers=1)

    mine = list(Note.objects.owned_by(user).order_by("id").values_list("title", "content"))
    theirs = list(Note.objects.owned_by(other_user).order_by("id").values_list("title", "content"))
    assert mine == theirs


@pytest.mark.postgresql
# Committed for real, so the writers' own connections see the user; the
# listed apps let the flush afterwards cascade to knox's unused token table.
@pytest.mark.django_db(
    transaction=True,
    available_apps=["django.contrib.auth", "django.contrib.contenttypes", "knox", "accounts", "notes"],
)
def test_parallel_writers_create_every_note_indexed(user):
    # PostgreSQL's default: several connections write batches at once.
    call_command("seed_notes", user=user.username, count=500, batch_size=60, writers=3)

    notes = Note.objects.owned_by(user)
    assert notes.count() == 500
    assert len(set(notes.values_list("title", "content"))) > 400
    note = notes.filter(content__contains="See ").order_by("?").first()
    word = note.content.split("See ")[1].split(".")[0]
    assert note in search_notes(notes.alive(), owner=user, terms=query_terms(word))


@pytest.mark.parametrize(
    "option", [{"count": 0}, {"count": -5}, {"count": 5, "batch_size": 0}, {"count": 5, "writers": 0}]
)
def test_seed_refuses_numbers_below_one(user, option):
    with pytest.raises(CommandError):
        call_command("seed_notes", user=user.username, **option)


def test_seed_finds_its_user_in_any_case(user):
    call_command("seed_notes", user=user.username.upper(), count=2, writers=1)

    assert Note.objects.owned_by(user).count() == 2


@pytest.mark.parametrize("name", ["", "x" * 151, "two words"])
def test_seed_refuses_a_name_no_user_can_have(db, name):
    with pytest.raises(CommandError, match="Cannot create user"):
        call_command("seed_notes", user=name, count=1, writers=1)

    assert not Note.objects.exists()

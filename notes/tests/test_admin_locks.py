"""An admin save takes its locks in the order every other change does (issue A1).

Every change takes the owner's feed counter before any note row
(notes.services); an admin form that locked the note while checking its
version, and only then saved through the services, crossed an API edit of
the same note, and PostgreSQL broke the deadlock with a 500.
"""

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from accounts.tests.factories import UserFactory
from notes.admin import NoteAdminForm
from notes.models import Note
from notes.tests.factories import NoteFactory
from notesite.tests.threads import in_thread

WAIT = 30  # seconds: only ever reached when something is broken


def finished_or_waiting_for_a_lock(thread):
    """Until `thread` is done, or some PostgreSQL session of this database waits for a lock."""
    deadline = time.monotonic() + WAIT
    while thread.is_alive() and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)


def admin_save_held_after_its_check(note, monkeypatch):
    """An admin saving `note` from its change page, held between the form's check and its save.

    Returns the admin's client, the event that lets the save go on, the
    saving thread and the dict its answer lands in (under "admin").
    """
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    checked, go_on = threading.Event(), threading.Event()
    clean = NoteAdminForm.clean

    def clean_then_wait(form):
        cleaned_data = clean(form)
        checked.set()
        go_on.wait(WAIT)
        return cleaned_data

    monkeypatch.setattr(NoteAdminForm, "clean", clean_then_wait)
    results = {}
    saving = in_thread(
        lambda: admin.post(
            f"/admin/notes/note/{note.pk}/change/",
            {"title": "From the admin", "content": "milk", "tags": "", "seen_version": note.version},
        ),
        results,
        "admin",
    )
    assert checked.wait(WAIT)
    return admin, go_on, saving, results


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_admin_save_and_an_api_edit_of_the_same_note_never_deadlock(auth_client, user, monkeypatch):
    note = NoteFactory(owner=user, title="Groceries", content="milk")
    # The API edit comes in between the form's check and its save.
    _, go_on, saving, results = admin_save_held_after_its_check(note, monkeypatch)
    editing = in_thread(
        lambda: auth_client.patch(f"/api/notes/{note.pk}/", {"content": "oat milk"}, format="json"), results, "api"
    )
    finished_or_waiting_for_a_lock(editing)
    go_on.set()
    editing.join(WAIT)
    saving.join(WAIT)

    assert getattr(results["api"], "status_code", results["api"]) == 200
    assert getattr(results["admin"], "status_code", results["admin"]) == 200  # the form again, with its error
    assert "The note was changed while this page was open (it is at version 2 now)" in results["admin"].content.decode()
    saved = Note.objects.get(pk=note.pk)
    assert (saved.title, saved.content, saved.version) == ("Groceries", "oat milk", 2)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("forever", [False, True], ids=["trashed", "deleted forever"])
def test_an_admin_save_racing_the_owner_trashing_the_note_says_nothing_was_saved(
    auth_client, user, monkeypatch, forever
):
    note = NoteFactory(owner=user, title="Groceries", content="milk")
    admin, go_on, saving, results = admin_save_held_after_its_check(note, monkeypatch)
    trashed = auth_client.delete(f"/api/notes/{note.pk}/")
    if forever:
        assert auth_client.delete(f"/api/trash/{note.pk}/").status_code == 204
    go_on.set()
    saving.join(WAIT)

    assert trashed.status_code == 204
    assert getattr(results["admin"], "status_code", results["admin"]) == 302  # not a 404 or a 500
    assert results["admin"]["Location"] == "/admin/notes/note/"
    assert "nothing was saved" in admin.get("/admin/notes/note/").content.decode()
    if forever:
        assert not Note.objects.filter(pk=note.pk).exists()
    else:
        saved = Note.objects.get(pk=note.pk)
        assert (saved.title, saved.is_trashed) == ("Groceries", True)

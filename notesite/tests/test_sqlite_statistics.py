"""Each SQLite connection keeps the query planner's statistics, so a search runs from its index."""

import time

import pytest
from django.db import connection

from notes.models import Note
from notes.search import search_notes
from notes.searchtext import query_terms
from notes.tests.factories import NoteFactory
from notesite.sqlite.base import writer_lock

pytestmark = [pytest.mark.sqlite, pytest.mark.django_db(transaction=True)]


def statistics_of(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = %s", [table])
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def unshared_connection():
    """The connection as a server's thread has it: its own (a live server, once started, shares it)."""
    shared = 0
    while connection.allow_thread_sharing:
        connection.dec_thread_sharing()
        shared += 1
    yield
    for _ in range(shared):
        connection.inc_thread_sharing()


@pytest.fixture
def notes(user):
    NoteFactory.create_batch(30, owner=user, content="meeting notes")
    with connection.cursor() as cursor:
        # No statistics, as in a database nothing has analysed (an earlier test's are forgotten).
        if statistics_of("notes_note"):
            cursor.execute("DELETE FROM sqlite_stat1")
            cursor.execute("ANALYZE sqlite_schema")  # reloads them: none
    connection.optimize_due = 0.0  # as for a new connection


def test_a_request_leaves_the_planners_statistics(auth_client, notes):
    assert statistics_of("notes_note") == 0

    response = auth_client.get("/api/notes/", {"search": "meeting"})

    assert response.status_code == 200
    assert statistics_of("notes_note") > 0
    assert connection.optimize_due > time.monotonic() + 3000  # then hourly


def test_not_while_a_writer_of_the_process_holds_the_lock(auth_client, notes):
    lock = writer_lock(connection.settings_dict["NAME"])
    with lock:
        auth_client.get("/api/notes/", {"search": "meeting"})

    assert statistics_of("notes_note") == 0
    assert connection.optimize_due == 0.0  # still due: after the next request


def test_with_statistics_a_search_starts_from_the_full_text_index(auth_client, user, notes):
    auth_client.get("/api/notes/", {"search": "meeting"})
    search = search_notes(Note.objects.owned_by(user).alive(), owner=user, terms=query_terms("meeting"))[:8]
    sql, params = search.query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [detail for *_, detail in cursor.fetchall()]

    # Not the owner's notes one by one, each looked up in the index.
    outer = next(step for step in plan if step.startswith(("SCAN", "SEARCH")))
    assert outer.startswith("SCAN notes_fts VIRTUAL TABLE"), plan


def test_not_on_a_connection_threads_share(auth_client, notes):
    connection.inc_thread_sharing()
    try:
        auth_client.get("/api/notes/", {"search": "meeting"})
    finally:
        connection.dec_thread_sharing()

    assert statistics_of("notes_note") == 0

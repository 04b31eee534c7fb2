"""The change feed never hands out a cursor past a change still in flight (issue 5).

Each test holds one change's transaction open on a real second connection,
lets other writers try their luck, reads the feed, then lets the change
commit and follows the cursor it was given. The method (a per-user counter
row, notes.feed) is explained in docs/sync.md.
"""

import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest
from django.db import connection, transaction

from notes import feed
from notes.models import Note
from notes.services import note_update
from notes.tests.factories import NoteFactory
from notesite.tests.servers import BASE_DIR, Server, manage, server_env
from notesite.tests.threads import in_thread

WAIT = 30  # seconds: only ever reached when something is broken


def follow(get, cursor=None):
    entries = []
    while True:
        page = get({"cursor": cursor} if cursor else {})
        entries += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return entries, cursor


def wait_for_lock_waiters(count):
    """Until `count` other PostgreSQL sessions wait for a row lock on a change counter."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                ["%notes_changecounter%"],
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.01)
    raise AssertionError("The second writer never waited for the first.")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_change_in_flight_holds_the_cursor_back(auth_client, user, other_user):
    def get(params):
        response = auth_client.get("/api/changes/", params)
        assert response.status_code == 200
        return response.json()

    early, late = NoteFactory(owner=user, title="early"), NoteFactory(owner=user, title="late")
    theirs = NoteFactory(owner=other_user, title="theirs")
    _, cursor = follow(get)
    holding, release = threading.Event(), threading.Event()

    def slow_change():
        with transaction.atomic():
            note_update(note=Note.objects.get(pk=early.pk), title="early, edited")
            holding.set()
            release.wait(WAIT)

    first = in_thread(slow_change)
    assert holding.wait(WAIT)
    # The same user's next change waits for the first to commit, before it
    # even has a position; another user's change commits right away.
    second = in_thread(lambda: note_update(note=Note.objects.get(pk=late.pk), title="late, edited"))
    wait_for_lock_waiters(1)
    note_update(note=theirs, title="theirs, edited")
    during = get({"cursor": cursor})
    release.set()
    first.join(WAIT)
    second.join(WAIT)
    after, _ = follow(get, during["cursor"])

    assert during["changes"] == []
    assert during["cursor"] == cursor
    assert [(entry["id"], entry["title"]) for entry in after] == [
        (early.pk, "early, edited"),
        (late.pk, "late, edited"),
    ]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_plain_sequence_would_lose_a_change_for_good(auth_client, user, monkeypatch):
    """Why the counter row: the scenario above with positions from a sequence."""

    def sequence_position(owner_id, by=1):
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('notes_purgednote', 'id')) + 1000000")
            return cursor.fetchone()[0]

    monkeypatch.setattr(feed, "advance", sequence_position)
    monkeypatch.setattr(feed, "_check_remembered", lambda owner, after: None)

    def get(params):
        return auth_client.get("/api/changes/", params).json()

    early, late = NoteFactory(owner=user, title="early"), NoteFactory(owner=user, title="late")
    _, cursor = follow(get)
    holding, release = threading.Event(), threading.Event()

    def slow_change():
        with transaction.atomic():
            note_update(note=Note.objects.get(pk=early.pk), title="early, edited")
            holding.set()
            release.wait(WAIT)

    first = in_thread(slow_change)
    assert holding.wait(WAIT)
    in_thread(lambda: note_update(note=Note.objects.get(pk=late.pk), title="late, edited")).join(WAIT)
    during = get({"cursor": cursor})
    release.set()
    first.join(WAIT)
    after, _ = follow(get, during["cursor"])

    assert [entry["title"] for entry in during["changes"]] == ["late, edited"]
    assert after == []  # "early, edited" committed behind the cursor: this client never sees it
    assert Note.objects.get(pk=early.pk).title == "early, edited"


HOLD = """
import sys
from django.db import transaction
from notes import feed
from notes.models import Note
from notes.services import note_update
with transaction.atomic():
    note_update(note=Note.objects.get(pk={pk}), title="early, edited")
    print("holding", flush=True)
    sys.stdin.readline()
"""

SEED = """
from accounts.models import AuthToken, User
from notes.services import note_create
user = User.objects.create_user("sync", password="sync-password-42")
early, late = note_create(owner=user, title="early"), note_create(owner=user, title="late")
print(AuthToken.objects.create(user=user)[1], early.pk, late.pk)
"""


@pytest.mark.sqlite
def test_on_sqlite_a_change_in_flight_holds_every_other_writer_back(tmp_path):
    env = server_env(tmp_path)
    manage(env, "migrate", "--noinput")
    token, early, late = manage(env, "shell", "--no-imports", "-c", SEED).stdout.split()
    auth = {"Authorization": f"Token {token}"}
    with Server(env) as server:

        def get(params):
            response = httpx.get(f"{server.url}/api/changes/", params=params, headers=auth)
            assert response.status_code == 200
            return response.json()

        _, cursor = follow(get)
        holder = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", HOLD.format(pk=early)],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "holding"
            # The change holds the database's one write lock (its transaction
            # began IMMEDIATE): no other transaction can even begin to write,
            # so none can take a later position and commit first.
            probe = sqlite3.connect(tmp_path / "notes.sqlite3", timeout=0)
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                probe.execute("BEGIN IMMEDIATE")
            probe.close()
            patched = {}
            writer = threading.Thread(
                target=lambda: patched.update(
                    response=httpx.patch(
                        f"{server.url}/api/notes/{late}/", json={"title": "late, edited"}, headers=auth, timeout=WAIT
                    )
                )
            )
            writer.start()
            during = get({"cursor": cursor})
        finally:
            holder.communicate("\n", timeout=WAIT)
        writer.join(WAIT)
        after, _ = follow(get, during["cursor"])

    assert holder.returncode == 0
    assert patched["response"].status_code == 200
    assert during["changes"] == []
    assert during["cursor"] == cursor
    assert [(entry["id"], entry["title"]) for entry in after] == [
        (int(early), "early, edited"),
        (int(late), "late, edited"),
    ]


def deleted_while_held(user, first_step, second_step=None):
    """What becomes of a transaction held open after `first_step` and of the account's deletion meanwhile.

    The deletion must wait for the transaction (asserted by seeing it wait
    for the feed counter), which then takes `second_step` and commits; each
    outcome is "committed" or the error's repr.
    """
    from accounts.services import user_delete

    holding, release = threading.Event(), threading.Event()
    outcome = {}

    def held():
        try:
            with transaction.atomic():
                first_step()
                holding.set()
                release.wait(WAIT)
                if second_step is not None:
                    second_step()
            outcome["held"] = "committed"
        except Exception as error:  # reported by the caller's assertion
            outcome["held"] = repr(error)

    def delete_account():
        try:
            user_delete(user=type(user).objects.get(pk=user.pk))
            outcome["deletion"] = "committed"
        except Exception as error:
            outcome["deletion"] = repr(error)

    holder = in_thread(held)
    assert holding.wait(WAIT)
    deletion = in_thread(delete_account)
    wait_for_lock_waiters(1)
    release.set()
    holder.join(WAIT)
    deletion.join(WAIT)
    return outcome


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_deleting_an_account_waits_for_its_changes_in_flight(user):
    note = NoteFactory(owner=user, tags=["home"])

    outcome = deleted_while_held(
        user,
        lambda: note_update(note=Note.objects.get(pk=note.pk), title="first step"),
        lambda: note_update(note=Note.objects.get(pk=note.pk), tags=["work"]),
    )

    assert outcome == {"held": "committed", "deletion": "committed"}
    assert not Note.objects.filter(pk=note.pk).exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_deleting_an_account_waits_for_a_link_being_shared(user):
    # The share locked the note, then its link; the deletion's cascade the link, then the note: a deadlock (500).
    from notes.models import PublicLink
    from notes.sharing.services import public_link_create

    note = NoteFactory(owner=user)
    public_link_create(note=note)

    outcome = deleted_while_held(user, lambda: public_link_create(note=note))

    assert outcome == {"held": "committed", "deletion": "committed"}
    assert not Note.objects.filter(pk=note.pk).exists()
    assert not PublicLink.objects.exists()

"""manage.py backup: a consistent SQLite copy taken while the server writes."""

import os
import shutil
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from notes.models import ChangeCounter
from notes.tests.factories import NoteFactory
from notesite.tests.servers import Server, manage, seed_users, server_env

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")

# Creates and edits notes through the services until `stop` exists, printing
# each note's id once its transaction has committed.
WRITER = """
import os, sys
import django
django.setup()
from pathlib import Path
from accounts.models import User
from notes.services import note_create, note_update

stop = Path(sys.argv[1])
owner = User.objects.create(username="writer")
number = 0
while not stop.exists():
    note = note_create(owner=owner, title=f"note {number}", content="x" * 2000, tags=["load"])
    note_update(note=note, content=f"edited {number}")
    print(note.pk, flush=True)
    number += 1
"""


def sqlite_environment(data_dir):
    """The environment of a server on its own SQLite database in `data_dir`."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(NOTES_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="notesite.settings", PYTHONPATH=".")
    return environment


@pytest.mark.sqlite
def test_backup_during_concurrent_writes_holds_every_note_committed_before_it(tmp_path):
    environment = sqlite_environment(tmp_path / "data")
    run = {"env": environment, "cwd": settings.BASE_DIR, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], check=True, **run)
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(stop)],
        env=environment,
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        committed = {int(writer.stdout.readline()) for _ in range(200)}

        backup = subprocess.run([sys.executable, MANAGE, "backup", str(tmp_path / "backup.sqlite3")], **run)

        after_backup = {int(writer.stdout.readline()) for _ in range(20)}  # the writer never stopped
    finally:
        stop.touch()
        writer.communicate(timeout=60)
    assert backup.returncode == 0, backup.stderr
    assert "Backed up" in backup.stdout
    assert after_backup
    copy = sqlite3.connect(tmp_path / "backup.sqlite3")
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    saved = {pk for (pk,) in copy.execute("SELECT id FROM notes_note")}
    assert committed <= saved
    # Every note in the copy is whole: its tag row and its revision came with it.
    assert copy.execute(
        "SELECT count(*) FROM notes_note n WHERE NOT EXISTS (SELECT 1 FROM notes_notetag t WHERE t.note_id = n.id)"
    ).fetchone() == (0,)
    copy.close()


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_copies_the_database_into_one_file(user, tmp_path):
    NoteFactory.create_batch(3, owner=user)
    out = StringIO()

    call_command("backup", str(tmp_path / "copy.sqlite3"), stdout=out)

    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT count(*) FROM notes_note").fetchone() == (3,)
    copy.close()
    assert "Backed up 3 note(s)" in out.getvalue()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.sqlite3"]


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_does_not_replace_a_file_unless_forced(tmp_path):
    target = tmp_path / "copy.sqlite3"
    target.write_bytes(b"precious")

    with pytest.raises(CommandError, match="--force"):
        call_command("backup", str(target), stdout=StringIO())

    assert target.read_bytes() == b"precious"
    call_command("backup", str(target), "--force", stdout=StringIO())
    assert target.read_bytes().startswith(b"SQLite format 3\x00")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_the_copy_forgets_the_feed_positions_it_handed_out_at_its_first_migrate(user, other_user, tmp_path):
    NoteFactory.create_batch(3, owner=user)
    live = dict(ChangeCounter.objects.values_list("owner_id", "last_seq"))
    call_command("backup", str(tmp_path / "copy.sqlite3"), stdout=StringIO())

    def counters():
        with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
            return copy.execute("SELECT owner_id, last_seq, forgotten_seq FROM notes_changecounter").fetchall()

    def migrate():
        return subprocess.run(
            [sys.executable, MANAGE, "migrate", "--noinput"],
            env={**sqlite_environment(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'copy.sqlite3'}"},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )

    as_written = counters()
    first = migrate()
    restored = counters()
    again = migrate()

    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert {owner: last for owner, last, _ in as_written} == live  # the copy as the database was
    assert {owner for owner, _, _ in restored} == {user.pk, other_user.pk}  # one for a user with no change too
    assert all(last == forgotten >= 2**40 + live.get(owner, 0) for owner, last, forgotten in restored)
    assert counters() == restored  # once: a restarted server does not jump again
    assert dict(ChangeCounter.objects.values_list("owner_id", "last_seq")) == live  # the live database unchanged


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_forget_feed_cursors_on_a_restored_copy_uses_up_its_mark(user, tmp_path):
    NoteFactory(owner=user)
    copy = tmp_path / "copy.sqlite3"
    call_command("backup", str(copy), stdout=StringIO())
    env = {**sqlite_environment(tmp_path), "DATABASE_URL": f"sqlite:///{copy}"}

    def run(*arguments):
        done = subprocess.run(
            [sys.executable, MANAGE, *arguments], env=env, cwd=settings.BASE_DIR, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(copy) as database:
            counters = database.execute("SELECT owner_id, last_seq, forgotten_seq FROM notes_changecounter").fetchall()
            return counters, database.execute("PRAGMA user_version").fetchone()[0]

    forgotten, mark = run("forget_feed_cursors")
    migrated = run("migrate", "--noinput")

    assert mark == 0
    assert migrated == (forgotten, 0)  # one jump, not two
    assert all(last == remembered >= 2**40 for _, last, remembered in forgotten)


@pytest.mark.sqlite
@pytest.mark.stress
def test_a_client_of_a_server_restored_from_a_backup_is_told_to_resync_each_time(tmp_path):
    env = server_env(tmp_path, WEB_CONCURRENCY=1)
    manage(env, "migrate", "--noinput", "-v", "0")
    [user] = seed_users(env, 1)
    token = {"Authorization": f"Token {user['token']}"}
    database = tmp_path / "notes.sqlite3"

    def create(client, *titles):
        for title in titles:
            assert client.post("/api/notes/", json={"title": title}).status_code == 201

    def follow(client, cursor=None):
        """(titles, the cursor to poll with), one change a page, as a mirror would."""
        titles = []
        while True:
            response = client.get("/api/changes/", params={"limit": 1, **({"cursor": cursor} if cursor else {})})
            assert response.status_code == 200, response.text
            page = response.json()
            titles += [note["title"] for note in page["changes"]]
            cursor = page["cursor"]
            if not page["has_more"]:
                return titles, cursor

    with Server(env) as server, httpx.Client(base_url=server.url, headers=token, timeout=30) as client:
        create(client, "A")
        manage(env, "backup", str(tmp_path / "backup.sqlite3"))
        create(client, "B after the backup", "C after the backup")
        _, cursor = follow(client)
    for restore in ["first", "second"]:
        # As the README says: the server stopped, its -wal removed, the file
        # replaced, then make run (which migrates first).
        for suffix in ["-wal", "-shm"]:
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        shutil.copy(tmp_path / "backup.sqlite3", database)
        manage(env, "migrate", "--noinput", "-v", "0")
        with Server(env) as server, httpx.Client(base_url=server.url, headers=token, timeout=30) as client:
            # More changes than the client had seen since the backup, under the ids it holds.
            create(client, *(f"{restore} restore {n}" for n in range(4)))
            stale = client.get("/api/changes/", params={"cursor": cursor})
            titles, cursor = follow(client)
            polled = client.get("/api/changes/", params={"cursor": cursor})
            create(client, f"after the {restore} re-sync")
            since, cursor = follow(client, cursor)

        assert stale.status_code == 410
        assert titles == ["A", *(f"{restore} restore {n}" for n in range(4))]
        assert polled.status_code == 200
        assert since == [f"after the {restore} re-sync"]


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_backup_replaces_only_a_regular_file(tmp_path, kind):
    # With --force, /dev/null itself became a 67 MB file.
    real = tmp_path / "real.txt"
    real.write_bytes(b"precious")
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to(real)

    with pytest.raises(CommandError, match="is not a regular file"):
        call_command("backup", str(target), "--force", stdout=StringIO())

    assert target.is_fifo() if kind == "fifo" else target.is_symlink()
    assert real.read_bytes() == b"precious"


@pytest.mark.sqlite
def test_backup_over_the_live_database_is_refused_and_leaves_it_whole(tmp_path):
    data = tmp_path / "data"
    run = {"env": sqlite_environment(data), "cwd": settings.BASE_DIR, "capture_output": True, "text": True}
    subprocess.run([sys.executable, MANAGE, "migrate", "--noinput"], check=True, timeout=120, **run)
    database = data / "notes.sqlite3"
    before = database.read_bytes()

    for target in (database, data / "notes.sqlite3-wal", data / ".." / "data" / "notes.sqlite3"):
        refused = subprocess.run([sys.executable, MANAGE, "backup", str(target), "--force"], timeout=120, **run)

        assert refused.returncode != 0
        assert "is the database itself" in refused.stderr
    assert database.read_bytes() == before
    with sqlite3.connect(database) as check:
        assert check.execute("PRAGMA quick_check").fetchone() == ("ok",)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_backup_inside_a_transaction_is_refused_not_stuck(tmp_path):
    with pytest.raises(CommandError, match="outside a transaction"):
        call_command("backup", str(tmp_path / "copy.sqlite3"), stdout=StringIO())


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_into_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("backup", str(tmp_path / "no" / "copy.sqlite3"), stdout=StringIO())


@pytest.mark.postgresql
@pytest.mark.django_db
def test_backup_on_postgresql_points_to_pg_dump_and_fails(tmp_path):
    with pytest.raises(CommandError, match="pg_dump") as error:
        call_command("backup", str(tmp_path / "copy"), stdout=StringIO())

    assert error.value.returncode != 0
    assert not (tmp_path / "copy").exists()

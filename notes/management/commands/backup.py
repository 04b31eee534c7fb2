import os
import sqlite3
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections

from notes.feed import RESTORED_COPY

PG_DUMP_ADVICE = (
    "This database is PostgreSQL: back it up with pg_dump, which takes a consistent snapshot while the "
    'server runs, e.g. pg_dump --format=custom --file=notes.dump "$DATABASE_URL", and restore with '
    'pg_restore --clean --if-exists --dbname="$DATABASE_URL" notes.dump, then run manage.py forget_feed_cursors '
    '(README, "Nothing lost").'
)


class Command(BaseCommand):
    help = (
        "Write a consistent copy of the SQLite database to PATH while the server keeps serving writes "
        "(SQLite's online backup API). On PostgreSQL, explains pg_dump and fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The backup file to write.")
        parser.add_argument("--force", action="store_true", help="Replace PATH if it exists.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias (default 'default').")

    def handle(self, *args, path, force, database, **options):
        connection = connections[database]
        if connection.vendor != "sqlite":
            raise CommandError(PG_DUMP_ADVICE)
        if connection.in_atomic_block:
            # The copy reads a snapshot of committed data; inside a transaction
            # SQLite's backup would wait for that transaction forever.
            raise CommandError("Run the backup outside a transaction.")
        target = Path(path).absolute()
        if _is_the_database(target, connection.settings_dict["NAME"]):
            # Renaming a copy over the live file would leave the server's -wal
            # and -shm beside a file they do not belong to: a corrupt database.
            raise CommandError(f"{target} is the database itself (or its journal); give another path for the copy.")
        if target.exists() and not force:
            raise CommandError(f"{target} exists; pass --force to replace it.")
        if target.is_dir():
            raise CommandError(f"{target} is a directory; give the backup file's path.")
        if target.is_symlink() or (target.exists() and not target.is_file()):
            # --force renames the copy over it: a link, a FIFO or /dev/null would become a file.
            raise CommandError(f"{target} is not a regular file; give the backup file's path.")
        if not target.parent.is_dir():
            raise CommandError(f"{target.parent} does not exist.")

        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        connection.ensure_connection()
        try:
            notes = _copy(connection.connection, partial)
            partial.replace(target)
            _fsync_directory(target.parent)
        finally:
            partial.unlink(missing_ok=True)
        self.stdout.write(f"Backed up {notes} note(s) to {target} ({target.stat().st_size} bytes).")


def _is_the_database(target, name):
    """Whether `target` is the database file, or one of the files SQLite keeps beside it."""
    database = Path(name).resolve()
    beside = {database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")}
    return target.resolve() in beside or (target.exists() and database.exists() and target.samefile(database))


def _copy(source, path):
    """Copy the database in one step: one read snapshot, which in WAL mode blocks no writer.

    (A copy in several steps restarts whenever another connection writes, so
    under steady writes it might never finish.) Returns the notes it holds.
    """
    copy = sqlite3.connect(path)
    try:
        source.backup(copy)
        # A single self-contained file, with no -wal beside it to lose.
        copy.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise CommandError(f"The copy failed its integrity check: {verdict}")
        (notes,) = copy.execute("SELECT count(*) FROM notes_note").fetchone()
        # Marked, so that the migrate that starts a server on it (make run, the
        # image's entrypoint) forgets the feed positions it handed out: a fresh
        # jump at each restore, however often this one file is restored.
        copy.execute(f"PRAGMA user_version = {RESTORED_COPY}")
        copy.commit()
    finally:
        copy.close()
    with path.open("rb") as file:
        os.fsync(file.fileno())
    return notes


def _fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

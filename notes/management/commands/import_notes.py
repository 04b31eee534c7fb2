from contextlib import nullcontext
from itertools import islice
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, transaction

from notes.attachments.storage import StorageUnavailable
from notes.management.commands.export_notes import _user
from notes.management.progress import Progress
from notes.transfer import entries, importing


class Command(BaseCommand):
    help = (
        "Import notes from PATH into a user's account, as POST /api/import/ does but without its caps: "
        "every note is validated first (any rejection imports nothing), then created in batches, each its "
        "own short transaction, so the server's other writers keep going."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The JSON export, the Markdown zip export, a .md, or a zip of .md files.")
        parser.add_argument("--user", required=True, help="The username who will own the notes.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Notes per transaction (default 500).")
        parser.add_argument(
            "--single-transaction",
            action="store_true",
            help="All or nothing even if the database fails midway; holds the write lock throughout "
            "(on SQLite, API writes waiting past NOTES_SQLITE_BUSY_TIMEOUT answer 503 meanwhile).",
        )

    def handle(self, *args, path, user, dry_run, batch_size, single_transaction, **options):
        owner = _user(user)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        path = Path(path)
        try:
            file = path.open("rb")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        with file:
            try:
                source = importing.open_import(file, name=path.name)
            except entries.Rejected as exc:
                self.report(exc.rejected)
            count = self.validate_entries(source)
            if dry_run:
                self.stdout.write(f"Dry run: {count} note(s) would be imported; nothing was written.")
                return
            with transaction.atomic() if single_transaction else nullcontext():
                created = self.create(source, owner, count, batch_size, single_transaction)
        self.stdout.write(f"Imported {created} note(s) for {owner.username}.")

    def validate_entries(self, source):
        """Validate every entry; report them all and stop if any is rejected."""
        rejected = []
        with Progress(self.stderr, "Checking ", len(source)) as progress:
            for entry in progress.iterate(importing.validated(source)):
                if entry.errors:
                    rejected.append({"entry": entry.name, "errors": entry.errors})
        if rejected:
            self.report(rejected)
        return progress.done

    def create(self, source, owner, count, batch_size, single_transaction):
        created = 0
        with Progress(self.stderr, "Importing", count) as progress:
            for batch in batched(importing.validated(source), batch_size):
                try:
                    created += len(importing.entries_create(owner=owner, entries=batch))
                except (DatabaseError, StorageUnavailable) as exc:
                    reason = str(exc).rstrip(".")
                    if single_transaction:
                        raise CommandError(f"Stopped: {reason}. Nothing was imported.") from exc
                    raise CommandError(
                        f"Stopped after {created} of {count} note(s), which were kept: {reason}. "
                        "Use --single-transaction to import all or nothing."
                    ) from exc
                progress.advance(len(batch))
        return created

    def report(self, rejected):
        for rejection in rejected:
            for field, messages in rejection["errors"].items():
                where = "" if field == entries.NON_FIELD else f" {field}:"
                self.stderr.write(f"{rejection['entry']}:{where} {' '.join(map(str, messages))}")
        raise CommandError(f"{len(rejected)} entr{'y' if len(rejected) == 1 else 'ies'} rejected; nothing imported.")


def batched(items, size):
    """Lists of `size` items (the last shorter): itertools.batched before Python 3.12."""
    items = iter(items)
    while batch := list(islice(items, size)):
        yield batch

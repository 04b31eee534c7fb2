import os
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notes.attachments.storage import StorageUnavailable
from notes.management.progress import Progress
from notes.models import Note
from notes.transfer import attached, exporting

FORMATS = {"json": exporting.export_json, "markdown": exporting.export_markdown_zip}


class Command(BaseCommand):
    help = (
        "Export a user's notes (not the trash) to PATH, as GET /api/export/ does: JSON, or a zip of Markdown "
        "files with a manifest. Notes are read in batches, so the server stays responsive."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The file to write; '-' writes to standard output.")
        parser.add_argument("--user", required=True, help="The username whose notes to export.")
        parser.add_argument(
            "--format",
            choices=sorted(FORMATS),
            help="json or markdown (default: markdown for a .zip path, else json).",
        )

    def handle(self, *args, path, user, format=None, **options):
        if path != "-" and not Path(path).name:
            raise CommandError(f"{path!r} names no file to write.")
        owner = _user(user)
        export_format = format or ("markdown" if path.lower().endswith(".zip") else "json")
        queryset = Note.objects.owned_by(owner).alive()
        with_attachments = _attachments_checked(queryset)
        with Progress(self.stderr, "Exporting", queryset.count()) as progress:
            notes = exporting.notes_by_id(queryset, with_attachments=with_attachments)
            chunks = FORMATS[export_format](progress.iterate(notes))
            try:
                if path == "-":
                    _write_to_stdout(chunks)
                else:
                    _write_atomically(Path(path), chunks)
            except attached.ExportInterrupted as exc:
                written = "what was written is incomplete" if path == "-" else f"{path} was not written"
                raise CommandError(f"The export stopped, and {written}: {exc}.") from None
            except OSError as exc:
                raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        if path != "-":
            self.stderr.write(f"Exported {progress.done} note(s) of {owner.username} to {path}.")


def _attachments_checked(queryset):
    """Whether the notes have attachments; CommandError, before anything is written, if storage lost any."""
    try:
        return exporting.attachments_checked(queryset)
    except exporting.AttachmentsMissing as exc:
        raise CommandError(
            f"The attachments storage cannot give back the bytes of attachment(s) {exc.names()}; nothing was "
            "written. Restore the attachments folder (or bucket) from the backup taken with the database, or "
            "upload those files again."
        ) from None
    except StorageUnavailable as exc:
        raise CommandError(f"Cannot export: {exc.detail}") from None


def _user(username):
    try:
        return get_user_model().objects.get_by_natural_key(username)  # in any case, as at login
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user named {username!r}.") from None


def _write_to_stdout(chunks):
    """Write to standard output; a reader that stops early (`| head`) ends the command quietly, as Unix tools do."""
    try:
        sys.stdout.buffer.writelines(chunks)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # As the Python docs advise (signal module, "Note on SIGPIPE"): standard
        # output now goes nowhere, so the flush at exit raises no second error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def _write_atomically(path, chunks):
    """Write beside `path` and rename at the end, so no half-written file ever has its name."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notes.attachments.files import files_sweep
from notes.feed import forget_tombstones
from notes.models import Note
from notes.services import notes_purge


class Command(BaseCommand):
    help = (
        "Delete forever the notes trashed more than NOTES_TRASH_DAYS days ago, the stored files no attachment "
        "refers to any more, and the change feed's tombstones of notes deleted forever more than "
        "NOTES_FEED_TOMBSTONE_DAYS days ago. Safe to run from cron while the server runs: it deletes in short "
        "transactions and leaves alone a note restored meanwhile."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Age in the trash, in days (default NOTES_TRASH_DAYS, now {settings.NOTES_TRASH_DAYS}).",
        )

    def handle(self, *args, days=None, **options):
        days = settings.NOTES_TRASH_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must not be negative.")
        cutoff = days_ago(days)
        deleted = notes_purge(notes=Note.objects.filter(deleted_at__lt=cutoff))
        self.stdout.write(f"Deleted {deleted} note(s) trashed before {minutes(cutoff)} UTC.")
        remembered_since = days_ago(settings.NOTES_FEED_TOMBSTONE_DAYS)
        forgotten = forget_tombstones(before=remembered_since)
        self.stdout.write(
            f"Forgot {forgotten} change feed tombstone(s) of notes deleted forever "
            f"before {minutes(remembered_since)} UTC."
        )
        swept = files_sweep()
        if swept:
            self.stdout.write(f"Deleted {swept} stored file(s) no attachment refers to.")


def days_ago(days):
    """The moment `days` days ago; a span reaching past year 1 (a way to say "keep forever") is year 1."""
    try:
        return timezone.now() - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def minutes(moment):
    return f"{moment.year:04d}-{moment:%m-%d %H:%M}"  # %Y writes year 1 as "1"

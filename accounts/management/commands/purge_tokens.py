"""Delete expired API tokens; safe to run from cron at any time, as often as liked."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import AuthToken

# A batch's ids are one statement's parameters, which databases bound.
MAX_BATCH_SIZE = 10_000


class Command(BaseCommand):
    help = "Delete expired API tokens (they already answer 401). Safe to run from cron."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1000,
            help="Tokens deleted per transaction, so a large purge never holds the database long (default 1000).",
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if batch_size > MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be at most {MAX_BATCH_SIZE}.")
        purged = 0
        while True:
            batch = list(AuthToken.objects.expired().values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            # Deleting by id is idempotent: a token a concurrent run or a
            # login already deleted is simply not counted.
            purged += AuthToken.objects.filter(pk__in=batch).delete()[0]
        self.stdout.write(f"Purged {purged} expired token(s).")

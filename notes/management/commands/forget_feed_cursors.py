from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS

from notes.feed import forget_every_position


class Command(BaseCommand):
    help = (
        "Make every change-feed cursor handed out so far answer 410, so that clients re-sync from the "
        "beginning. Run it after every restore (a SQLite copy, or a pg_dump), before starting the server."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database alias (default 'default').")

    def handle(self, *args, database, **options):
        forget_every_position(database)
        self.stdout.write("Every change-feed cursor handed out so far now answers 410: clients re-sync.")

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from notes.feed import forget_every_position_statements


class Command(BaseCommand):
    help = (
        "Make every change-feed cursor handed out so far answer 410, so that clients re-sync from the "
        "beginning. Run it after restoring the database from a pg_dump, before starting the server (a "
        "SQLite copy written by manage.py backup needs nothing: the first migrate on it does this)."
    )

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in forget_every_position_statements():
                cursor.execute(statement)
        self.stdout.write("Every change-feed cursor handed out so far now answers 410: clients re-sync.")

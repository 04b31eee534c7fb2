from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_search_index(using, **kwargs):
    """Put back the search index if a migration dropped part of it.

    Django rebuilds a SQLite table to alter it, and the rebuilt table has
    none of the triggers that keep the search index in step (notes.search).
    """
    from django.db import connections

    from notes.search import install_index

    connection = connections[using]
    if "notes_note" in connection.introspection.table_names():
        install_index(connection)


def ensure_cache_table(using, **kwargs):
    """Create the database cache's table if it is missing (createcachetable skips one that exists).

    Migration 0002 creates it once, and not while REDIS_URL is set: a database
    migrated with Redis and then served without it had none, and every
    throttle, unable to count, let every request by.
    """
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


def forget_positions_of_a_restored_copy(using, **kwargs):
    """On a SQLite copy written by `manage.py backup`, forget every feed position it had handed out.

    Migrate runs when a server starts on a restored copy (make run, the
    image's entrypoint): each restore gets a jump of its own (notes.feed).
    """
    from django.db import connections

    from notes.feed import RESTORED_COPY, forget_every_position

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA user_version")
        marked = cursor.fetchone()[0] == RESTORED_COPY
    if marked:
        forget_every_position(using)


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes"

    def ready(self):
        post_migrate.connect(ensure_search_index, sender=self)
        post_migrate.connect(ensure_cache_table, sender=self)
        post_migrate.connect(forget_positions_of_a_restored_copy, sender=self)

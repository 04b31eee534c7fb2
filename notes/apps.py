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


class NotesConfig(AppConfig):
    name = "notes"
    verbose_name = "Notes"

    def ready(self):
        post_migrate.connect(ensure_search_index, sender=self)

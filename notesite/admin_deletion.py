"""Deleting from the admin an object that owns others: what it owns goes with it, as the services delete it.

Django's delete confirmation asks for delete permission on every model with
an admin page that the deletion cascades to. Some of the project's pages
refuse deleting by hand (a revision is only ever written by notes.services),
which refused deleting anything that owns one: a note, a user who once
edited a note.
"""


class DeletesWhatItOwnsMixin:
    """Deleting an object needs delete permission on its own model only, not on what cascades from it."""

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Still asked of each object chosen (bulk deletes check no other way); PROTECT still protects.
        own = self.model._meta.verbose_name
        return deleted, model_count, {name for name in perms_needed if name == own}, protected

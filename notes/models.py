from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NoteQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def trashed(self):
        return self.filter(deleted_at__isnull=False)


class Note(models.Model):
    """A user's note. Change it through `notes.services`, never with save()."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True, default="")
    pinned = models.BooleanField(default=False)
    tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Normalised tag names, sorted. Filtering and counting use NoteTag.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False, help_text="Grows by one on every change.")
    deleted_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the note was moved to the trash."
    )

    objects = NoteQuerySet.as_manager()

    class Meta:
        ordering = ["-pinned", "-updated_at", "-id"]
        indexes = [
            # Serves the default listing: a user's live notes, pinned first,
            # newest change first.
            models.Index(
                fields=["owner", "-pinned", "-updated_at", "-id"],
                name="note_owner_default_order",
                condition=Q(deleted_at__isnull=True),
            ),
            # Serves the trash listing, most recently trashed first.
            models.Index(
                fields=["owner", "-deleted_at", "-id"],
                name="note_owner_trash_order",
                condition=Q(deleted_at__isnull=False),
            ),
            # Serves `purge_trash`: everyone's notes trashed before a date.
            models.Index(fields=["deleted_at"], name="note_trashed_at", condition=Q(deleted_at__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="note_version_positive"),
            models.CheckConstraint(condition=~Q(title=""), name="note_title_not_empty"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_trashed(self):
        return self.deleted_at is not None


class NoteTag(models.Model):
    """One tag on one note: the index that tag filters and tag counts read.

    `Note.tags` is what the API shows; these rows mirror it, kept in step by
    `notes.services`, so both databases filter by tag through a plain index.
    """

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="tag_index")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["note", "name"], name="notetag_unique_per_note"),
        ]
        indexes = [models.Index(fields=["owner", "name", "note"], name="notetag_owner_name")]

    def __str__(self):
        return self.name


class RevisionQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(note__owner=user)


class Revision(models.Model):
    """A state a note had before a change replaced it: the note at `version`.

    Written by `notes.services` in the same transaction as the change, so
    every path that changes a note keeps what it replaced.
    """

    # Indexed by the unique constraint below, which leads with the note.
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions", db_index=False)
    version = models.PositiveIntegerField(help_text="The note's version in this state.")
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True, default="")
    pinned = models.BooleanField(default=False)
    tags = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(help_text="When the note reached this state.")

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            # Also the index that lists a note's revisions and prunes old ones.
            models.UniqueConstraint(fields=["note", "version"], name="revision_unique_version"),
        ]

    def __str__(self):
        return f"{self.title} (version {self.version})"

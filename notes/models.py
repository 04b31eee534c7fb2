from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

# Explicit directional formatting: embeddings, overrides and isolates (UAX #9).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def bidi_isolated(text):
    """`text` as one isolated run when it holds directional controls: a title's right-to-left
    override reversed the rest of whatever sentence showed it (the admin's messages, breadcrumbs)."""
    if BIDI_CONTROLS.isdisjoint(text):
        return text
    return f"\u2068{text}\u2069"  # first strong isolate ... pop directional isolate


class NoteQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def trashed(self):
        return self.filter(deleted_at__isnull=False)

    def without_search_text(self):
        # The index's input, as long as title and content again: never shown.
        return self.defer("search_title", "search_content")

    def changed_after(self, position):
        return self.filter(change_seq__gt=position)


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
    # What the full-text index reads (notes.searchtext): the title's and the
    # content's words, normalised in Python so both databases search alike.
    search_title = models.TextField(default="", editable=False)
    search_content = models.TextField(default="", editable=False)
    change_seq = models.BigIntegerField(
        editable=False,
        verbose_name="change position",
        help_text="Where the note's latest change stands in its owner's change feed.",
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
            # The other orderings a listing offers (each read both ways), and
            # newest-created first, the order a search's window is cut in.
            *(
                models.Index(
                    fields=["owner", field, "id"], name=f"note_owner_{field}", condition=Q(deleted_at__isnull=True)
                )
                for field in ("updated_at", "created_at", "title")
            ),
            models.Index(fields=["owner", "-id"], name="note_owner_newest", condition=Q(deleted_at__isnull=True)),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="note_version_positive"),
            models.CheckConstraint(condition=~Q(title=""), name="note_title_not_empty"),
            # Also the index the change feed reads: a user's notes in the
            # order of their latest change.
            models.UniqueConstraint(fields=["owner", "change_seq"], name="note_unique_change_seq"),
        ]

    def __str__(self):
        return bidi_isolated(self.title)

    @property
    def is_trashed(self):
        return self.deleted_at is not None


class NoteTagQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def alive(self):
        return self.filter(note__deleted_at__isnull=True)

    def counts(self):
        """One row per tag name: {"name", "count"}, most used first."""
        return self.values("name").annotate(count=models.Count("id")).order_by("-count", "name")


class NoteTag(models.Model):
    """One tag on one note: the index that tag filters and tag counts read.

    `Note.tags` is what the API shows; these rows mirror it, kept in step by
    `notes.services`, so both databases filter by tag through a plain index.
    """

    # Both are the first column of an index below: single-column indexes
    # would only slow down writing (a million notes write ~2 million tags).
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="tag_index", db_index=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=50)

    objects = NoteTagQuerySet.as_manager()

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
        return f"{bidi_isolated(self.title)} (version {self.version})"


class SearchDocumentField(models.TextField):
    """The hidden column of an FTS5 table, named after the table: what MATCH takes."""


class SearchEntry(models.Model):
    """A live note's row in SQLite's full-text index (notes.search), to join it in queries.

    The table is an FTS5 virtual table made and kept in step by notes.search,
    not by this model; PostgreSQL has no such table and never queries it.
    """

    note = models.OneToOneField(
        Note,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="search_entry",
    )
    document = SearchDocumentField(db_column="notes_fts")

    class Meta:
        managed = False
        db_table = "notes_fts"

    def __str__(self):
        return f"Search entry of note {self.pk}"


class ChangeCounter(models.Model):
    """One per user: the position of their latest change, which orders their change feed.

    Every change to a user's notes takes the next position from this row, in
    its own transaction, so the row stays locked until that change commits:
    a user's changes commit in the order of their positions (notes.feed).
    """

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0, help_text="The position of the owner's latest change.")
    forgotten_seq = models.BigIntegerField(
        default=0,
        help_text="Tombstones of notes deleted forever up to this position are forgotten: "
        "a feed cursor before it must re-sync from the beginning.",
    )

    def __str__(self):
        return f"{self.owner_id}: {self.last_seq}"


class PurgedNoteQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def changed_after(self, position):
        return self.filter(change_seq__gt=position)


class PurgedNote(models.Model):
    """The tombstone of a note deleted forever: what tells other devices to drop it.

    Kept for NOTES_FEED_TOMBSTONE_DAYS, then forgotten by `purge_trash`.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note_id = models.BigIntegerField(help_text="The id the note had.")
    change_seq = models.BigIntegerField(help_text="Where the deletion stands in the owner's change feed.")
    deleted_at = models.DateTimeField(help_text="When the note was deleted forever.")

    objects = PurgedNoteQuerySet.as_manager()

    class Meta:
        constraints = [
            # Also the index the change feed reads, beside the notes'.
            models.UniqueConstraint(fields=["owner", "change_seq"], name="purgednote_unique_change_seq"),
        ]
        # Serves the forgetting of old tombstones, everyone's at once.
        indexes = [models.Index(fields=["deleted_at"], name="purgednote_deleted_at")]

    def __str__(self):
        return f"note {self.note_id}, deleted forever"


class StoredFileQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(owner=user)

    def unreferenced(self):
        return self.exclude(Exists(Attachment.objects.filter(file=OuterRef("pk"))))


class StoredFile(models.Model):
    """The bytes of an upload, kept once per user however many attachments show them.

    Written and deleted by `notes.attachments.services` only: a row exists
    while an attachment refers to it, and its file lives in the
    `attachments` storage under a name no other row ever had.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the bytes, hex.")
    size = models.PositiveBigIntegerField(help_text="In bytes.")
    content_type = models.CharField(max_length=100, help_text="Sniffed from the bytes, never the client's claim.")
    name = models.CharField(max_length=255, unique=True, help_text="Where the bytes are in the attachments storage.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        constraints = [
            # Also the index that finds a user's file by its digest.
            models.UniqueConstraint(fields=["owner", "sha256"], name="storedfile_once_per_owner"),
            models.CheckConstraint(condition=Q(size__gte=1), name="storedfile_not_empty"),
        ]

    def __str__(self):
        return self.sha256


class AttachmentQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(note__owner=user)

    def alive(self):
        """Attachments of notes outside the trash: a trashed note's are 404 like the note."""
        return self.filter(note__deleted_at__isnull=True)


class Attachment(models.Model):
    """A file on a note, under the name it was uploaded with."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="attachments", db_index=False)
    # RESTRICT: the database refuses to drop bytes an attachment still shows.
    file = models.ForeignKey(StoredFile, on_delete=models.RESTRICT, related_name="attachments")
    filename = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # Serves a note's attachment list, oldest first.
            models.Index(fields=["note", "created_at", "id"], name="attachment_note_order"),
        ]

    def __str__(self):
        return self.filename

    @property
    def content_type(self):
        return self.file.content_type

    @property
    def size(self):
        return self.file.size

    @property
    def sha256(self):
        return self.file.sha256


class PublicLinkQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(note__owner=user)

    def live(self, now=None):
        """Links that open: not expired, their note not in the trash, its owner's account not deactivated."""
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            note__deleted_at__isnull=True,
            note__owner__is_active=True,
        )


class PublicLink(models.Model):
    """A link anyone may open to read one note: at most one per note."""

    note = models.OneToOneField(Note, on_delete=models.CASCADE, related_name="public_link")
    token = models.CharField(max_length=64, unique=True, help_text="The secret in the link's URL.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the link never expires.")

    objects = PublicLinkQuerySet.as_manager()

    def __str__(self):
        return f"Public link to {self.note}"

    def is_live(self, now=None):
        return self.expires_at is None or self.expires_at > (now or timezone.now())

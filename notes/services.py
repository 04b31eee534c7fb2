"""The only ways a note changes: create, update, trash, restore, delete forever.

The API, the admin, imports and the management commands all call these
functions, so whatever must happen on every change (the version, the tag
index, the revision keeping what was replaced, and later the change feed)
happens in one place, in the same transaction as the change itself.

Updates are compare-and-swap on `version`: the row is written only if it is
still the version that was read, so two concurrent writers never both win,
and the common case costs no extra query to lock the row. Because every
change bumps the version, a note read at version v holds exactly the state
the database had at v, which is what its revision keeps.
"""

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from notes.attachments.files import files_release
from notes.models import Attachment, Note, NoteTag, Revision

EDITABLE_FIELDS = ("title", "content", "pinned", "tags")

# Notes deleted per transaction by `notes_purge`: short enough that a purge of
# thousands never holds SQLite's write lock long enough to fail a writer.
PURGE_BATCH_SIZE = 500
CREATE_BATCH_SIZE = 500


class VersionConflict(Exception):
    """The note is no longer at the version the caller expected."""

    def __init__(self, note, changed_fields):
        super().__init__(f"Note {note.pk} is at version {note.version}.")
        self.note = note
        self.changed_fields = changed_fields


def changed_fields_since(note, versions):
    """The editable fields that differ between the note and any of `versions`.

    Every editable field when one of those versions is not among the kept
    revisions (too old, or never a version of this note).
    """
    versions = set(versions)
    if not versions:
        return list(EDITABLE_FIELDS)
    states = list(Revision.objects.filter(note_id=note.pk, version__in=versions).only(*EDITABLE_FIELDS))
    if len(states) < len(versions):
        return list(EDITABLE_FIELDS)
    return [
        field for field in EDITABLE_FIELDS if any(getattr(state, field) != getattr(note, field) for state in states)
    ]


def check_version(note, if_match):
    """Raise VersionConflict unless `if_match` (None: anything) admits the note."""
    if if_match is not None and note.version not in if_match:
        raise VersionConflict(note, changed_fields_since(note, if_match))


def note_create(*, owner, title, content="", pinned=False, tags=()):
    now = timezone.now()
    with transaction.atomic():
        note = Note.objects.create(
            owner=owner,
            title=title,
            content=content,
            pinned=pinned,
            tags=list(tags),
            created_at=now,
            updated_at=now,
        )
        _index_tags(note, old_tags=(), new_tags=note.tags)
    return note


def note_create_many(*, owner, notes):
    """Create many notes at once (imports), a few INSERTs per batch, not per note.

    `notes` are dicts of validated fields; `created_at` and `updated_at` are
    kept when given. Returns the notes, with their ids, in the same order.
    """
    now = timezone.now()
    rows = [
        Note(
            owner=owner,
            title=fields["title"],
            content=fields.get("content", ""),
            pinned=fields.get("pinned", False),
            tags=list(fields.get("tags", ())),
            created_at=fields.get("created_at") or now,
            updated_at=fields.get("updated_at") or now,
        )
        for fields in notes
    ]
    with transaction.atomic():
        created = Note.objects.bulk_create(rows, batch_size=CREATE_BATCH_SIZE)
        NoteTag.objects.bulk_create(
            (NoteTag(note=note, owner_id=note.owner_id, name=name) for note in created for name in note.tags),
            batch_size=CREATE_BATCH_SIZE,
        )
    return created


def note_update(*, note, if_match=None, **changes):
    """Apply `changes` to the note; a change to nothing changes nothing.

    `if_match` is a collection of acceptable versions (from If-Match), or None.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    if "tags" in changes:
        changes["tags"] = list(changes["tags"])

    def apply(current):
        return {field: value for field, value in changes.items() if getattr(current, field) != value}

    return _change(note, if_match, apply)


def note_restore_revision(*, note, revision, if_match=None):
    """Bring back the state a revision kept: itself a change, so it is revisioned too."""
    return note_update(note=note, if_match=if_match, **{field: getattr(revision, field) for field in EDITABLE_FIELDS})


def note_trash(*, note, if_match=None):
    """Move the note to the trash; it vanishes from every note endpoint."""
    return _change(note, if_match, lambda current: {"deleted_at": timezone.now()})


def note_restore(*, note, if_match=None):
    """Take the note out of the trash, as it was."""
    return _change(note, if_match, lambda current: {"deleted_at": None}, trashed=True)


def note_delete_forever(*, note, if_match=None):
    """Delete a trashed note, its revisions and tag rows, for good."""
    check_version(note, if_match)
    with transaction.atomic():
        note = _locked(note, trashed=True)
        check_version(note, if_match)
        _purge([note.pk])


def notes_purge(*, notes, batch_size=PURGE_BATCH_SIZE):
    """Delete forever the trashed notes among `notes` (a queryset); return how many.

    Batches commit one by one, so emptying a large trash never holds the
    write lock for long; each batch is locked first, so a note restored
    meanwhile is left alone.
    """
    candidates = notes.trashed().order_by("pk")
    total = 0
    while True:
        with transaction.atomic():
            ids = list(candidates.select_for_update().values_list("pk", flat=True)[:batch_size])
            if not ids:
                return total
            total += _purge(ids)


def note_attachments_changed(*, note):
    """Record that an attachment was added to or removed from `note`.

    The one place every such change passes, in its transaction, with the
    note's row locked: `notes.attachments.services` calls it for uploads and
    deletions, imports for the files they attach. The change feed hooks in
    here, so a syncing client learns that the note's attachments changed.
    The note itself does not change: attachments are not among its
    editable fields, so its version, `updated_at` and revisions stay.
    """


def _purge(ids):
    """Delete the notes `ids` (locked by the caller) and everything they own.

    Their attachments go with them, and so do the stored files that no
    other attachment shows (their bytes once the transaction commits).
    """
    file_ids = list(Attachment.objects.filter(note_id__in=ids).values_list("file_id", flat=True).distinct())
    _, per_model = Note.objects.filter(pk__in=ids).delete()
    files_release(file_ids)
    return per_model.get(Note._meta.label, 0)


def _change(note, if_match, compute_fields, *, trashed=False):
    """Write `compute_fields(current)` to the note, if the caller's If-Match allows.

    `trashed` says where the note must be: alive (edits, trash) or in the
    trash (restore); elsewhere it is not found.
    """
    if note.is_trashed != trashed:
        raise Http404("No Note matches the given query.")
    check_version(note, if_match)
    fields = compute_fields(note)
    if not fields:
        return note
    with transaction.atomic():
        if _write_if_unchanged(note, fields):
            return note
        # Another writer won since the note was read: decide again on the
        # locked row (SQLite's IMMEDIATE transaction already holds the lock).
        note = _locked(note, trashed=trashed)
        check_version(note, if_match)
        fields = compute_fields(note)
        if fields and not _write_if_unchanged(note, fields):
            raise RuntimeError(f"Note {note.pk} changed while locked.")
    return note


def _write_if_unchanged(note, fields):
    """Compare-and-swap on version; on success `note` holds the new state.

    The state it replaced is kept as a revision, in the caller's transaction.
    """
    now = timezone.now()
    fields = {**fields, "version": note.version + 1, "updated_at": now}
    written = Note.objects.filter(pk=note.pk, version=note.version).update(**fields)
    if written:
        _keep_revision(note)
        old_tags = note.tags
        for field, value in fields.items():
            setattr(note, field, value)
        _index_tags(note, old_tags=old_tags, new_tags=note.tags)
    return written


def _keep_revision(note):
    """Keep the note's current state as a revision, and only the newest few."""
    Revision.objects.create(
        note_id=note.pk,
        version=note.version,
        title=note.title,
        content=note.content,
        pinned=note.pinned,
        tags=note.tags,
        updated_at=note.updated_at,
    )
    kept = settings.NOTES_REVISIONS_KEPT
    if note.version > kept:
        Revision.objects.filter(note_id=note.pk, version__lte=note.version - kept).delete()


def _locked(note, *, trashed=False):
    try:
        return Note.objects.select_for_update().filter(deleted_at__isnull=not trashed).get(pk=note.pk)
    except Note.DoesNotExist:
        raise Http404("No Note matches the given query.") from None


def _index_tags(note, *, old_tags, new_tags):
    """Bring the NoteTag rows of `note` in step with its tags."""
    removed = set(old_tags) - set(new_tags)
    added = set(new_tags) - set(old_tags)
    if removed:
        NoteTag.objects.filter(note=note, name__in=removed).delete()
    if added:
        NoteTag.objects.bulk_create(NoteTag(note=note, owner_id=note.owner_id, name=name) for name in sorted(added))

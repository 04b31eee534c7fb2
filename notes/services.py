"""The only ways a note changes: create, update, trash.

The API, the admin and the management commands all call these functions, so
whatever must happen on every change (the version, the tag index, and later
revisions and the change feed) happens in one place, in the same transaction
as the change itself.

Updates are compare-and-swap on `version`: the row is written only if it is
still the version that was read, so two concurrent writers never both win,
and the common case costs no extra query to lock the row.
"""

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from notes.models import Note, NoteTag

EDITABLE_FIELDS = ("title", "content", "pinned", "tags")


class VersionConflict(Exception):
    """The note is no longer at the version the caller expected."""

    def __init__(self, note, changed_fields):
        super().__init__(f"Note {note.pk} is at version {note.version}.")
        self.note = note
        self.changed_fields = changed_fields


def changed_fields_since(note, versions):
    """The editable fields changed since any of `versions`; all when unknown."""
    return list(EDITABLE_FIELDS)


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


def note_trash(*, note, if_match=None):
    """Move the note to the trash; it vanishes from every note endpoint."""
    return _change(note, if_match, lambda current: {"deleted_at": timezone.now()})


def _change(note, if_match, compute_fields):
    """Write `compute_fields(current)` to the note, if the caller's If-Match allows."""
    check_version(note, if_match)
    fields = compute_fields(note)
    if not fields:
        return note
    with transaction.atomic():
        if _write_if_unchanged(note, fields):
            return note
        # Another writer won since the note was read: decide again on the
        # locked row (SQLite's IMMEDIATE transaction already holds the lock).
        note = _locked(note)
        check_version(note, if_match)
        fields = compute_fields(note)
        if fields and not _write_if_unchanged(note, fields):
            raise RuntimeError(f"Note {note.pk} changed while locked.")
    return note


def _write_if_unchanged(note, fields):
    """Compare-and-swap on version; on success `note` holds the new state."""
    now = timezone.now()
    fields = {**fields, "version": note.version + 1, "updated_at": now}
    written = Note.objects.filter(pk=note.pk, version=note.version, deleted_at__isnull=True).update(**fields)
    if written:
        old_tags = note.tags
        for field, value in fields.items():
            setattr(note, field, value)
        _index_tags(note, old_tags=old_tags, new_tags=note.tags)
    return written


def _locked(note):
    try:
        return Note.objects.select_for_update().alive().get(pk=note.pk)
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

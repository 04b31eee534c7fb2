"""The only ways a note changes: create, update, trash, restore, delete forever.

The API, the admin, imports and the management commands all call these
functions, so whatever must happen on every change (the version, the tag
index, the search text, the revision keeping what was replaced, the change
feed's position) happens in one place, in the same transaction as the
change itself.

Updates are compare-and-swap on `version`: the row is written only if it is
still the version that was read, so two concurrent writers never both win,
and the common case costs no extra query to lock the row. Because every
change bumps the version, a note read at version v holds exactly the state
the database had at v, which is what its revision keeps.

Each change takes its position in the owner's change feed (`feed.advance`)
before it writes a note row; that locks the owner's counter row until the
change commits, which orders the feed, and since every change takes the
counter before any note row, two changes never wait on each other's locks
in opposite orders.
"""

import time

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from notes import feed
from notes.attachments.files import files_release
from notes.bulk import insert_instance, insert_rows
from notes.models import Attachment, Note, NoteTag, PurgedNote, Revision
from notes.searchtext import search_text
from notesite.prepared import PreparedDelete, PreparedUpdate

EDITABLE_FIELDS = ("title", "content", "pinned", "tags")

# Notes deleted per transaction by `notes_purge`: short enough that a purge of
# thousands never holds SQLite's write lock long enough to fail a writer.
PURGE_BATCH_SIZE = 500

# Notes a tag rename or delete changes per transaction: about a second of
# writing on PostgreSQL here, a tenth of one on SQLite.
RETAG_BATCH_SIZE = 100
# The longest sleep of SQLite's busy handler between two tries for the lock.
SQLITE_BUSY_POLL_SECONDS = 0.1

# The statements every edit runs, compiled once (notesite.prepared): the
# compare-and-swap on the note's version, and the pruning of old revisions.
note_at_version = PreparedUpdate(
    Note, lambda pk, version: Note.objects.filter(pk=pk, version=version), placeholders=[900_000_001, 900_000_002]
)
revisions_up_to = PreparedDelete(
    Revision,
    lambda note_id, version: Revision.objects.filter(note_id=note_id, version__lte=version),
    placeholders=[900_000_001, 900_000_002],
)


class VersionConflict(Exception):
    """The note is no longer at the version the caller expected."""

    def __init__(self, note, changed_fields, detail=None):
        super().__init__(f"Note {note.pk} is at version {note.version}.")
        self.note = note
        self.changed_fields = changed_fields
        self.detail = detail  # what a 412 says, when not that the note changed


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
    row = _new_note_row(owner.pk, title=title, content=content, pinned=pinned, tags=tags, created_at=now)
    with transaction.atomic():
        row["change_seq"] = feed.advance(owner.pk)
        note = insert_instance(Note, row)
        _index_tags(note, old_tags=(), new_tags=note.tags)
    note.owner = owner
    return note


def note_create_many(*, owner, notes, batch_size=5000):
    """Create many notes at once (imports, seeding); returns their ids in order.

    `notes` is an iterable of dicts with `title` and optionally `content`,
    `pinned`, `tags`, `created_at` and `updated_at`, already validated.
    Each note gets what `note_create` gives it (search text, tag index),
    written by `notes.bulk` in a few statements per batch: the ORM's
    per-object work would cost more than the database's for a million notes.
    """
    ids = []
    with transaction.atomic():
        for batch in _batched(notes, batch_size):
            now = timezone.now()
            rows, tag_names = [], []
            for data in batch:
                row = _new_note_row(
                    owner.pk,
                    title=data["title"],
                    content=data.get("content", ""),
                    pinned=data.get("pinned", False),
                    tags=data.get("tags", ()),
                    created_at=data.get("created_at") or now,
                    updated_at=data.get("updated_at"),
                )
                rows.append(row)
                tag_names.append(row["tags"])
            # Taken last, so the owner's counter is held only while writing.
            last = feed.advance(owner.pk, by=len(rows))
            for position, row in enumerate(rows, start=last - len(rows) + 1):
                row["change_seq"] = position
            new_ids = insert_rows(Note, rows)
            insert_rows(
                NoteTag,
                [
                    {"note_id": note_id, "owner_id": owner.pk, "name": name}
                    for note_id, names in zip(new_ids, tag_names, strict=True)
                    for name in names
                ],
            )
            ids.extend(new_ids)
    return ids


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
        position = feed.advance(note.owner_id)  # the counter before the note: see above
        note = _locked(note, trashed=True)
        check_version(note, if_match)
        _purge(note.owner_id, [note.pk], last_position=position)


def note_attachments_changed(*, note):
    """Report the note in the change feed because its attachments were added or removed.

    Only the note's feed position moves: its fields, `version`, `updated_at`
    and revisions stay as they are, because none of what a client can read
    or PUT back at the note's URL changed. A client sees the note again in
    the feed at the version it holds, which says "fetch its attachments"
    (docs/sync.md). Call it in the transaction that adds or removes the
    attachment, before locking the note.
    """
    with transaction.atomic():
        note.change_seq = feed.advance(note.owner_id)
        Note.objects.filter(pk=note.pk).update(change_seq=note.change_seq)


def notes_purge(*, notes, batch_size=PURGE_BATCH_SIZE):
    """Delete forever the trashed notes among `notes` (a queryset); return how many.

    Batches commit one by one, each for one owner, so emptying a large trash
    never holds the write lock for long. A batch takes the owner's feed
    counter and then locks its notes, so a note restored meanwhile is left
    alone.
    """
    candidates = notes.trashed()
    total = 0
    while True:
        batch = list(candidates.order_by("pk").values_list("owner_id", "pk")[:batch_size])
        if not batch:
            return total
        owner_id = batch[0][0]
        ids = [pk for owner, pk in batch if owner == owner_id]
        if total:
            _let_other_writers_in()
        with transaction.atomic():
            last = feed.advance(owner_id, by=len(ids))
            locked = list(candidates.filter(pk__in=ids).select_for_update().values_list("pk", flat=True))
            total += _purge(owner_id, locked, last_position=last)


def tag_rename(*, owner, old, new):
    """Rename tag `old` to `new` on every live note of `owner` (merging if `new` exists).

    Each note changes through `note_update`, so it gets a new version like
    any edit. Returns how many notes changed.
    """
    return _retag(owner, old, lambda tags: sorted((set(tags) - {old}) | {new}))


def tag_delete(*, owner, name):
    """Remove tag `name` from every live note of `owner`; returns how many notes changed."""
    return _retag(owner, name, lambda tags: [tag for tag in tags if tag != name])


def _retag(owner, name, retag):
    """Change the tags of every live note of `owner` tagged `name`; returns how many changed.

    Batches commit one by one: a rename over thousands of notes lets other
    writers in between them (SQLite's write lock, the owner's feed counter).
    """
    notes = Note.objects.owned_by(owner).alive().filter(tag_index__name=name).order_by("pk")
    changed, after = 0, 0
    while batch := list(notes.filter(pk__gt=after)[:RETAG_BATCH_SIZE]):
        if after:
            _let_other_writers_in()
        with transaction.atomic():
            changed += sum(_retag_note(note, name, retag) for note in batch)
        after = batch[-1].pk
    return changed


def _let_other_writers_in():
    """Pause between two transactions of a long job, so writers waiting for SQLite's lock get it.

    Those of other processes poll for it every 100 ms at most (SQLite's busy
    handler): without a pause as long, the job's next transaction took the
    lock first every time, and an edit waited 10 s through a rename of
    10,000 notes. PostgreSQL queues its waiters; nothing to do there.
    """
    if transaction.get_connection().vendor == "sqlite":
        time.sleep(SQLITE_BUSY_POLL_SECONDS)


def _retag_note(note, name, retag):
    """Change one note's tags; guarded by the version read, so a concurrent edit is read again."""
    while note is not None and name in note.tags:
        try:
            note_update(note=note, if_match={note.version}, tags=retag(note.tags))
            return True
        except VersionConflict:
            note = Note.objects.alive().filter(pk=note.pk).first()
        except Http404:  # trashed meanwhile
            return False
    return False


def _purge(owner_id, ids, *, last_position):
    """Delete the notes `ids` (locked by the caller) and everything they own, leaving tombstones.

    The tombstones take the positions up to `last_position`, taken by the
    caller from the owner's feed.
    """
    if not ids:
        return 0
    # Their attachments go with them, and so do the stored files that no
    # other attachment shows (their bytes once the transaction commits).
    file_ids = list(Attachment.objects.filter(note_id__in=ids).values_list("file_id", flat=True).distinct())
    _, per_model = Note.objects.filter(pk__in=ids).delete()
    files_release(file_ids)
    now = timezone.now()
    PurgedNote.objects.bulk_create(
        PurgedNote(owner_id=owner_id, note_id=pk, change_seq=position, deleted_at=now)
        for position, pk in enumerate(sorted(ids), start=last_position - len(ids) + 1)
    )
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
    fields = {**fields, "version": note.version + 1, "updated_at": now, "change_seq": feed.advance(note.owner_id)}
    if "title" in fields or "content" in fields:
        fields.update(
            _search_fields(title=fields.get("title", note.title), content=fields.get("content", note.content))
        )
    written = note_at_version.update((note.pk, note.version), fields)
    if written:
        _keep_revision(note)
        old_tags = note.tags
        for field, value in fields.items():
            setattr(note, field, value)
        _index_tags(note, old_tags=old_tags, new_tags=note.tags)
    return written


def _keep_revision(note):
    """Keep the note's current state as a revision, and only the newest few."""
    insert_rows(
        Revision,
        [
            {
                "note_id": note.pk,
                "version": note.version,
                "title": note.title,
                "content": note.content,
                "pinned": note.pinned,
                "tags": note.tags,
                "updated_at": note.updated_at,
            }
        ],
    )
    kept = settings.NOTES_REVISIONS_KEPT
    if note.version > kept:
        revisions_up_to.delete(note.pk, note.version - kept)


def _new_note_row(owner_id, *, title, content, pinned, tags, created_at, updated_at=None):
    """The columns of a new note but its change position: what `notes.bulk.insert_rows` writes."""
    return {
        "owner_id": owner_id,
        "title": title,
        "content": content,
        "pinned": pinned,
        "tags": list(tags),
        "created_at": created_at,
        "updated_at": updated_at or created_at,
        "version": 1,
        "deleted_at": None,
        **_search_fields(title=title, content=content),
    }


def _search_fields(*, title, content):
    """What the full-text index reads, kept in step with title and content."""
    return {"search_title": search_text(title), "search_content": search_text(content)}


def _batched(iterable, size):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


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
        insert_rows(NoteTag, [{"note_id": note.pk, "owner_id": note.owner_id, "name": name} for name in sorted(added)])

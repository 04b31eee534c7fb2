"""The change feed: what changed in a user's notes since a position, in commit order.

Every change to a note takes the next position of its owner's feed from the
owner's `ChangeCounter` row (`advance`), in the change's own transaction,
and stores it on the note (`Note.change_seq`), or, for a note deleted
forever, on its tombstone (`PurgedNote`). The feed is then "notes and
tombstones with a position after the cursor, by position".

Why a counter row and not a sequence: a sequence hands out its numbers when
they are asked for, not when their transactions commit, so on PostgreSQL the
change at position 8 can commit before the one at 7, and a reader in between
would move its cursor past 7 for good. Taking a position *updates* the
counter row, which stays locked until the change commits or rolls back, so
the next change of the same user waits for it before it even has a number:
a user's positions are taken, and committed, one after another. Any read
that sees position p therefore sees every change before p that committed at
all, and a cursor is never ahead of a change still in flight. Different
users never wait for each other. On SQLite every write transaction is
IMMEDIATE, holding the database's single write lock from its first
statement to its commit, so all changes are serialised already; the counter
costs the same one small write there and the proof is the same.

A page is read by one statement (a UNION of notes and tombstones), so it is
one consistent snapshot even though it spans two tables; the notes it names
are then fetched as they are now, which can only be newer (a note seen newer
than its position comes again later, and a client just applies it again).
"""

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection, connections, transaction
from django.db.models import F, Max, Subquery, Value
from django.db.models.functions import Greatest

from notes.models import ChangeCounter, PurgedNote
from notesite.prepared import fetchone, run_sql

CURSOR_SALT = "notes.feed.cursor"
# SQLite's `user_version` of a copy `manage.py backup` wrote, until a migrate
# on it has forgotten its feed positions (notes.apps.forget_positions_of_a_restored_copy).
RESTORED_COPY = 0x6E6F7465


class InvalidCursor(Exception):
    """The cursor was not issued by this server to this user."""


class CursorGone(Exception):
    """The cursor points where the server can no longer answer from: re-sync from the beginning."""


@dataclass(frozen=True)
class Cursor:
    position: int
    # The owner's `forgotten_seq` when the cursor was handed out: a cursor is
    # refused only if changes it has not passed were forgotten since.
    remembered_from: int = 0


@dataclass
class Page:
    entries: list  # Notes (live or trashed) and PurgedNotes, oldest change first
    cursor: Cursor  # where the next page starts
    has_more: bool


def advance(owner_id, by=1):
    """Take the next `by` positions of the owner's feed; return the last one.

    Locks the owner's counter row until the caller's transaction ends, which
    is what orders the feed: call it inside the change's transaction, before
    locking any of the owner's notes (every change takes the counter first,
    so two changes never wait for each other's locks in opposite orders).
    One statement: an upsert creates the counter on the owner's first change.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("advance() must run inside the change's transaction.")
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)
    sql = (
        f"INSERT INTO {table} (owner_id, last_seq, forgotten_seq) VALUES (%s, %s, 0) "
        f"ON CONFLICT (owner_id) DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq "
        "RETURNING last_seq"
    )
    return run_sql(connection, sql, [owner_id, by], fetchone)[0]


def hold(owner_id):
    """Wait for the owner's changes in flight, and keep new ones out until the transaction ends.

    For whatever removes many of the owner's rows at once (account deletion):
    taking the counter first, as every change does, it never holds a row a
    change in flight still needs while waiting for that change.
    """
    ChangeCounter.objects.select_for_update().filter(owner_id=owner_id).exists()


def read_changes(*, owner, notes, tombstones, after, limit):
    """The page of changes after the Cursor `after` (None: from the beginning).

    `notes` and `tombstones` are the owner's querysets (the view scopes them).
    Entries are notes (live or in the trash) and unsaved `PurgedNote`s. At
    most three queries: the page, the owner's counter (to refuse a cursor the
    server cannot answer from; not needed by a first page that found
    changes), and the notes the page names.
    """
    start = 0 if after is None else after.position
    # Each row also carries what the owner's feed remembers from, read in the
    # page's own statement: the cursor handed out is good for exactly what
    # the page saw.
    remembered = Subquery(ChangeCounter.objects.filter(owner=owner).values("forgotten_seq")[:1])
    columns = ("change_seq", "note_id", "deleted_at", "purged", "remembered")
    changed = (
        notes.changed_after(start)
        .annotate(note_id=F("pk"), purged=Value(False), remembered=remembered)
        .values_list(*columns)
    )
    purged = tombstones.changed_after(start).annotate(purged=Value(True), remembered=remembered).values_list(*columns)
    if connections[notes.db].features.supports_slicing_ordering_in_compound:
        # PostgreSQL plans each side of a UNION on its own and would read
        # every row after the cursor before sorting; a page from each side,
        # read in index order, is all the page can need.
        changed, purged = changed.order_by("change_seq")[: limit + 1], purged.order_by("change_seq")[: limit + 1]
    else:
        # SQLite takes no ORDER BY or LIMIT inside a UNION, and needs none:
        # it merges the two sides in their index order, stopping at the limit.
        changed, purged = changed.order_by(), purged.order_by()
    rows = list(changed.union(purged, all=True).order_by("change_seq")[: limit + 1])
    if after is not None or not rows:
        # After the page, not before: tombstones are forgotten in the same
        # transaction that moves `forgotten_seq`, so a page read before that
        # commit is whole, and one read after it is refused here.
        remembered_now = _check_remembered(owner, after)
    remembered_from = (rows[0][4] or 0) if rows else remembered_now
    has_more = len(rows) > limit
    rows = rows[:limit]

    note_ids = [note_id for _, note_id, _, is_purged, _ in rows if not is_purged]
    found = {note.pk: note for note in notes.filter(pk__in=note_ids).order_by()} if note_ids else {}
    entries = []
    for position, note_id, deleted_at, is_purged, _ in rows:
        if is_purged:
            entries.append(PurgedNote(owner=owner, note_id=note_id, change_seq=position, deleted_at=deleted_at))
        elif note_id in found:
            entries.append(found[note_id])
        # Otherwise the note was deleted forever since the page was read:
        # its tombstone comes later in the feed.
    position = rows[-1][0] if rows else start
    return Page(entries=entries, cursor=Cursor(position, remembered_from), has_more=has_more)


def _check_remembered(owner, after):
    """Refuse the Cursor `after` if the server cannot answer from it; answer what the feed remembers from."""
    counter = ChangeCounter.objects.filter(owner=owner).values_list("last_seq", "forgotten_seq").first()
    last, forgotten = counter or (0, 0)
    if after is None:
        return forgotten
    # Changes the cursor had not passed were forgotten since it was handed
    # out; or it was handed out by a database this one is restored from.
    if after.remembered_from > forgotten or (after.remembered_from < forgotten and after.position < forgotten):
        raise CursorGone(
            "This cursor is older than the changes the server still remembers (notes deleted forever "
            "are remembered for a limited time, and a database restored from a backup remembers none). "
            "Re-sync from the beginning: request the feed without a cursor, and drop every local note "
            "that the re-sync does not return."
        )
    if after.position > last:
        raise CursorGone(
            "This cursor is ahead of the server's changes (was the server restored from a backup?). "
            "Re-sync from the beginning: request the feed without a cursor, and drop every local note "
            "that the re-sync does not return."
        )
    return forgotten


def forget_every_position(using):
    """Make every cursor handed out so far answer 410: for a database restored from a backup.

    A restored database goes back to positions it had handed out already and
    would hand them out again, for other changes: a cursor from before the
    restore would then skip those, and the client keep notes the server no
    longer has. So every user's positions jump far past any the database
    could have handed out (2**40 and more, by a random amount so that two
    restores of one database do not land together), and everything before
    the jump counts as forgotten, as tombstones do: a cursor from before it
    answers 410 and its client re-syncs. A user without a counter gets one.
    Run by `manage.py forget_feed_cursors`, and by the first migrate on a
    SQLite copy `manage.py backup` wrote, whose RESTORED_COPY mark it clears.
    """
    jump = 2**40 + secrets.randbelow(2**40)
    connection = connections[using]
    counters, users = (connection.ops.quote_name(model._meta.db_table) for model in (ChangeCounter, get_user_model()))
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {counters} SET last_seq = last_seq + %s, forgotten_seq = last_seq + %s", [jump, jump])
        cursor.execute(
            f"INSERT INTO {counters} (owner_id, last_seq, forgotten_seq) "
            f"SELECT id, %s, %s FROM {users} WHERE id NOT IN (SELECT owner_id FROM {counters})",
            [jump, jump],
        )
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA user_version = 0")


def forget_tombstones(*, before):
    """Forget the tombstones of notes deleted forever before `before`; return how many.

    Each owner's tombstones go in one transaction with the move of their
    `forgotten_seq`, so a cursor that could have missed one is refused (410)
    rather than answered without it.
    """
    old = PurgedNote.objects.filter(deleted_at__lt=before)
    total = 0
    for owner_id, through in (
        old.values("owner_id").annotate(through=Max("change_seq")).values_list("owner_id", "through")
    ):
        with transaction.atomic():
            ChangeCounter.objects.filter(owner_id=owner_id).update(forgotten_seq=Greatest(F("forgotten_seq"), through))
            total += old.filter(owner_id=owner_id, change_seq__lte=through).delete()[0]
    return total


def encode_cursor(owner_id, cursor):
    # Signed, not timestamped: the same position is always the same cursor.
    # (One handed out while nothing was forgotten keeps the older, shorter form.)
    payload = [owner_id, cursor.position] + ([cursor.remembered_from] if cursor.remembered_from else [])
    return signing.Signer(salt=CURSOR_SALT).sign_object(payload)


def decode_cursor(raw, owner_id):
    """The Cursor a cursor's text names, checking it was issued to this owner."""
    try:
        cursor_owner, *numbers = signing.Signer(salt=CURSOR_SALT).unsign_object(raw)
    except (signing.BadSignature, TypeError, ValueError):
        raise InvalidCursor("Invalid cursor.") from None
    if not (type(cursor_owner) is int and len(numbers) in (1, 2) and all(type(n) is int and n >= 0 for n in numbers)):
        raise InvalidCursor("Invalid cursor.")
    if cursor_owner != owner_id:
        raise InvalidCursor("This cursor was issued to another user.")
    return Cursor(*numbers)

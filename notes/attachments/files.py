"""The stored files behind attachments: written once per user per SHA-256, deleted when unreferenced.

Three rules keep every byte an attachment shows, under concurrency too:
- Bytes are written to storage before the transaction that records them,
  so no database lock is held during a slow write, under a name no stored
  file ever had (`storage.new_name`). A name that no row took (the bytes
  were stored already, or the transaction rolled back) is deleted at once.
  Bytes the user has already are not written again, unless storage lost
  them (a database restored without its files): then the upload writes
  them again and the row takes the new name, which repairs the file.
- Whatever reads or changes which of a user's files exist (a new
  attachment, the quota, the deletion of an unreferenced file) first locks
  the user's row, so two requests never both decide alone.
- A file's row goes in the transaction that removes its last attachment;
  its bytes go only after that transaction commits. `files_sweep` (run by
  `purge_trash`) removes whatever a crash left between the two.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from notes.attachments.sniff import Sniffer
from notes.attachments.storage import (
    CHUNK_BYTES,
    STORAGE_ERRORS,
    attachment_storage,
    holds,
    new_name,
    storage_errors_answered,
)
from notes.models import StoredFile

logger = logging.getLogger(__name__)

# A file in storage that no row names is left alone this long: it may be
# the bytes of an upload whose transaction has not committed yet.
SWEEP_GRACE = timedelta(hours=1)


class FileTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"

    def __init__(self, limit):
        super().__init__(f"File too large: the limit is {limit} bytes (NOTES_ATTACHMENT_MAX_BYTES).")


class QuotaExceeded(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "quota_exceeded"

    def __init__(self, *, used, needed, quota):
        super().__init__(
            f"Storage quota exceeded: {used} of {quota} bytes are used and this needs {needed} more. "
            "Delete attachments (and empty the trash) to make room."
        )


@dataclass(frozen=True)
class Inspected:
    """What a file is: its digest, size and sniffed content type."""

    sha256: str
    size: int
    content_type: str


def inspect(file):
    """Read `file` (a Django File) once: its SHA-256, size and content type."""
    digest, sniffer, size = hashlib.sha256(), Sniffer(), 0
    file.seek(0)
    for chunk in file.chunks(CHUNK_BYTES):
        digest.update(chunk)
        sniffer.feed(chunk)
        size += len(chunk)
    file.seek(0)
    return Inspected(digest.hexdigest(), size, sniffer.content_type())


class StagedFiles:
    """Bytes written to storage ahead of the transaction that records them.

        with StagedFiles(owner_id) as staged:
            staged.add(file, inspected)          # before the transaction
            with transaction.atomic():
                staged.lock(check_quota=True)
                stored = staged.stored(inspected)  # the row, reused or created

    On exit, a name written here that no row took is deleted; a failure to
    delete it is logged, never raised over the request's own outcome.
    """

    def __init__(self, owner_id):
        self.owner_id = owner_id
        self.files = {}  # sha256 -> (file, inspected)
        self.names = {}  # sha256 -> the name written
        self.lost = {}  # sha256 -> the name of a row whose bytes storage does not have

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        taken = set(StoredFile.objects.filter(name__in=self.names.values()).values_list("name", flat=True))
        _delete_now(name for name in self.names.values() if name not in taken)

    def add(self, file, inspected, *, check_quota=True):
        """Write the bytes unless the user has them already (a first quota check, without the lock).

        Bytes the user has are looked for in storage (a stat on disk, a HEAD
        request on S3; only for these, never for new bytes): when they are
        gone or of another size, they are written again, and `stored`
        repairs the row with them.
        """
        if inspected.sha256 in self.files:
            return
        self.files[inspected.sha256] = (file, inspected)
        kept = StoredFile.objects.filter(owner_id=self.owner_id, sha256=inspected.sha256)
        if (name := kept.values_list("name", flat=True).first()) is not None:
            with storage_errors_answered(f"find {name}"):
                if holds(name, inspected.size):
                    return
            logger.warning(
                "The attachments storage lost or cut short %s: an upload of the same bytes stores them again", name
            )
            self.lost[inspected.sha256] = name
            self._write(inspected.sha256)  # no quota check: the row counts them already
            return
        if check_quota:
            self._check_quota()
        self._write(inspected.sha256)

    def lock(self, *, check_quota=True):
        """Lock the user's files (in the caller's transaction), then check the quota."""
        lock_owners([self.owner_id])
        if check_quota:
            self._check_quota()

    def stored(self, inspected):
        """The user's StoredFile for these bytes: the one kept already, or a new row for the staged bytes."""
        existing = StoredFile.objects.filter(owner_id=self.owner_id, sha256=inspected.sha256).first()
        if existing is not None:
            if existing.name == self.lost.get(inspected.sha256):
                # Its bytes were gone from storage, or cut short (deleted once
                # this commits): it names the copy written here now.
                delete_after_commit([existing.name])
                existing.name = self.names[inspected.sha256]
                existing.save(update_fields=["name"])
            return existing
        if inspected.sha256 not in self.names:
            # The stored copy seen before the lock has been deleted since.
            self._write(inspected.sha256)
        return StoredFile.objects.create(
            owner_id=self.owner_id,
            sha256=inspected.sha256,
            size=inspected.size,
            content_type=inspected.content_type,
            name=self.names[inspected.sha256],
        )

    def _check_quota(self):
        check_quota(self.owner_id, [inspected for _, inspected in self.files.values()])

    def _write(self, sha256):
        """Store the bytes; StorageUnavailable (503) or StorageFull (507) when the storage fails."""
        file, _ = self.files[sha256]
        file.seek(0)
        name = new_name(self.owner_id, sha256)
        # Recorded before the write, so that bytes a failing write left
        # behind (a disk that filled up halfway) are deleted on exit too.
        self.names[sha256] = name
        with storage_errors_answered(f"write {name}"):
            self.names[sha256] = attachment_storage().save(name, file if isinstance(file, File) else File(file))


def check_quota(owner_id, inspected):
    """Raise QuotaExceeded unless the files the user lacks among `inspected` fit in their quota."""
    quota = settings.NOTES_USER_QUOTA_BYTES
    sizes = {item.sha256: item.size for item in inspected}
    present = set(StoredFile.objects.filter(owner_id=owner_id, sha256__in=sizes).values_list("sha256", flat=True))
    needed = sum(size for sha256, size in sizes.items() if sha256 not in present)
    if not needed:
        return
    used = bytes_used(owner_id)
    if used + needed > quota:
        raise QuotaExceeded(used=used, needed=needed, quota=quota)


def bytes_used(owner_id):
    """What the user's distinct stored files take, the trash's included."""
    return StoredFile.objects.filter(owner_id=owner_id).aggregate(total=Sum("size"))["total"] or 0


def lock_owners(owner_ids):
    """Lock users' rows, in id order (SQLite's IMMEDIATE transaction already serialises writers)."""
    user_model = get_user_model()
    list(user_model.objects.select_for_update().filter(pk__in=sorted(set(owner_ids))).order_by("pk").values("pk"))


def files_release(file_ids):
    """Delete, of the stored files `file_ids`, those no attachment refers to any more.

    In the caller's transaction: their rows now, their bytes once it commits.
    """
    file_ids = set(file_ids)
    if not file_ids:
        return 0
    owners = StoredFile.objects.filter(pk__in=file_ids).values_list("owner_id", flat=True).distinct()
    lock_owners(owners)
    unreferenced = StoredFile.objects.filter(pk__in=file_ids).unreferenced()
    return delete_files(unreferenced)


def delete_files(queryset):
    """Delete the StoredFile rows of `queryset` now and their bytes after the commit."""
    names = list(queryset.values_list("name", flat=True))
    if not names:
        return 0
    StoredFile.objects.filter(name__in=names).delete()
    delete_after_commit(names)
    return len(names)


def delete_after_commit(names):
    """Delete these names from storage once the current transaction commits (at once outside one)."""
    if names:
        # Robust: should anything still raise, the commit has happened and the request must not fail.
        transaction.on_commit(lambda: _delete_now(names), robust=True)


def files_sweep(*, now=None):
    """Delete stored files nothing refers to: unreferenced rows, and bytes that no row names.

    What a crash between a commit and the deletion of bytes leaves behind;
    bytes younger than SWEEP_GRACE may belong to an upload in progress.
    Returns how many files went.
    """
    with transaction.atomic():
        owners = StoredFile.objects.unreferenced().values_list("owner_id", flat=True).distinct()
        lock_owners(owners)
        deleted = delete_files(StoredFile.objects.unreferenced())
    cutoff = (now or timezone.now()) - SWEEP_GRACE
    storage = attachment_storage()
    for directory, file_names in _walk(storage, ""):
        names = [f"{directory}{name}" for name in file_names]
        known = set(StoredFile.objects.filter(name__in=names).values_list("name", flat=True))
        deleted += _delete_now(name for name in names if name not in known and _older(storage, name, cutoff))
    return deleted


def _older(storage, name, cutoff):
    """Whether the stored file `name` was written before `cutoff`; not if it cannot be told (gone meanwhile)."""
    try:
        return storage.get_modified_time(name) < cutoff
    except STORAGE_ERRORS:
        return False


def _walk(storage, directory):
    """(directory, its file names) for `directory` and every directory under it; names end in '/'."""
    try:
        subdirectories, file_names = storage.listdir(directory)
    except FileNotFoundError:  # nothing was ever stored
        return
    yield directory, file_names
    for sub in subdirectories:
        yield from _walk(storage, f"{directory}{sub}/")


def _delete_now(names):
    """Delete these names from storage, each on its own, and answer how many went; a failure is logged, never raised.

    Whatever asked has happened already (the rows are gone, or never took
    the name): a 500 would only hide it. Bytes left behind are named by no
    row, so `files_sweep` removes them later.
    """
    storage = attachment_storage()
    deleted = 0
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.error(
                "Could not delete %s from the attachments storage; purge_trash will sweep it", name, exc_info=True
            )
        else:
            deleted += 1
    return deleted

"""The attachments storage (`STORAGES["attachments"]`), and reading part of a file from it.

Django's storage API has no way to read a byte range without opening the
whole file, and django-storages' S3 file downloads the whole object before
the first byte is read; a 25 MiB download must not sit in a worker's memory.
So each storage class here adds `open_range`, a file-like object that reads
only the bytes asked for, a chunk at a time; any other storage configured
falls back to `open` and `seek`. Likewise `missing`, which finds the
files of a list that storage cannot give back, for an export to check
before it starts. Both hold a file to the size recorded when it was
stored: bytes cut short on disk would otherwise go out as a download
shorter than its Content-Length, or an export with a file cut short.

`storage_errors_answered` is the one place a storage failure becomes an
answer: 503 (507 when the disk is full), logged with its traceback, never
a 500.
"""

import errno
import logging
import os
import secrets
from contextlib import contextmanager

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import FileSystemStorage, storages
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024

# What a failing storage raises: the file system's errors (a missing or
# unreadable file), botocore's (no connection, a timeout), S3's error
# answers (ClientError), and boto3's wrapper of those on upload.
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError, Boto3Error)


class StorageUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The file storage failed: try again later."
    default_code = "storage_unavailable"
    wait = 30  # seconds: DRF's exception handler sends an exception's `wait` as Retry-After


class StorageFull(StorageUnavailable):
    """No room left to write (the disk or its quota): nothing was stored."""

    status_code = status.HTTP_507_INSUFFICIENT_STORAGE
    default_detail = "The file storage is full: nothing was stored."
    default_code = "storage_full"
    wait = None  # no Retry-After: not until someone makes room


@contextmanager
def storage_errors_answered(action, *, deleted=None):
    """Turn a storage failure inside the block into StorageUnavailable (503) or StorageFull (507), logged.

    `action` says what was tried, for the log: "read 3/ab/abc...-123".
    `deleted`, when given, tells whether the bytes were deleted on purpose
    meanwhile (their row is gone): then the failure is a 404, not logged, as
    the request would have answered a moment later.
    """
    try:
        yield
    except STORAGE_ERRORS as exc:
        if deleted is not None and deleted():
            raise Http404("No Attachment matches the given query.") from exc
        logger.error("The attachments storage failed to %s: %s", action, exc, exc_info=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull from exc
        raise StorageUnavailable from exc


def attachment_storage():
    return storages["attachments"]


def new_name(owner_id, sha256):
    """A name no stored file has had: deleting an old file never touches a new one."""
    return f"{owner_id}/{sha256[:2]}/{sha256}-{secrets.token_hex(8)}"


class SizeDiffers(OSError):
    """A stored file whose size is not the one recorded when it was stored: its bytes are damaged."""

    def __init__(self, name, size, recorded):
        super().__init__(f"{name} holds {size} bytes, not the {recorded} recorded")


def open_range(name, start, length, size):
    """A file-like object over `length` bytes of the stored file `name` from `start`.

    `size` is the whole file's recorded size: SizeDiffers when storage holds
    another, before a byte is read; the reader raises an OSError should the
    file end early while it is read.
    """
    storage = attachment_storage()
    if hasattr(storage, "open_range"):
        return storage.open_range(name, start, length, size)
    check_size(name, size)
    file = storage.open(name, "rb")
    file.seek(start)
    return LimitedReader(file, length, name)


def missing_names(sizes):
    """The names, of the stored files `sizes` ({name: recorded size}), that storage cannot give back.

    Missing, unreadable, or of another size than recorded.
    """
    storage = attachment_storage()
    if hasattr(storage, "missing"):
        return storage.missing(sizes)
    return [name for name, size in sizes.items() if not holds(name, size)]


def holds(name, size):
    """Whether storage has the file `name`, of `size` bytes (checked only where the bytes may already be kept)."""
    storage = attachment_storage()
    return storage.exists(name) and storage.size(name) == size


def check_size(name, size):
    """SizeDiffers unless storage's file `name` has `size` bytes (a missing file raises storage's own error)."""
    if (stored_size := attachment_storage().size(name)) != size:
        raise SizeDiffers(name, stored_size, size)


class LimitedReader:
    """Reads at most `length` bytes of `file`, then nothing; closes it.

    A file that ends before `length` raises SizeDiffers: the answer has
    promised the length, and a short body would leave the client waiting.
    """

    def __init__(self, file, length, name):
        self.file = file
        self.remaining = length
        self.stored_name = name  # not `name`, which FileResponse would take for the download's filename

    def read(self, size=CHUNK_BYTES):
        if self.remaining <= 0:
            return b""
        data = self.file.read(min(size, self.remaining) if size >= 0 else self.remaining)
        if not data:
            raise OSError(f"{self.stored_name} ended {self.remaining} bytes before the length recorded")
        self.remaining -= len(data)
        return data

    def close(self):
        self.file.close()


class FileSystemAttachmentStorage(FileSystemStorage):
    """The data folder (`NOTES_DATA_DIR/attachments`)."""

    def open_range(self, name, start, length, size):
        file = open(self.path(name), "rb")  # noqa: SIM115 (the reader closes it)
        try:
            if (stored_size := os.fstat(file.fileno()).st_size) != size:
                raise SizeDiffers(name, stored_size, size)
            file.seek(start)
        except BaseException:
            file.close()
            raise
        return LimitedReader(file, length, name)

    def missing(self, sizes):
        """Each file opened, its size read, and closed (no read): those that cannot be, or differ."""
        missing = []
        for name, size in sizes.items():
            try:
                with open(self.path(name), "rb") as file:
                    if os.fstat(file.fileno()).st_size != size:
                        missing.append(name)
            except OSError:
                missing.append(name)
        return missing


class S3AttachmentStorage(S3Storage):
    """An S3-compatible bucket (`NOTES_S3_*`); ranges are fetched with a ranged GET."""

    def open_range(self, name, start, length, size):
        key = self._normalize_name(clean_name(name))
        answer = self.bucket.Object(key).get(Range=f"bytes={start}-{start + length - 1}")
        # "bytes 10-14/1000": the object's whole size after the slash.
        stored_size = int(answer.get("ContentRange", "").rpartition("/")[2] or answer["ContentLength"])
        if stored_size != size:
            answer["Body"].close()
            raise SizeDiffers(name, stored_size, size)
        return LimitedReader(answer["Body"], length, name)

    def missing(self, sizes):
        """The objects under each user's prefix listed (1,000 a request, not a HEAD a file).

        The names absent, or of another size than recorded.
        """
        listed, found, missing = set(), {}, []
        for name, size in sizes.items():
            key = self._normalize_name(clean_name(name))
            owner, slash, _ = name.partition("/")
            prefix = f"{self._normalize_name(clean_name(owner))}/" if slash else key
            if prefix not in listed:
                listed.add(prefix)
                found.update((item.key, item.size) for item in self.bucket.objects.filter(Prefix=prefix))
            if found.get(key) != size:
                missing.append(name)
        return missing

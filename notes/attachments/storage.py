"""The attachments storage (`STORAGES["attachments"]`), and reading part of a file from it.

Django's storage API has no way to read a byte range without opening the
whole file, and django-storages' S3 file downloads the whole object before
the first byte is read; a 25 MiB download must not sit in a worker's memory.
So each storage class here adds `open_range`, a file-like object that reads
only the bytes asked for, a chunk at a time; any other storage configured
falls back to `open` and `seek`. Likewise `missing`, which finds the
files of a list that storage cannot give back, for an export to check
before it starts.

`storage_errors_answered` is the one place a storage failure becomes an
answer: 503 (507 when the disk is full), logged with its traceback, never
a 500.
"""

import errno
import logging
import secrets
from contextlib import contextmanager

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import FileSystemStorage, storages
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
def storage_errors_answered(action):
    """Turn a storage failure inside the block into StorageUnavailable (503) or StorageFull (507), logged.

    `action` says what was tried, for the log: "read 3/ab/abc...-123".
    """
    try:
        yield
    except STORAGE_ERRORS as exc:
        logger.error("The attachments storage failed to %s: %s", action, exc, exc_info=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull from exc
        raise StorageUnavailable from exc


def attachment_storage():
    return storages["attachments"]


def new_name(owner_id, sha256):
    """A name no stored file has had: deleting an old file never touches a new one."""
    return f"{owner_id}/{sha256[:2]}/{sha256}-{secrets.token_hex(8)}"


def open_range(name, start, length):
    """A file-like object over `length` bytes of the stored file `name` from `start`."""
    storage = attachment_storage()
    if hasattr(storage, "open_range"):
        return storage.open_range(name, start, length)
    file = storage.open(name, "rb")
    file.seek(start)
    return LimitedReader(file, length)


def missing_names(names):
    """The names, of the stored files `names`, that storage cannot give back (missing or unreadable)."""
    storage = attachment_storage()
    if hasattr(storage, "missing"):
        return storage.missing(names)
    return [name for name in names if not storage.exists(name)]


class LimitedReader:
    """Reads at most `length` bytes of `file`, then nothing; closes it."""

    def __init__(self, file, length):
        self.file = file
        self.remaining = length

    def read(self, size=CHUNK_BYTES):
        if self.remaining <= 0:
            return b""
        data = self.file.read(min(size, self.remaining) if size >= 0 else self.remaining)
        self.remaining -= len(data)
        return data

    def close(self):
        self.file.close()


class FileSystemAttachmentStorage(FileSystemStorage):
    """The data folder (`NOTES_DATA_DIR/attachments`)."""

    def open_range(self, name, start, length):
        file = open(self.path(name), "rb")  # noqa: SIM115 (the reader closes it)
        file.seek(start)
        return LimitedReader(file, length)

    def missing(self, names):
        """Each file opened and closed (an open and a close, no read): those that cannot be."""
        missing = []
        for name in names:
            try:
                open(self.path(name), "rb").close()
            except OSError:
                missing.append(name)
        return missing


class S3AttachmentStorage(S3Storage):
    """An S3-compatible bucket (`NOTES_S3_*`); ranges are fetched with a ranged GET."""

    def open_range(self, name, start, length):
        key = self._normalize_name(clean_name(name))
        answer = self.bucket.Object(key).get(Range=f"bytes={start}-{start + length - 1}")
        return LimitedReader(answer["Body"], length)

    def missing(self, names):
        """The objects under each user's prefix listed (1,000 a request, not a HEAD a file): the names absent."""
        listed, found, missing = set(), set(), []
        for name in names:
            key = self._normalize_name(clean_name(name))
            owner, slash, _ = name.partition("/")
            prefix = f"{self._normalize_name(clean_name(owner))}/" if slash else key
            if prefix not in listed:
                listed.add(prefix)
                found.update(item.key for item in self.bucket.objects.filter(Prefix=prefix))
            if key not in found:
                missing.append(name)
        return missing

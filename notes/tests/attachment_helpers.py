"""Uploading and downloading attachments in tests."""

import errno
import hashlib
import os
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"


def upload(client, note, data, name="file.bin", content_type="application/octet-stream"):
    """POST `data` as the multipart field `file` of the note's attachments."""
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return client.post(f"/api/notes/{note.pk}/attachments/", {"file": file}, format="multipart")


def body(response):
    """A response's bytes, streamed or not."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def stored_files(directory):
    """The files under the attachments folder."""
    return sorted(path for path in directory.rglob("*") if path.is_file()) if directory.exists() else []


def fill_the_disk(monkeypatch, storage, error_number=errno.ENOSPC):
    """Have the data folder `storage` write a file's first bytes, then fail as a full disk does."""

    def write_part_then_fail(name, content):
        path = Path(storage.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.read(10))
        raise OSError(error_number, os.strerror(error_number), str(path))

    monkeypatch.setattr(storage, "_save", write_part_then_fail)

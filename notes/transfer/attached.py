"""Attachments in exports and imports, byte for byte.

JSON: a note with attachments carries `"attachments": [{"filename",
"content_type", "size", "sha256", "created_at", "data"}]`, `data` being the
bytes in base64 (streamed, never held whole).

Markdown zip: a note's files sit beside its Markdown file, in a folder of
the same name (`Groceries.md`, `Groceries/receipt.png`), listed in its
front matter (`attachments: [{file, filename, sha256, created_at}]`) and
in the manifest's `attachments`, each with its SHA-256.

On import every file is checked against its SHA-256 and its content type
is sniffed again: neither the name nor a declared type is trusted.
"""

import base64
import binascii
import datetime
import logging
import re
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import PurePosixPath

import orjson
from django.core.files.base import ContentFile, File
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from notes.attachments.files import Inspected, inspect
from notes.attachments.services import safe_filename
from notes.attachments.storage import CHUNK_BYTES, STORAGE_ERRORS, open_range
from notes.models import Attachment
from notes.serializers import StrictDateTimeField
from notes.transfer import markdown

logger = logging.getLogger(__name__)

# ISO 8601 text (or a date-time YAML read), within the years a date-time can hold in UTC.
CREATED_AT = StrictDateTimeField()
SHA256 = re.compile(r"[0-9a-f]{64}")
BASE64_CHUNK = 3 * 16 * 1024  # a multiple of 3: each chunk encodes on its own
COMPRESSIBLE = ("text/", "application/xml", "image/svg+xml", "application/json")


# Export


def attachment_document(attachment):
    return {
        "filename": attachment.filename,
        "content_type": attachment.file.content_type,
        "size": attachment.file.size,
        "sha256": attachment.file.sha256,
        "created_at": markdown.timestamp(attachment.created_at),
    }


class ExportInterrupted(Exception):
    """An attachment's bytes could not be read once the export had begun: what was sent is cut short.

    Not an OSError: the command must not take it for a failure to write its
    file, nor gunicorn for a failure of the client's socket.
    """


def opened(attachment):
    """A reader of the attachment's bytes, or None when it was deleted since its note was read.

    Opened before anything of the attachment is written, so that one
    deleted during the export (its bytes deleted once that commits) is left
    out, as a note read a moment later would show it, rather than cutting
    the export short. ExportInterrupted, logged, when storage cannot give
    bytes still attached.
    """
    stored = attachment.file
    try:
        return open_range(stored.name, 0, stored.size, stored.size)
    except STORAGE_ERRORS as exc:
        if not Attachment.objects.filter(pk=attachment.pk).exists():
            return None
        raise _interrupted(attachment, exc) from exc


def stored_chunks(attachment, reader):
    """The bytes of `reader` (opened(); the caller closes it), a chunk at a time.

    ExportInterrupted, logged, when storage fails.
    """
    try:
        while chunk := reader.read(CHUNK_BYTES):
            yield chunk
    except STORAGE_ERRORS as exc:
        raise _interrupted(attachment, exc) from exc


def _interrupted(attachment, exc):
    stored = attachment.file
    logger.error(
        "The export was cut short: attachment %s (%s) could not be read from the attachments storage: %s",
        attachment.pk,
        stored.name,
        exc,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return ExportInterrupted(f"attachment {attachment.pk} ({stored.name}) could not be read: {exc}")


def base64_chunks(attachment, reader):
    """The bytes of `reader` in base64, a chunk at a time."""
    pending = b""
    for chunk in stored_chunks(attachment, reader):
        pending += chunk
        whole = len(pending) - len(pending) % 3
        if whole >= BASE64_CHUNK:
            yield base64.b64encode(pending[:whole])
            pending = pending[whole:]
    if pending:
        yield base64.b64encode(pending)


def json_attachments(attachments):
    """`,"attachments":[...]` for a note's JSON, to follow its other fields (without those deleted meanwhile)."""
    yield b',"attachments":['
    written = 0
    for attachment in attachments:
        if (reader := opened(attachment)) is None:
            continue
        with closing(reader):
            yield (b"," if written else b"") + orjson.dumps(attachment_document(attachment))[:-1] + b',"data":"'
            yield from base64_chunks(attachment, reader)
        yield b'"}'
        written += 1
    yield b"]"


class MemberNames:
    """Names for one note's files in the folder beside its Markdown file, unique case-insensitively."""

    def __init__(self, note_file_name):
        self.folder = note_file_name.removesuffix(".md")
        self.taken = set()

    def __call__(self, filename):
        stem, dot, suffix = filename.rpartition(".")
        if not dot or not stem or not re.fullmatch(r"[A-Za-z0-9]{1,10}", suffix):
            stem, suffix = filename, ""
        stem = markdown.file_stem(stem)
        suffix = f".{suffix}" if suffix else ""
        number = 1
        while (name := stem + (f" ({number})" if number > 1 else "") + suffix).casefold() in self.taken:
            number += 1
        self.taken.add(name.casefold())
        return f"{self.folder}/{name}"


def front_matter_lines(members):
    """The `attachments:` front matter of a note: (member name, attachment) pairs."""
    lines = ["attachments:"]
    for member, attachment in members:
        lines.append(
            f"  - {{file: {markdown.yaml_string(member)}, filename: {markdown.yaml_string(attachment.filename)}, "
            f"sha256: {attachment.file.sha256}, created_at: {markdown.timestamp(attachment.created_at)}}}"
        )
    return lines


def compress_type(content_type):
    """Deflate text; images, media and archives are compressed already."""
    return zipfile.ZIP_DEFLATED if content_type.startswith(COMPRESSIBLE) else zipfile.ZIP_STORED


# Import


@dataclass
class Incoming:
    """A file to attach to an imported note: checked, and readable again to be stored."""

    filename: str
    created_at: datetime.datetime
    inspected: Inspected
    file: File


class AttachmentError(ValueError):
    """One attachment of an entry cannot be imported."""


def from_json(items, *, max_bytes=None):
    """The `attachments` of a JSON note, checked; raises AttachmentError naming the first bad one."""
    if not isinstance(items, list):
        raise AttachmentError("Expected a list of attachments.")
    incoming = []
    for index, item in enumerate(items):
        where = f"attachments[{index}]"
        if not isinstance(item, dict):
            raise AttachmentError(f"{where}: expected an object with filename, sha256 and data.")
        data = item.get("data")
        if not isinstance(data, str):
            raise AttachmentError(f"{where}: data must be the file in base64.")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise AttachmentError(f"{where}: data is not valid base64.") from None
        incoming.append(_checked(where, item, ContentFile(raw), max_bytes))
    return incoming


def from_zip(items, *, open_member, max_bytes=None):
    """The `attachments` of an exported note's front matter, checked against the archive.

    `open_member(path)` opens the named member of the archive (or raises
    AttachmentError when the archive does not list it).
    """
    if not isinstance(items, list):
        raise AttachmentError("Expected a list of attachments.")
    incoming = []
    for index, item in enumerate(items):
        where = f"attachments[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise AttachmentError(f"{where}: expected a mapping with file, filename and sha256.")
        incoming.append(_checked(where, item, File(open_member(item["file"])), max_bytes))
    return incoming


def _checked(where, item, file, max_bytes):
    filename, sha256 = item.get("filename"), item.get("sha256")
    if not isinstance(filename, str) or not filename.strip():
        raise AttachmentError(f"{where}: filename must be a non-empty string.")
    if not (isinstance(sha256, str) and SHA256.fullmatch(sha256)):
        raise AttachmentError(f"{where}: sha256 must be 64 lower-case hex digits.")
    inspected = inspect(file)
    if inspected.sha256 != sha256:
        raise AttachmentError(f"{where}: the bytes do not match their SHA-256: the file was changed or damaged.")
    if inspected.size == 0:
        raise AttachmentError(f"{where}: the file is empty.")
    if max_bytes is not None and inspected.size > max_bytes:
        raise AttachmentError(f"{where}: over the limit of {max_bytes} bytes (NOTES_ATTACHMENT_MAX_BYTES).")
    return Incoming(safe_filename(filename), _created_at(where, item.get("created_at")), inspected, file)


def _created_at(where, value):
    """When the file was attached: as given (read as the API reads a date-time), never later than now."""
    now = timezone.now()
    if value is None:
        return now
    try:
        return min(CREATED_AT.to_internal_value(value), now)
    except ValidationError as exc:
        raise AttachmentError(f"{where}: created_at: {' '.join(exc.detail)}") from None


def member_path(base, file):
    """Where a front matter's `file` is in the archive: relative to the export's folder, never above it."""
    path = PurePosixPath(file)
    if path.is_absolute() or ".." in path.parts or "\\" in file:
        raise AttachmentError(f"{file!r}: a path inside the export is expected.")
    return str(base / path)

"""Read an import file, validate every note in it, then create them all or none.

What can be imported:
- the JSON export (or a bare list of notes in the same shape);
- the Markdown zip export, verified against its `manifest.json`: a file
  changed, missing or added since the export is rejected by name;
- one Markdown file;
- attachments: base64 in the JSON, files beside the Markdown in the zip
  export (`notes.transfer.attached`), each checked against its SHA-256;
- a zip of a plain folder of Markdown files, as other notes tools export
  them: front matter optional, the title from the front matter, else the
  first heading, else the file name; the folders a file sits in become one
  normalised tag (`Work/Side projects/x.md` is tagged `work/side-projects`).

Archives are read by `notes.transfer.archive`, entries by `notes.transfer.entries`.
"""

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import orjson
from django.db import transaction

from notes.attachments.files import StagedFiles, check_quota
from notes.models import Attachment
from notes.serializers import NoteImportSerializer
from notes.services import note_create_many
from notes.transfer import FORMAT_NAME, FORMAT_VERSION, attached
from notes.transfer.archive import ZipSource
from notes.transfer.entries import (
    NON_FIELD,
    NOTE_SUFFIXES,
    UNLIMITED,
    Entry,
    markdown_entry,
    reject,
    too_many,
)

MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})


@dataclass
class Report:
    imported: int = 0
    ids: list = field(default_factory=list)
    rejected: list = field(default_factory=list)

    def as_dict(self):
        """`{"imported", "ids", "rejected": []}`, or `{"imported": 0, "rejected": [...]}`."""
        if self.rejected:
            return {"imported": 0, "rejected": self.rejected}
        return {"imported": self.imported, "ids": self.ids, "rejected": []}


def open_import(file, *, name, content_type=None, limits=UNLIMITED):
    """A source of entries for an uploaded or local file (seekable, binary); raises Rejected."""
    size = file.seek(0, 2)
    file.seek(0)
    if limits.max_bytes is not None and size > limits.max_bytes:
        raise reject(name, f"The file is over the limit of {limits.max_bytes} bytes.")
    head = file.read(4)
    file.seek(0)
    kind = _kind(name, content_type, head)
    if kind == "zip":
        return ZipSource(file, name=name, limits=limits)
    if kind == "json":
        return JSONSource(file.read(), name=name, limits=limits)
    return MarkdownSource(file.read(), name=name)


def _kind(name, content_type, head):
    suffix = PurePosixPath(name).suffix.lower()
    media_type = (content_type or "").split(";")[0].strip().lower()
    if suffix == ".zip" or media_type in {"application/zip", "application/x-zip-compressed"}:
        return "zip"
    if suffix == ".json" or media_type == "application/json":
        return "json"
    if suffix in NOTE_SUFFIXES or media_type in MARKDOWN_TYPES:
        return "markdown"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.lstrip()[:1] in {b"{", b"["}:
        return "json"
    return "markdown"


class JSONSource:
    """The JSON export: `{"format", "version", "notes": [...], "count"}`, or a bare list of notes."""

    def __init__(self, raw, *, name, limits):
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise reject(name, f"The file is not valid JSON: {exc}") from None
        if isinstance(document, dict):
            notes = self._notes_of(document, name)
        elif isinstance(document, list):
            notes = document
        else:
            raise reject(name, 'Expected the JSON export: an object with "notes", or a list of notes.')
        if limits.max_entries is not None and len(notes) > limits.max_entries:
            raise reject(name, too_many(limits.max_entries))
        self.notes = notes
        self.limits = limits

    @staticmethod
    def _notes_of(document, name):
        if document.get("format", FORMAT_NAME) != FORMAT_NAME:
            raise reject(name, f'"format" must be "{FORMAT_NAME}".')
        version = document.get("version", FORMAT_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
            raise reject(name, f'"version" must be a version this server reads (1 to {FORMAT_VERSION}).')
        notes = document.get("notes")
        if not isinstance(notes, list):
            raise reject(name, '"notes" must be a list of notes.')
        count = document.get("count", len(notes))
        if count != len(notes) or isinstance(count, bool):
            raise reject(
                name,
                f'"count" does not match the {len(notes)} notes present: the file is truncated or modified.',
            )
        return notes

    def __len__(self):
        return len(self.notes)

    def entries(self):
        for index, note in enumerate(self.notes):
            name = f"notes[{index}]"
            if not isinstance(note, dict):
                yield Entry(name, errors={NON_FIELD: ["Expected a note: an object with a title."]})
                continue
            fields = {key: value for key, value in note.items() if key != "attachments"}
            try:
                files = attached.from_json(note.get("attachments", []), max_bytes=self.limits.max_attachment_bytes)
            except attached.AttachmentError as exc:
                yield Entry(name, errors={"attachments": [str(exc)]})
                continue
            yield Entry(name, fields=fields, attachments=files)


class MarkdownSource:
    """One Markdown file, with or without front matter."""

    def __init__(self, raw, *, name):
        self.raw = raw
        self.name = name

    def __len__(self):
        return 1

    def entries(self):
        yield markdown_entry(self.name, self.raw, path=PurePosixPath(self.name).name, foreign=True)


# Validating and writing


def validated(source):
    """Every entry of `source`, validated by the API's own rules."""
    for entry in source.entries():
        if entry.errors:
            yield entry
            continue
        serializer = NoteImportSerializer(data=entry.fields)
        if serializer.is_valid():
            yield Entry(entry.name, fields=serializer.validated_data, attachments=entry.attachments)
        else:
            yield Entry(entry.name, errors=serializer.errors)


def notes_import(*, owner, source, dry_run=False, limits=UNLIMITED):
    """Validate everything, then create every note (and its files) in one transaction, or none.

    A dry run reports what an import would do (`imported` counts the notes
    it would create) and writes nothing. With `limits.quota`, files the
    user does not have yet must fit in their quota (413 otherwise).
    """
    valid, rejected = [], []
    for entry in validated(source):
        if entry.errors:
            rejected.append({"entry": entry.name, "errors": entry.errors})
        else:
            valid.append(entry)
    if rejected:
        return Report(rejected=rejected)
    if dry_run:
        if limits.quota:
            check_quota(owner.pk, [file.inspected for entry in valid for file in entry.attachments])
        return Report(imported=len(valid))
    ids = entries_create(owner=owner, entries=valid, check_quota=limits.quota)
    return Report(imported=len(ids), ids=ids)


def entries_create(*, owner, entries, check_quota=False):
    """Create the notes of validated entries and attach their files, in one transaction; their ids.

    The files' bytes are stored first (each once, and only those the user
    does not have), as uploads are.
    """
    files = [(index, file) for index, entry in enumerate(entries) for file in entry.attachments]
    if not files:
        return note_create_many(owner=owner, notes=[entry.fields for entry in entries])  # one transaction
    with StagedFiles(owner.pk) as staged:
        for _, file in files:
            staged.add(file.file, file.inspected, check_quota=check_quota)
        with transaction.atomic():
            # Creating takes the feed's counter, which every change of the
            # user's takes before any other lock; the files' lock comes after.
            ids = note_create_many(owner=owner, notes=[entry.fields for entry in entries])
            staged.lock(check_quota=check_quota)
            Attachment.objects.bulk_create(
                Attachment(
                    note_id=ids[index],
                    file=staged.stored(file.inspected),
                    filename=file.filename,
                    created_at=file.created_at,
                )
                for index, file in files
            )
    # New notes: their creation is their entry in the change feed.
    return ids

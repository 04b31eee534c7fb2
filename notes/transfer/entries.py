"""What an import is made of: entries, the rejections of them, and the caps.

Also the one reader every format of Markdown shares: a note from the bytes
of a Markdown file, from the export (title in the front matter) or from
another tool (title from the first heading or the file name, folders as a tag).
"""

import datetime
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from django.conf import settings

from notes.transfer import markdown

NOTE_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
NON_FIELD = "non_field_errors"


def max_note_file_bytes(files=0):
    """The largest file that can hold a note: the content limit in UTF-8, plus front matter listing `files`."""
    return settings.NOTES_MAX_CONTENT_CHARS * 4 + markdown.max_front_matter_chars(files) * 4 + 1024


@dataclass(frozen=True)
class Limits:
    """Caps on one import; None is no cap (the command line)."""

    max_bytes: int | None = None  # the file, and what an archive unpacks to
    max_entries: int | None = None
    max_attachment_bytes: int | None = None  # one attached file
    quota: bool = False  # whether the user's NOTES_USER_QUOTA_BYTES applies

    @classmethod
    def for_api(cls):
        return cls(
            max_bytes=settings.NOTES_IMPORT_MAX_BYTES,
            max_entries=settings.NOTES_IMPORT_MAX_ENTRIES,
            max_attachment_bytes=settings.NOTES_ATTACHMENT_MAX_BYTES,
            quota=True,
        )


UNLIMITED = Limits()


@dataclass
class Entry:
    """One note of an import file: its fields, or why it cannot be imported."""

    name: str
    fields: dict | None = None
    errors: dict | None = None
    # Files to attach (`notes.transfer.attached.Incoming`), checked; or, from
    # a Markdown file's front matter, the raw list its source resolves.
    attachments: list = field(default_factory=list)


class Rejected(Exception):
    """The file as a whole cannot be imported; `rejected` names the entries and why."""

    def __init__(self, rejected):
        super().__init__(f"{len(rejected)} rejected entries")
        self.rejected = rejected


def rejection(entry, *messages):
    return {"entry": entry, "errors": {NON_FIELD: list(messages)}}


def reject(entry, message):
    """Rejected, for one entry (often the file itself)."""
    return Rejected([rejection(entry, message)])


def too_many(limit):
    return f"More than {limit} entries: import it with `manage.py import_notes` instead."


def markdown_entry(entry, raw, *, path, foreign, files=0):
    """An entry from a Markdown file's bytes; `path` is where it sits in the folder imported.

    A file of the export (`foreign=False`) must carry its title in the front
    matter; a file from another tool falls back to its first heading and its
    file name, and its folders become a tag. `files`: how many attached
    files its front matter may list (those of the whole export).
    """
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return Entry(entry, errors={NON_FIELD: ["Not UTF-8 text."]})
    try:
        metadata, body = markdown.parse(text, files=files)
    except markdown.FormatError as exc:
        return Entry(entry, errors={NON_FIELD: [str(exc)]})

    fields = {"content": body}
    title = metadata.get("title")
    if title is None and foreign:
        title = markdown.derived_title(markdown.first_heading(body), PurePosixPath(path).stem)
    if title is not None:
        fields["title"] = title
    if "pinned" in metadata:
        fields["pinned"] = metadata["pinned"]
    tags = metadata.get("tags", [])
    if foreign:
        tags = _foreign_tags(tags)
        folder = markdown.folder_tag(PurePosixPath(path).parent.parts)
        if folder and isinstance(tags, list):
            tags = [*tags, folder]
    fields["tags"] = tags
    attachments = [] if foreign else metadata.get("attachments", [])
    for name, aliases in {"created_at": ("created", "date"), "updated_at": ("updated", "modified")}.items():
        value = _first_present(metadata, (name, *aliases) if foreign else (name,))
        if value is not None:
            fields[name] = _as_datetime(value)
    return Entry(entry, fields=fields, attachments=attachments)


def _foreign_tags(tags):
    """Tags as other tools write them: a list, or one string of names; `#` prefixes dropped."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = re.split(r"[,\s]+", tags)
    if not isinstance(tags, list):
        return tags  # refused by validation, with its message
    return [tag.lstrip("#") if isinstance(tag, str) else tag for tag in tags if tag not in ("", None)]


def _first_present(metadata, names):
    return next((metadata[name] for name in names if metadata.get(name) is not None), None)


def _as_datetime(value):
    """YAML gives dates and datetimes as objects: a date is taken at midnight UTC."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return f"{value.isoformat()}T00:00:00Z"
    return value

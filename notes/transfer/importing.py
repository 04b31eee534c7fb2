"""Read an import file, validate every note in it, then create them all or none.

What can be imported:
- the JSON export (or a bare list of notes in the same shape);
- the Markdown zip export, verified against its `manifest.json`: a file
  changed, missing or added since the export is rejected by name;
- one Markdown file;
- a zip of a plain folder of Markdown files, as other notes tools export
  them: front matter optional, the title from the front matter, else the
  first heading, else the file name; the folders a file sits in become one
  normalised tag (`Work/Side projects/x.md` is tagged `work/side-projects`).

An archive is checked before anything in it is read: absolute or `..`
paths, symbolic links, encrypted members and compression ratios typical of
a zip bomb are refused, and members are read with a bound, never trusting
their declared size.
"""

import datetime
import hashlib
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import orjson
from django.conf import settings

from notes.serializers import NoteImportSerializer
from notes.services import note_create_many
from notes.transfer import FORMAT_NAME, FORMAT_VERSION, markdown
from notes.transfer.exporting import MANIFEST_NAME

NOTE_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
# A member that would inflate past the largest note at a ratio beyond this
# is a zip bomb. A note itself may compress far better (100,000 repeated
# characters do), so a member no larger than a note is never judged by ratio:
# its read is bounded anyway.
MAX_COMPRESSION_RATIO = 100
NON_FIELD = "non_field_errors"
SHA256 = re.compile(r"[0-9a-f]{64}")


def max_note_file_bytes():
    """The largest file that can hold a note: the content limit in UTF-8, plus front matter."""
    return settings.NOTES_MAX_CONTENT_CHARS * 4 + markdown.MAX_FRONT_MATTER_CHARS * 4 + 1024


@dataclass(frozen=True)
class Limits:
    """Caps on one import; None is no cap (the command line)."""

    max_bytes: int | None = None  # the file, and what an archive unpacks to
    max_entries: int | None = None

    @classmethod
    def for_api(cls):
        return cls(max_bytes=settings.NOTES_IMPORT_MAX_BYTES, max_entries=settings.NOTES_IMPORT_MAX_ENTRIES)


@dataclass
class Entry:
    """One note of an import file: its fields, or why it cannot be imported."""

    name: str
    fields: dict | None = None
    errors: dict | None = None


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


def open_import(file, *, name, content_type=None, limits=Limits()):
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
            raise reject(name, _too_many(limits.max_entries))
        self.notes = notes

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
            if isinstance(note, dict):
                yield Entry(name, fields=note)
            else:
                yield Entry(name, errors={NON_FIELD: ["Expected a note: an object with a title."]})


class MarkdownSource:
    """One Markdown file, with or without front matter."""

    def __init__(self, raw, *, name):
        self.raw = raw
        self.name = name

    def __len__(self):
        return 1

    def entries(self):
        yield markdown_entry(self.name, self.raw, path=PurePosixPath(self.name).name, foreign=True)


class ZipSource:
    """A zip: the Markdown export with its manifest, or a plain folder of Markdown files."""

    def __init__(self, file, *, name, limits):
        self.name = name
        try:
            self.archive = zipfile.ZipFile(file)
            members = [info for info in self.archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            raise reject(name, "The file is not a readable zip archive (damaged or truncated).") from None
        if limits.max_entries is not None and len(members) > limits.max_entries:
            raise reject(name, _too_many(limits.max_entries))
        _check_members(members)

        manifest = _find_manifest(members)
        self.base = PurePosixPath(manifest.filename).parent if manifest else PurePosixPath()
        self.notes = [info for info in members if info is not manifest and self._is_note(info, exported=bool(manifest))]
        unpacked = sum(info.file_size for info in self.notes) + (manifest.file_size if manifest else 0)
        if limits.max_bytes is not None and unpacked > limits.max_bytes:
            raise reject(name, f"The archive unpacks to more than the limit of {limits.max_bytes} bytes.")
        self.expected = self._read_manifest(manifest, limit=4096 + 512 * len(members)) if manifest else None

    @staticmethod
    def _is_note(info, *, exported):
        """Whether a member is read as a note: in an export, every file is, to be checked."""
        path = PurePosixPath(info.filename)
        if any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
            return False  # hidden files and folders, and macOS's resource forks
        return exported or path.suffix.lower() in NOTE_SUFFIXES

    def _read_manifest(self, manifest, *, limit):
        """The file names and SHA-256 the manifest lists, after checking them against the archive."""
        try:
            data = orjson.loads(_read_member(self.archive, manifest, limit))
        except EntryError as exc:
            raise reject(manifest.filename, str(exc).replace("for a note", "for a manifest")) from None
        except orjson.JSONDecodeError:
            raise reject(manifest.filename, "The manifest is not valid JSON.") from None
        files = data.get("files") if isinstance(data, dict) else None
        if (
            not isinstance(files, dict)
            or data.get("format") != FORMAT_NAME
            or not all(isinstance(digest, str) and SHA256.fullmatch(digest) for digest in files.values())
        ):
            message = f'Not a manifest of "{FORMAT_NAME}": it needs "files" with a SHA-256 each.'
            raise reject(manifest.filename, message)
        if data.get("count") != len(files):
            message = f'"count" does not match the {len(files)} files listed: the manifest was modified.'
            raise reject(manifest.filename, message)
        present = {self._relative(info) for info in self.notes}
        rejected = [
            rejection(str(self.base / name), "Missing from the archive.") for name in files if name not in present
        ]
        rejected += [
            rejection(info.filename, "Not in the manifest: the archive was modified.")
            for info in self.notes
            if self._relative(info) not in files
        ]
        if rejected:
            raise Rejected(rejected)
        return files

    def _relative(self, info):
        """A member's name inside the export's folder (the manifest's)."""
        path = PurePosixPath(info.filename)
        return str(path.relative_to(self.base)) if path.is_relative_to(self.base) else info.filename

    def __len__(self):
        return len(self.notes)

    def entries(self):
        limit = max_note_file_bytes()
        for info in self.notes:
            try:
                raw = _read_member(self.archive, info, limit)
            except EntryError as exc:
                yield Entry(info.filename, errors={NON_FIELD: [str(exc)]})
                continue
            if self.expected is None:
                yield markdown_entry(info.filename, raw, path=info.filename, foreign=True)
            elif hashlib.sha256(raw).hexdigest() != self.expected[self._relative(info)]:
                message = "Changed since the export: its SHA-256 does not match the manifest."
                yield Entry(info.filename, errors={NON_FIELD: [message]})
            else:
                yield markdown_entry(info.filename, raw, path=self._relative(info), foreign=False)


class EntryError(ValueError):
    """One entry cannot be read."""


def _too_many(limit):
    return f"More than {limit} entries: import it with `manage.py import_notes` instead."


def _check_members(members):
    """Refuse a hostile archive before reading any of it."""
    rejected = []
    seen = set()
    for info in members:
        problem = _member_problem(info, seen)
        if problem:
            rejected.append(rejection(info.filename.replace("\x00", "\\0"), problem))
        seen.add(info.filename)
    if rejected:
        raise Rejected(rejected)


def _member_problem(info, seen):
    name = info.filename
    parts = re.split(r"[/\\]", name)
    if "\x00" in name:
        return "A file name with a NUL character is not allowed."
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "An absolute path is not allowed."
    if ".." in parts:
        return "A path with '..' is not allowed."
    if stat.S_ISLNK(info.external_attr >> 16):
        return "A symbolic link is not allowed."
    if info.flag_bits & 0x1:
        return "An encrypted file cannot be imported."
    if info.file_size > max_note_file_bytes() and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        return f"A compression ratio of {ratio}:1 (over {MAX_COMPRESSION_RATIO}:1) is a zip bomb's, not a note's."
    if name in seen:
        return "The archive holds this name twice."
    return None


def _find_manifest(members):
    """The export's manifest: at the top, or in the one folder the export was unpacked to."""
    candidates = [info for info in members if PurePosixPath(info.filename).name == MANIFEST_NAME]
    candidates = [info for info in candidates if len(PurePosixPath(info.filename).parts) <= 2]
    return min(candidates, key=lambda info: len(PurePosixPath(info.filename).parts), default=None)


def _read_member(archive, info, limit):
    """A member's bytes, never more than `limit` whatever it declares."""
    if info.file_size > limit:
        raise EntryError(f"Too large for a note: over {limit} bytes.")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError):
        raise EntryError("Cannot be read: the archive is damaged or uses an unsupported compression.") from None
    if len(data) > limit:
        raise EntryError(f"Too large for a note: over {limit} bytes.")
    return data


def markdown_entry(entry, raw, *, path, foreign):
    """An entry from a Markdown file's bytes; `path` is where it sits in the folder imported.

    A file of the export (`foreign=False`) must carry its title in the front
    matter; a file from another tool falls back to its first heading and its
    file name, and its folders become a tag.
    """
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return Entry(entry, errors={NON_FIELD: ["Not UTF-8 text."]})
    try:
        metadata, body = markdown.parse(text)
    except markdown.FormatError as exc:
        return Entry(entry, errors={NON_FIELD: [str(exc)]})

    fields = {"content": body}
    title = metadata.get("title")
    if isinstance(title, int | float) and not isinstance(title, bool):
        title = str(title)  # `title: 2024` is a title, not a number
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
    for name, aliases in {"created_at": ("created", "date"), "updated_at": ("updated", "modified")}.items():
        value = _first_present(metadata, (name, *aliases) if foreign else (name,))
        if value is not None:
            fields[name] = _as_datetime(value)
    return Entry(entry, fields=fields)


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


# Validating and writing


def validated(source):
    """Every entry of `source`, validated by the API's own rules."""
    for entry in source.entries():
        if entry.errors:
            yield entry
            continue
        serializer = NoteImportSerializer(data=entry.fields)
        if serializer.is_valid():
            yield Entry(entry.name, fields=serializer.validated_data)
        else:
            yield Entry(entry.name, errors=serializer.errors)


def notes_import(*, owner, source, dry_run=False):
    """Validate everything, then create every note in one transaction, or none.

    A dry run reports what an import would do (`imported` counts the notes
    it would create) and writes nothing.
    """
    valid, rejected = [], []
    for entry in validated(source):
        if entry.errors:
            rejected.append({"entry": entry.name, "errors": entry.errors})
        else:
            valid.append(entry.fields)
    if rejected:
        return Report(rejected=rejected)
    if dry_run:
        return Report(imported=len(valid))
    notes = note_create_many(owner=owner, notes=valid)  # one transaction
    return Report(imported=len(notes), ids=[note.pk for note in notes])

"""Zip archives to import: the Markdown export with its manifest, or a plain folder of Markdown.

An archive is checked before anything in it is read: absolute or `..`
paths, symbolic links, encrypted members, duplicated names and compression
ratios of a zip bomb are refused, naming each member; then members are read
with a bound, never trusting their declared size.
"""

import hashlib
import re
import stat
import zipfile
import zlib
from pathlib import PurePosixPath

import orjson
from django.conf import settings

from notes.transfer import FORMAT_NAME, attached
from notes.transfer.entries import (
    NON_FIELD,
    NOTE_SUFFIXES,
    Entry,
    Rejected,
    markdown_entry,
    max_note_file_bytes,
    reject,
    rejection,
    too_many,
)
from notes.transfer.exporting import MANIFEST_NAME

# A member that would inflate past the largest note at a ratio beyond this
# is a zip bomb. A note itself may compress far better (100,000 repeated
# characters do), so a member no larger than a note is never judged by ratio:
# its read is bounded anyway.
MAX_COMPRESSION_RATIO = 100
SHA256 = re.compile(r"[0-9a-f]{64}")


# The bit saying a member's name is UTF-8 (APPNOTE 4.4.4, bit 11).
UTF8_NAME_FLAG = 0x800


def read_as_utf8(info):
    """The member, its name read as UTF-8 where the zip did not say which encoding it is in.

    zipfile then reads a name as cp437, the format's old default, but Linux's
    `zip` writes UTF-8 without setting the flag: "Naïve.md" came out as
    "Na├»ve.md", and an export zipped again by hand was refused as modified.
    A name that is not valid UTF-8 stays cp437 (old DOS and Windows tools).
    Only `filename` changes: zipfile checks `orig_filename` against the
    member's local header when it opens it.
    """
    if not info.flag_bits & UTF8_NAME_FLAG:
        try:
            name = info.orig_filename.encode("cp437").decode("utf-8")
        except UnicodeError:
            return info
        info.filename = name.split("\x00", 1)[0]  # cut at a NUL, as zipfile cuts the name it reads
    return info


class ZipSource:
    """A zip: the Markdown export with its manifest, or a plain folder of Markdown files."""

    def __init__(self, file, *, name, limits):
        self.name = name
        try:
            self.archive = zipfile.ZipFile(file)
            # Not is_dir(), which fails on an empty name: zipfile cuts a name at
            # a NUL ("\0.md" is ""), and such a member stays, to be refused.
            members = [
                info
                for info in map(read_as_utf8, self.archive.infolist())
                if "\x00" in info.orig_filename or not info.filename.endswith("/")
            ]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            raise reject(name, "The file is not a readable zip archive (damaged or truncated).") from None
        if limits.max_entries is not None and len(members) > limits.max_entries:
            raise reject(name, too_many(limits.max_entries))
        _check_members(members)

        self.limits = limits
        manifest = _find_manifest(members)
        self.base = PurePosixPath(manifest.filename).parent if manifest else PurePosixPath()
        self.expected, self.attached = {}, {}
        if manifest:
            self.expected, self.attached = self._read_manifest(manifest, members, limit=4096 + 512 * len(members))
        self.notes = [
            info
            for info in members
            if info is not manifest
            and self._relative(info) not in self.attached
            and self._is_note(info, exported=bool(manifest))
        ]
        bombs = [(info, _bomb(info, max_note_file_bytes(len(self.attached)))) for info in self.notes]
        if any(problem for _, problem in bombs):
            raise Rejected([rejection(info.filename, problem) for info, problem in bombs if problem])
        if manifest:
            self._check_listed(members, manifest)
        self.files = {self._relative(info): info for info in members if self._relative(info) in self.attached}
        unpacked = sum(info.file_size for info in members if info in self.notes or info is manifest) + sum(
            info.file_size for info in self.files.values()
        )
        if limits.max_bytes is not None and unpacked > limits.max_bytes:
            raise reject(name, f"The archive unpacks to more than the limit of {limits.max_bytes} bytes.")
        if not manifest:
            self.expected = None

    @staticmethod
    def _is_note(info, *, exported):
        """Whether a member is read as a note: in an export, every file is, to be checked."""
        path = PurePosixPath(info.filename)
        if any(part.startswith(".") or part == "__MACOSX" for part in path.parts):
            return False  # hidden files and folders, and macOS's resource forks
        return exported or path.suffix.lower() in NOTE_SUFFIXES

    def _read_manifest(self, manifest, members, *, limit):
        """The notes' and the attached files' names and SHA-256, as the manifest lists them."""
        try:
            data = orjson.loads(_read_member(self.archive, manifest, limit))
        except EntryError as exc:
            raise reject(manifest.filename, str(exc).replace("for a note", "for a manifest")) from None
        except orjson.JSONDecodeError:
            raise reject(manifest.filename, "The manifest is not valid JSON.") from None
        files = data.get("files") if isinstance(data, dict) else None
        attached = data.get("attachments", {}) if isinstance(data, dict) else None
        if (
            not isinstance(files, dict)
            or not isinstance(attached, dict)
            or data.get("format") != FORMAT_NAME
            or not all(
                isinstance(digest, str) and SHA256.fullmatch(digest) for digest in [*files.values(), *attached.values()]
            )
        ):
            message = f'Not a manifest of "{FORMAT_NAME}": it needs "files" with a SHA-256 each.'
            raise reject(manifest.filename, message)
        if data.get("count") != len(files):
            message = f'"count" does not match the {len(files)} files listed: the manifest was modified.'
            raise reject(manifest.filename, message)
        return files, attached

    def _check_listed(self, members, manifest):
        """Every note and attached file the manifest lists is present, and nothing else is."""
        present = {self._relative(info) for info in members}
        listed = {*self.expected, *self.attached}
        rejected = [
            rejection(str(self.base / name), "Missing from the archive.") for name in listed if name not in present
        ]
        rejected += [
            rejection(info.filename, "Not in the manifest: the archive was modified.")
            for info in self.notes
            if self._relative(info) not in self.expected
        ]
        if rejected:
            raise Rejected(rejected)

    def _relative(self, info):
        """A member's name inside the export's folder (the manifest's)."""
        path = PurePosixPath(info.filename)
        return str(path.relative_to(self.base)) if path.is_relative_to(self.base) else info.filename

    def __len__(self):
        return len(self.notes)

    def entries(self):
        limit = max_note_file_bytes(len(self.attached))
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
                entry = markdown_entry(
                    info.filename, raw, path=self._relative(info), foreign=False, files=len(self.attached)
                )
                yield self._with_files(entry)

    def _with_files(self, entry):
        """The entry with the files its front matter lists, each checked against its SHA-256."""
        if entry.errors or not entry.attachments:
            return entry
        try:
            entry.attachments = attached.from_zip(
                entry.attachments, open_member=self._open_file, max_bytes=self.limits.max_attachment_bytes
            )
        except attached.AttachmentError as exc:
            return Entry(entry.name, errors={"attachments": [str(exc)]})
        return entry

    def _open_file(self, path):
        name = attached.member_path(PurePosixPath(), path)
        if name not in self.files:
            raise attached.AttachmentError(f"{path!r} is not among the files the manifest lists.")
        info = self.files[name]
        try:
            return self.archive.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError):
            raise attached.AttachmentError(f"{path!r} cannot be read: the archive is damaged.") from None


class EntryError(ValueError):
    """One entry cannot be read."""


def _check_members(members):
    """Refuse a hostile archive before reading any of it."""
    rejected = []
    seen = set()
    # Judged as an attached file here, the largest a member may be; as a note once the manifest says which it is.
    largest = max(max_note_file_bytes(len(members)), settings.NOTES_ATTACHMENT_MAX_BYTES)
    for info in members:
        problem = _member_problem(info, seen, largest)
        if problem:
            rejected.append(rejection(info.orig_filename.replace("\x00", "\\0"), problem))
        seen.add(info.filename)
    if rejected:
        raise Rejected(rejected)


def _member_problem(info, seen, largest):
    name = info.filename
    parts = re.split(r"[/\\]", name)
    if "\x00" in info.orig_filename:
        return "A file name with a NUL character is not allowed."
    if not name:
        return "A file with no name is not allowed."
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "An absolute path is not allowed."
    if ".." in parts:
        return "A path with '..' is not allowed."
    if stat.S_ISLNK(info.external_attr >> 16):
        return "A symbolic link is not allowed."
    if info.flag_bits & 0x1:
        return "An encrypted file cannot be imported."
    if bomb := _bomb(info, largest):
        return bomb
    if name in seen:
        return "The archive holds this name twice."
    return None


def _bomb(info, largest):
    """Why a member larger than `largest` compressed beyond MAX_COMPRESSION_RATIO is a zip bomb, or None."""
    if info.file_size > largest and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        ratio = info.file_size // max(info.compress_size, 1)
        return f"A compression ratio of {ratio}:1 (over {MAX_COMPRESSION_RATIO}:1) is a zip bomb's, not a note's."
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

"""Stream a user's notes as one JSON document or as a zip of Markdown files.

Both are generators of bytes over notes read in batches by id (`notes_by_id`),
so a worker holds one batch at a time however many notes there are: the JSON is
written note by note, and the zip is written to a sink that is emptied
after every file (zip's data descriptors need no seeking back). Only the
zip's directory, which the format puts at the end, stays in memory: a few
hundred bytes a note. Attachments (`notes.transfer.attached`) stream from
storage a chunk at a time: base64 in the JSON, files beside the Markdown.

An export's status is sent before its first byte, so `attachments_checked`
runs first: an export that would reach a file storage has lost answers
503 instead of a 200 cut short.
"""

import datetime
import hashlib
import logging
import tempfile
import zipfile
from collections import defaultdict
from contextlib import closing

import orjson
from django.utils import timezone

from notes.attachments.storage import StorageUnavailable, missing_names, storage_errors_answered
from notes.models import Attachment, StoredFile
from notes.transfer import FORMAT_NAME, FORMAT_VERSION, attached, markdown

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
CHUNK_BYTES = 64 * 1024
MANIFEST_NAME = "manifest.json"
MISSING_LOGGED = 100  # attachments named in the log, at most


class AttachmentsMissing(StorageUnavailable):
    """Files of the export that storage cannot give back: the same 503 as their downloads, before any byte."""

    def __init__(self, missing):
        super().__init__()
        self.missing = missing  # [(attachment id, storage name)], the first MISSING_LOGGED

    def names(self):
        return ", ".join(f"{pk} ({name})" for pk, name in self.missing)


def attachments_checked(queryset):
    """Whether the notes of `queryset` have attachments, having checked that storage has every one's bytes.

    One query for the distinct files' names, then storage: on disk an open
    per file, on S3 a listing per 1,000 of the user's objects. Raises
    AttachmentsMissing (503, logged naming the attachments) when any is
    missing, unreadable or of another size than recorded, StorageUnavailable
    when storage cannot be asked.
    """
    sizes = dict(StoredFile.objects.filter(attachments__note__in=queryset).values_list("name", "size").distinct())
    with storage_errors_answered("find the exported attachments' files"):
        missing = missing_names(sizes)
    if missing:
        attachments = Attachment.objects.filter(note__in=queryset, file__name__in=missing[:MISSING_LOGGED])
        exc = AttachmentsMissing(list(attachments.order_by("pk").values_list("pk", "file__name")[:MISSING_LOGGED]))
        logger.error(
            "An export was refused: the attachments storage cannot give back %d file(s), shown by attachment(s) %s",
            len(missing),
            exc.names(),
        )
        raise exc
    return bool(sizes)


def notes_by_id(queryset, batch_size=BATCH_SIZE, *, with_attachments=True):
    """Every note of `queryset` in id order, fetched a batch at a time.

    Ordering by id, which never changes, means a note edited during the
    export is neither skipped nor repeated. `with_attachments=False` (the
    notes had none when checked) saves each batch its attachments' query.
    """
    last_id = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if with_attachments:
            _with_attachments(batch)
        else:
            for note in batch:
                note.exported_attachments = []
        yield from batch
        if len(batch) < batch_size:
            return
        last_id = batch[-1].pk


def _with_attachments(notes):
    """Set `exported_attachments` on each note: one query for the batch.

    Not prefetch_related, whose caches tie each note to a queryset in a
    reference cycle that outlives the batch until the garbage collector runs.
    """
    by_note = defaultdict(list)
    attachments = Attachment.objects.filter(note_id__in=[note.pk for note in notes]).select_related("file")
    for attachment in attachments.order_by("created_at", "id"):
        by_note[attachment.note_id].append(attachment)
    for note in notes:
        note.exported_attachments = by_note.get(note.pk, [])


def note_document(note):
    """A note as the JSON export has it, and as the JSON import reads it back."""
    return {
        "title": note.title,
        "content": note.content,
        "pinned": note.pinned,
        "tags": note.tags,
        "created_at": markdown.timestamp(note.created_at),
        "updated_at": markdown.timestamp(note.updated_at),
    }


def export_json(notes):
    """`{"format", "version", "exported_at", "notes": [...], "count"}`, a note per line."""
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "exported_at": markdown.timestamp(timezone.now())}
    yield orjson.dumps(header)[:-1] + b',"notes":['
    count = 0
    for note in notes:
        document = orjson.dumps(note_document(note))
        attachments = note.exported_attachments
        if attachments:
            yield (b",\n" if count else b"\n") + document[:-1]
            yield from attached.json_attachments(attachments)
            yield b"}"
        else:
            yield (b",\n" if count else b"\n") + document
        count += 1
    yield b'\n],"count":%d}\n' % count


def export_markdown_zip(notes):
    """A zip of `<title>.md` files and a `manifest.json` with the count and a SHA-256 per file.

    The manifest's lines are spooled to a temporary file as the notes go by,
    then copied into the archive last.
    """
    sink = _Sink()
    names = markdown.UniqueNames()
    count = 0
    exported_at = timezone.now()
    files_written = 0
    with (
        zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        tempfile.TemporaryFile() as lines,
        tempfile.TemporaryFile() as file_lines,
    ):
        for note in notes:
            name = names(markdown.file_stem(note.title))
            # A note's files go before its Markdown file, whose front matter
            # then lists those written: one deleted during the export is left
            # out of both (attached.opened).
            members = []
            member_names = attached.MemberNames(name)
            for attachment in note.exported_attachments:
                if (reader := attached.opened(attachment)) is None:
                    continue
                member = member_names(attachment.filename)
                yield from _write_file(archive, sink, member, attachment, reader)
                digest = attachment.file.sha256.encode()
                file_lines.write(b'%s    %s: "%s"' % (b",\n" if files_written else b"", orjson.dumps(member), digest))
                files_written += 1
                members.append((member, attachment))
            data = markdown.render(note, attached.front_matter_lines(members) if members else ()).encode()
            archive.writestr(_member(name, note.updated_at), data)
            lines.write(b'%s    %s: "%s"' % (b",\n" if count else b"", orjson.dumps(name), _sha256(data)))
            count += 1
            yield from sink.take()
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "exported_at": markdown.timestamp(exported_at)}
        with archive.open(_member(MANIFEST_NAME, exported_at), "w") as manifest:
            manifest.write(orjson.dumps({**header, "count": count}, option=orjson.OPT_INDENT_2)[:-2])
            for key, spooled in (("files", lines), ("attachments", file_lines)):
                if key == "attachments" and not files_written:
                    continue
                manifest.write(b',\n  "%s": {\n' % key.encode())
                spooled.seek(0)
                while chunk := spooled.read(CHUNK_BYTES):
                    manifest.write(chunk)
                    yield from sink.take()
                manifest.write(b"\n  }")
            manifest.write(b"\n}\n")
    yield from sink.take()


def _write_file(archive, sink, name, attachment, reader):
    """An attachment's bytes (`reader`) into the archive as `name`, a chunk at a time."""
    member = _member(name, attachment.created_at)
    member.compress_type = attached.compress_type(attachment.file.content_type)
    with closing(reader), archive.open(member, "w", force_zip64=attachment.file.size >= zipfile.ZIP64_LIMIT) as target:
        for chunk in attached.stored_chunks(attachment, reader):
            target.write(chunk)
            yield from sink.take()
    yield from sink.take()


def _sha256(data):
    return hashlib.sha256(data).hexdigest().encode()


def _member(name, when):
    # Zip timestamps are local times from 1980 on, to the even second.
    when = max(when.astimezone(datetime.UTC), datetime.datetime(1980, 1, 1, tzinfo=datetime.UTC))
    member = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
    return member


class _Sink:
    """A write-only file for ZipFile whose bytes are taken out as they come."""

    def __init__(self):
        self.chunks = []

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self):
        """The bytes written since the last take, as written (joining them would copy)."""
        chunks, self.chunks = self.chunks, []
        return chunks

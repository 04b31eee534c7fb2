"""Stream a user's notes as one JSON document or as a zip of Markdown files.

Both are generators of bytes over notes read in batches by id (`notes_by_id`),
so a worker holds one batch at a time however many notes there are: the JSON is
written note by note, and the zip is written to a sink that is emptied
after every file (zip's data descriptors need no seeking back). Only the
zip's directory, which the format puts at the end, stays in memory: a few
hundred bytes a note.
"""

import datetime
import hashlib
import tempfile
import zipfile

import orjson
from django.utils import timezone

from notes.transfer import FORMAT_NAME, FORMAT_VERSION, markdown

BATCH_SIZE = 500
CHUNK_BYTES = 64 * 1024
MANIFEST_NAME = "manifest.json"


def notes_by_id(queryset, batch_size=BATCH_SIZE):
    """Every note of `queryset` in id order, fetched a batch at a time.

    Ordering by id, which never changes, means a note edited during the
    export is neither skipped nor repeated.
    """
    last_id = 0
    while True:
        batch = list(queryset.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        last_id = batch[-1].pk


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
        yield (b",\n" if count else b"\n") + orjson.dumps(note_document(note))
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
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive, tempfile.TemporaryFile() as lines:
        for note in notes:
            data = markdown.render(note).encode()
            name = names(markdown.file_stem(note.title))
            archive.writestr(_member(name, note.updated_at), data)
            lines.write(b'%s    %s: "%s"' % (b",\n" if count else b"", orjson.dumps(name), _sha256(data)))
            count += 1
            yield from sink.take()
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "exported_at": markdown.timestamp(exported_at)}
        with archive.open(_member(MANIFEST_NAME, exported_at), "w") as manifest:
            manifest.write(orjson.dumps({**header, "count": count}, option=orjson.OPT_INDENT_2)[:-2])
            manifest.write(b',\n  "files": {\n')
            lines.seek(0)
            while chunk := lines.read(CHUNK_BYTES):
                manifest.write(chunk)
                yield from sink.take()
            manifest.write(b"\n  }\n}\n")
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

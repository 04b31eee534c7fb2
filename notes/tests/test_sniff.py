"""Content types from the bytes (notes.attachments.sniff)."""

import io
import zipfile

import pytest

from notes.attachments.sniff import INLINE_TYPES, Sniffer, sniff
from notes.tests.attachment_helpers import GIF, PNG


def zipped(*members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, compression in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xdb\x00\x43", "image/jpeg"),
        (GIF, "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8L", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00", "video/mp4"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm", "video/webm"),
        (b"%PDF-1.4\n%\xe2\xe3", "application/pdf"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"SQLite format 3\x00\x10\x00", "application/vnd.sqlite3"),
        (zipped(("a.txt", b"a", zipfile.ZIP_DEFLATED)), "application/zip"),
        (
            zipped(
                ("mimetype", b"application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED),
                ("content.xml", b"<x/>", zipfile.ZIP_DEFLATED),
            ),
            "application/vnd.oasis.opendocument.text",
        ),
        (
            zipped(("mimetype", b"application/epub+zip", zipfile.ZIP_STORED)),
            "application/epub+zip",
        ),
        (
            zipped(("mimetype", b"text/html\r\nX-Evil: 1", zipfile.ZIP_STORED)),
            "application/zip",
        ),
        (
            zipped(
                ("[Content_Types].xml", b"<Types/>", zipfile.ZIP_DEFLATED),
                ("word/document.xml", b"<w/>", zipfile.ZIP_DEFLATED),
            ),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"plain words\n", "text/plain; charset=utf-8"),
        ("unicode: é 中文 😀".encode(), "text/plain; charset=utf-8"),
        (b"\xef\xbb\xbfwith a BOM", "text/plain; charset=utf-8"),
        (b"# A heading\n\n<b>bold</b> later", "text/plain; charset=utf-8"),
        (b"<!DOCTYPE html><title>x</title>", "text/html; charset=utf-8"),
        (b"\n  <html lang=en>", "text/html; charset=utf-8"),
        (b"<script>alert(1)</script>", "text/html; charset=utf-8"),
        (b"<!-- a comment -->", "text/html; charset=utf-8"),
        (b"<abbr>not a sniffed tag</abbr>", "text/plain; charset=utf-8"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b'<?xml version="1.0"?><svg/>', "image/svg+xml"),
        (b'<?xml version="1.0"?><feed/>', "application/xml"),
        (b"text with a NUL\x00 is binary", "application/octet-stream"),
        (b"latin-1 caf\xe9", "application/octet-stream"),
        (b"\x00\x01\x02\x03", "application/octet-stream"),
    ],
)
def test_sniff(data, content_type):
    assert sniff(data) == content_type


def test_text_must_be_utf8_to_the_end():
    sniffer = Sniffer()
    sniffer.feed(b"fine words " * 1000)
    sniffer.feed(b"\xff at the end")

    assert sniffer.content_type() == "application/octet-stream"


def test_a_character_split_between_chunks_is_still_text():
    sniffer = Sniffer()
    encoded = "é".encode()
    sniffer.feed(b"caf" + encoded[:1])
    sniffer.feed(encoded[1:])

    assert sniffer.content_type() == "text/plain; charset=utf-8"


def test_a_truncated_character_at_the_end_is_not_text():
    assert sniff("café".encode()[:-1]) == "application/octet-stream"


def test_only_the_four_plain_images_are_inline():
    assert {"image/png", "image/jpeg", "image/gif", "image/webp"} == INLINE_TYPES

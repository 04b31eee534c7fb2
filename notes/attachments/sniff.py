"""What a file is, from its bytes: never from its name or the client's word.

Explicit signatures for the formats people attach, checked in order; text
is text only if the whole file is UTF-8 without NUL; anything else is
`application/octet-stream`. Only the four image types a browser shows as
plain images (`INLINE_TYPES`) are ever served inline, so what matters most
is that nothing else is ever mistaken for them.
"""

import codecs
import re

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"
HEAD_BYTES = 4096

SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
    (b"%!PS", "application/postscript"),
    (b"\x1f\x8b", "application/gzip"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x28\xb5\x2f\xfd", "application/zstd"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
    (b"\x00asm", "application/wasm"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
]
RIFF_TYPES = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
FTYP_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
}
OOXML_TYPES = {
    b"word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    b"xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    b"ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
DECLARED_ZIP_TYPE = re.compile(rb"application/(vnd\.oasis\.opendocument\.[a-z.-]+|epub\+zip)")
# The tags with which WHATWG's MIME sniffing recognises an HTML document.
HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
)
TAG_ENDS = frozenset({b" ", b">", b"\t", b"\n", b"\r", b"/"})


class Sniffer:
    """Fed a file's bytes in order, names its content type at the end."""

    def __init__(self):
        self.head = b""
        self.text = True
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk):
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        if self.text:
            self.text = b"\x00" not in chunk and self._decodes(chunk)

    def _decodes(self, chunk, final=False):
        try:
            self.decoder.decode(chunk, final)
        except UnicodeDecodeError:
            return False
        return True

    def content_type(self):
        binary = _binary_type(self.head)
        if binary:
            return binary
        if self.text and self._decodes(b"", final=True):
            return _text_type(self.head)
        return OCTET_STREAM


def sniff(data):
    """The content type of `data` (bytes)."""
    sniffer = Sniffer()
    sniffer.feed(data)
    return sniffer.content_type()


def _binary_type(head):
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head.startswith(b"RIFF") and head[8:12] in RIFF_TYPES:
        return RIFF_TYPES[head[8:12]]
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head)
    if head.startswith(b"PK\x05\x06"):
        return "application/zip"
    if head[257:262] == b"ustar":
        return "application/x-tar"
    if head[:2] in {b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"}:
        return "audio/mpeg"
    return None


def _zip_type(head):
    """A zip, or the document format built on one: OpenDocument, EPUB, Office Open XML."""
    name_length = int.from_bytes(head[26:28], "little")
    extra_length = int.from_bytes(head[28:30], "little")
    first_name = head[30 : 30 + name_length]
    if first_name == b"mimetype":
        # OpenDocument and EPUB store their type, uncompressed, as the first member.
        start = 30 + name_length + extra_length
        declared = head[start : start + min(int.from_bytes(head[18:22], "little"), 100)]
        if DECLARED_ZIP_TYPE.fullmatch(declared):
            return declared.decode("ascii")
    if first_name == b"[Content_Types].xml":
        for folder, content_type in OOXML_TYPES.items():
            if folder in head:
                return content_type
    return "application/zip"


def _text_type(head):
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\n\r\x0c").lower()
    if start.startswith(b"<svg") or (start.startswith(b"<?xml") and b"<svg" in start):
        return "image/svg+xml"
    if start.startswith(b"<?xml"):
        return "application/xml"
    if start.startswith(b"<!--") or any(
        start.startswith(tag) and start[len(tag) : len(tag) + 1] in TAG_ENDS for tag in HTML_STARTS
    ):
        return "text/html; charset=utf-8"
    return TEXT

"""A stored file as an HTTP answer: streamed, with ranges, and unable to run as this site.

Every answer carries the stored (sniffed) content type, `nosniff`, and a
content security policy that sandboxes the file should a browser open it
as a page; only plain images (`INLINE_TYPES`) are shown inline, everything
else is `Content-Disposition: attachment`. The ETag is the SHA-256.
"""

from django.http import FileResponse, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.cache import parse_etags
from django.utils.http import content_disposition_header

from notes.attachments.sniff import INLINE_TYPES
from notes.attachments.storage import CHUNK_BYTES, check_size, open_range, storage_errors_answered
from notes.models import StoredFile

# Larger than any file: a position of 20 digits or more reads as this, which
# answers the same (the rest of the file, or nothing), where int() would
# refuse a number of thousands of digits.
BEYOND_ANY_FILE = 10**19
SANDBOX = "default-src 'none'; sandbox"


class Unsatisfiable(Exception):
    """A Range header for bytes this file does not have, or one that cannot be read."""


def parse_range(header, size):
    """(start, length) of the one byte range asked for, or None for the whole file.

    A unit other than bytes, or several ranges, are ignored: the whole file
    answers (RFC 9110 allows either). A malformed or unsatisfiable byte
    range raises Unsatisfiable (416).
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    # One range (RFC 9110 14.1.2): `first-last`, `first-`, or `-suffix`, with
    # optional spaces. Split, not matched by a regular expression: the one
    # this replaces backtracked for minutes on a header of 8,000 spaces.
    first, dash, last = (part.strip() for part in spec.partition("-"))
    if not dash or not (first or last) or not all(_is_number(part) for part in (first, last) if part):
        raise Unsatisfiable
    if first:
        start, end = _position(first), _position(last) if last else size - 1
        if end < start or start >= size:
            raise Unsatisfiable
        end = min(end, size - 1)
    else:
        suffix = _position(last)
        if suffix == 0:
            raise Unsatisfiable
        start, end = max(size - suffix, 0), size - 1
    return start, end - start + 1


def _is_number(text):
    return text.isascii() and text.isdigit()


def _position(digits):
    """A byte position or length of a Range header; any past every file's end as BEYOND_ANY_FILE."""
    return int(digits) if len(digits) < 20 else BEYOND_ANY_FILE


def file_response(request, stored, filename, *, cache_control="private, no-cache"):
    """Answer the stored file: 200, 206 for a range, 304, or 416.

    Raises StorageUnavailable (503) when the bytes cannot be read, Http404
    when they were deleted with their attachment since it was looked up.
    """
    etag = f'"{stored.sha256}"'
    # What a cache updates its copy with (RFC 9110 15.4.5), the sandbox
    # included: the site's own policy in its place would replace it.
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX,
    }
    if _matches(request.headers.get("If-None-Match"), etag):
        # Without a Content-Type (HttpResponse's would be text/html, not the
        # file's), and without the representation's own headers.
        return HttpResponseNotModified(headers=headers)
    headers["Accept-Ranges"] = "bytes"
    headers["Content-Disposition"] = content_disposition_header(stored.content_type not in INLINE_TYPES, filename)

    byte_range = None
    if request.headers.get("If-Range", etag) == etag:  # a stale If-Range gets the whole file
        try:
            byte_range = parse_range(request.headers.get("Range"), stored.size)
        except Unsatisfiable:
            # JSON like every other failure; not the file's headers, which
            # would have a browser save the message as the file.
            return JsonResponse(
                {"detail": f"The range is malformed or outside the file's {stored.size} bytes."},
                status=416,
                headers={"Content-Range": f"bytes */{stored.size}", "Accept-Ranges": "bytes", "ETag": etag},
            )
    start, length = byte_range or (0, stored.size)
    if byte_range:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{stored.size}"
    status = 206 if byte_range else 200

    # Bytes deleted with their attachment since it was looked up answer its 404, not a 503.
    def deleted():
        return not StoredFile.objects.filter(pk=stored.pk).exists()

    if request.method == "HEAD":
        # Answered as GET would be: 503 for bytes the storage does not have.
        with storage_errors_answered(f"find {stored.name}", deleted=deleted):
            check_size(stored.name, stored.size)
        response = HttpResponse(status=status, headers=headers, content_type=stored.content_type)
    else:
        with storage_errors_answered(f"read {stored.name}", deleted=deleted):
            reader = open_range(stored.name, start, length, stored.size)
        response = FileResponse(reader, status=status, headers=headers, content_type=stored.content_type)
        response.block_size = CHUNK_BYTES
    response["Content-Length"] = str(length)
    return response


def _matches(header, etag):
    if header is None:
        return False
    tags = parse_etags(header)
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)

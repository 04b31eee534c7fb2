"""Request parsers bounded by NOTES_MAX_BODY_BYTES; JSON parsed strictly by orjson; form fields only UTF-8 text."""

import codecs

import orjson
from django.conf import settings
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from notesite.exceptions import RequestBodyTooLarge, UnsupportedContentEncoding
from notesite.middleware import percent_decoded, text_errors


class BodyLimitMixin:
    """Refuse a coded body with 415, and one over the limit with 413, before reading it."""

    def body_limit(self):
        return settings.NOTES_MAX_BODY_BYTES

    def check_headers(self, parser_context):
        meta = parser_context["request"].META
        # Every body the API parses comes through here: one header lookup.
        # Without this, a gzip body was read as if it were plain bytes.
        coding = meta.get("HTTP_CONTENT_ENCODING")
        if coding and any(c.strip().lower() not in {"identity", ""} for c in coding.split(",")):
            raise UnsupportedContentEncoding(coding)
        limit = self.body_limit()
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ParseError("Content-Length must be an integer.") from None
        if declared > limit:
            raise RequestBodyTooLarge(limit)
        return limit


class JSONParser(BodyLimitMixin, parsers.JSONParser):
    """Strict JSON: NaN, lone surrogates and over-deep nesting answer 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = self.check_headers(parser_context)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestBodyTooLarge(limit)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            # orjson calls bytes that are no UTF-8 "surrogates not allowed", whatever they are.
            try:
                body.decode()
            except UnicodeDecodeError:
                raise ParseError("JSON parse error - the body is not UTF-8 text: JSON must be UTF-8.") from None
            raise ParseError(f"JSON parse error - {exc}") from None


class FormParser(BodyLimitMixin, parsers.FormParser):
    """Form fields as UTF-8 text, checked as the query string's are (notesite.middleware).

    Django decodes a form with replacement characters, and a body that is no
    UTF-8 at all as Latin-1: text changed unseen. The form has no charset of
    its own (WHATWG URL standard, application/x-www-form-urlencoded): UTF-8.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        self.check_headers(parser_context)
        body = stream.read()
        if body.lstrip()[:1] in (b"{", b"["):
            # `curl -d '{...}'` sends JSON as a form; read as one, it named
            # the whole document an unknown field. A form encodes { and [.
            raise ParseError(
                "The body is JSON sent as a form (Content-Type: application/x-www-form-urlencoded, "
                "as `curl -d` sends it): send it with Content-Type: application/json."
            )
        # First: it refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields before they are checked.
        data = QueryDict(body, encoding="utf-8")
        if errors := text_errors(percent_decoded(body)):
            raise ValidationError(errors)
        return data


# Django's multipart parser decodes each field with errors="replace", turning
# bytes that are no UTF-8 text into U+FFFD unseen. Decoded with this codec
# instead, such bytes are kept as lone surrogates (surrogateescape), so that
# MultiPartParser can get them back and name the field. Text that is UTF-8
# (all of a file name, which Django has decoded before) is decoded as UTF-8.
ESCAPED_UTF8 = "notes-escaped-utf-8"


def _escaped_utf8(name):
    if name != "notes_escaped_utf_8":  # as codecs normalises it
        return None
    return codecs.CodecInfo(
        name=ESCAPED_UTF8,
        encode=lambda text, errors="strict": codecs.utf_8_encode(text, "surrogateescape"),
        decode=lambda data, errors="strict": codecs.utf_8_decode(data, "surrogateescape", True),
    )


codecs.register(_escaped_utf8)


class MultiPartParser(BodyLimitMixin, parsers.MultiPartParser):
    """Multipart fields as UTF-8 text, checked as a form's are; a body without its closing boundary is 400.

    Django's parser takes a body with no boundary in it (or one cut short) as
    a form of no fields, or of what came before the cut: a PATCH of garbage
    answered 200 having changed nothing. The bytes of files are not text, and
    are not checked.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        self.check_headers(parser_context)
        request = parser_context["request"]
        meta = {**request.META, "CONTENT_TYPE": media_type}
        # Django refuses a missing or non-ASCII boundary itself, before reading the body.
        boundary = parse_header_parameters(media_type)[1].get("boundary", "")
        body = ClosingDelimiterWatch(stream, b"--%s--" % boundary.encode("ascii", "replace"))
        try:
            data, files = DjangoMultiPartParser(meta, body, request.upload_handlers, ESCAPED_UTF8).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from None
        try:
            if not body.closed:
                raise ParseError(
                    "Multipart form parse error - the body is malformed: it does not end with "
                    f"its closing boundary (--{boundary}--)."
                )
            pairs = (
                (name.encode(ESCAPED_UTF8), value.encode(ESCAPED_UTF8))
                for name, values in data.lists()
                for value in values
            )
            if errors := text_errors(pairs):
                raise ValidationError(errors)
        except Exception:
            for _, uploads in files.lists():
                for upload in uploads:
                    upload.close()
            raise
        return parsers.DataAndFiles(data, files)


class ClosingDelimiterWatch:
    """A multipart body read through, noting whether its close delimiter (RFC 2046 5.1.1) went by."""

    def __init__(self, stream, close_delimiter):
        self.stream = stream
        self.close_delimiter = close_delimiter
        self.closed = False
        # The end of what was read so far: a delimiter may straddle two reads.
        self.tail = b""

    def read(self, size=-1):
        data = self.stream.read(size)
        if data and not self.closed:
            overlap = len(self.close_delimiter) - 1
            self.closed = self.close_delimiter in self.tail + data[:overlap] or self.close_delimiter in data
            self.tail = (self.tail + data[-overlap:])[-overlap:]
        return data

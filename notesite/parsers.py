"""Request parsers bounded by NOTES_MAX_BODY_BYTES; JSON parsed strictly by orjson."""

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from notesite.exceptions import RequestBodyTooLarge


class BodyLimitMixin:
    """Refuse a body over the limit with 413 before reading it."""

    def body_limit(self):
        return settings.NOTES_MAX_BODY_BYTES

    def check_declared_length(self, parser_context):
        limit = self.body_limit()
        try:
            declared = int(parser_context["request"].META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise ParseError("Content-Length must be an integer.") from None
        if declared > limit:
            raise RequestBodyTooLarge(limit)
        return limit


class JSONParser(BodyLimitMixin, parsers.JSONParser):
    """Strict JSON: NaN, lone surrogates and over-deep nesting answer 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = self.check_declared_length(parser_context)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestBodyTooLarge(limit)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


class FormParser(BodyLimitMixin, parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        self.check_declared_length(parser_context)
        return super().parse(stream, media_type, parser_context)


class MultiPartParser(BodyLimitMixin, parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        self.check_declared_length(parser_context)
        return super().parse(stream, media_type, parser_context)

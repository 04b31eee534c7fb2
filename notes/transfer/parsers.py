"""Parsers of the import endpoint: the file, bounded by NOTES_IMPORT_MAX_BYTES, not the JSON body limit.

The file comes as multipart field `file`, or as the raw body; a raw body is
spooled to a temporary file past 1 MiB and never parsed here: the import
reads and validates it.
"""

import tempfile
from pathlib import PurePosixPath, PureWindowsPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.http import parse_header_parameters
from rest_framework.parsers import BaseParser, DataAndFiles

from notesite.exceptions import RequestBodyTooLarge
from notesite.parsers import BodyLimitMixin, MultiPartParser

CHUNK_BYTES = 64 * 1024
SPOOL_IN_MEMORY_BYTES = 1024 * 1024
# Room for the multipart boundaries and part headers around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class ImportMultiPartParser(MultiPartParser):
    def body_limit(self):
        return settings.NOTES_IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES


class RawFileParser(BodyLimitMixin, BaseParser):
    """The request body as an uploaded file named `file`."""

    default_name = "upload"

    def body_limit(self):
        return settings.NOTES_IMPORT_MAX_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        limit = self.check_headers(parser_context)
        # Closed by the import view when it is done with the file.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115
        size = 0
        while stream is not None and (chunk := stream.read(CHUNK_BYTES)):
            size += len(chunk)
            if size > limit:
                spool.close()
                raise RequestBodyTooLarge(limit)
            spool.write(chunk)
        spool.seek(0)
        name = self.filename(parser_context["request"]) or self.default_name
        return DataAndFiles({}, {"file": UploadedFile(spool, name=name, content_type=self.media_type, size=size)})

    @staticmethod
    def filename(request):
        """The base name a `Content-Disposition: attachment; filename=...` header gives, if any."""
        header = request.META.get("HTTP_CONTENT_DISPOSITION")
        if not header:
            return None
        _, params = parse_header_parameters(header)
        name = params.get("filename", "").replace("\x00", "")
        return PureWindowsPath(PurePosixPath(name).name).name or None


class JSONFileParser(RawFileParser):
    media_type = "application/json"
    default_name = "notes.json"


class ZipFileParser(RawFileParser):
    media_type = "application/zip"
    default_name = "notes.zip"


class MarkdownFileParser(RawFileParser):
    media_type = "text/markdown"
    default_name = "Untitled.md"

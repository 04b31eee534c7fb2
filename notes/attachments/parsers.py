"""The upload parser: bounded by NOTES_ATTACHMENT_MAX_BYTES, not the JSON body limit."""

from django.conf import settings

from notes.attachments.files import FileTooLarge
from notesite.exceptions import RequestBodyTooLarge
from notesite.parsers import MultiPartParser

# Room for the multipart boundaries and part headers around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class AttachmentMultiPartParser(MultiPartParser):
    def body_limit(self):
        return settings.NOTES_ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES

    def check_headers(self, parser_context):
        try:
            return super().check_headers(parser_context)
        except RequestBodyTooLarge:
            raise FileTooLarge(settings.NOTES_ATTACHMENT_MAX_BYTES) from None

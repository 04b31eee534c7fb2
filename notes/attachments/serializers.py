from rest_framework import serializers

from notes.models import Attachment
from notes.serializers import (
    FastRepresentationMixin,
    FieldsBuiltOnceMixin,
    IdentityURLField,
    SingleFileField,
    StrictFieldsMixin,
)


class AttachmentSerializer(FieldsBuiltOnceMixin, FastRepresentationMixin, serializers.ModelSerializer):
    """A file on a note: its name, its sniffed type, size and SHA-256, and where to download it."""

    url = IdentityURLField(view_name="attachment-detail")
    download_url = IdentityURLField(view_name="attachment-download")
    content_type = serializers.CharField(read_only=True, help_text="Sniffed from the bytes when uploaded.")
    size = serializers.IntegerField(read_only=True, help_text="In bytes.")
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the bytes, hex; also the download's ETag.")

    class Meta:
        model = Attachment
        fields = ["id", "url", "download_url", "filename", "content_type", "size", "sha256", "created_at"]
        read_only_fields = fields


class AttachmentUploadSerializer(StrictFieldsMixin, serializers.Serializer):
    """An upload: the file as the multipart field `file`, and nothing else."""

    file = SingleFileField(
        help_text=(
            "The file, 1 byte to NOTES_ATTACHMENT_MAX_BYTES (25 MiB by default); its content type is sniffed "
            "from the bytes, and its name kept without directories or control characters."
        )
    )

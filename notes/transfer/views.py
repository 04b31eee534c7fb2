from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.settings import APISettings
from rest_framework.utils.mediatypes import media_type_matches

from notes.attachments.views import STORAGE_UNAVAILABLE, STORAGE_WRITE_ERRORS
from notes.models import Note
from notes.serializers import SingleFileField, StrictFieldsMixin
from notes.transfer import entries, exporting, importing, parsers
from notes.views import OwnedByUserMixin
from notesite.exceptions import RequestBodyTooLarge

EXPORT_FORMATS = {
    "json": (exporting.export_json, "application/json", "json"),
    "markdown": (exporting.export_markdown_zip, "application/zip", "zip"),
}


class AcceptHeaderNegotiation(DefaultContentNegotiation):
    """Choose the renderer by Accept alone: on the export, `?format=` names the export format.

    DRF reads `?format=` to pick a renderer (URL_FORMAT_OVERRIDE); set to None
    here, as DRF documents for turning it off, the view can read it itself.
    """

    settings = APISettings(user_settings={"URL_FORMAT_OVERRIDE": None})

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            # `format` chooses the export's type; a client that accepts only
            # the zip gets it, and an error as JSON.
            accepted = self.get_accept_list(request)
            if not any(media_type_matches("application/zip", media_type) for media_type in accepted):
                raise
            return renderers[0], renderers[0].media_type


class ExportedAttachmentSerializer(serializers.Serializer):
    """A file of a note, in the JSON export: its bytes in base64 and their SHA-256."""

    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField(help_text="Checked against `data` on import.")
    created_at = serializers.DateTimeField()
    data = serializers.CharField(help_text="The file's bytes in base64.")


class ExportedNoteSerializer(serializers.Serializer):
    title = serializers.CharField()
    content = serializers.CharField()
    pinned = serializers.BooleanField()
    tags = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    attachments = ExportedAttachmentSerializer(
        many=True, required=False, help_text="Present only for a note that has files."
    )


class ExportDocumentSerializer(serializers.Serializer):
    """The JSON export, which the import reads back."""

    format = serializers.ChoiceField(choices=["notes-export"])
    version = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    notes = ExportedNoteSerializer(many=True)
    count = serializers.IntegerField()


class ExportView(OwnedByUserMixin, generics.GenericAPIView):
    """Download all the requesting user's notes (not the trash)."""

    queryset = Note.objects.alive()
    content_negotiation_class = AcceptHeaderNegotiation
    pagination_class = None

    @extend_schema(
        description=(
            "All the requesting user's notes (not the trash), streamed: `format=json` (the default) "
            "answers one JSON document; `format=markdown` a zip of Markdown files with YAML front matter "
            "(title, pinned, tags, created_at, updated_at) and a `manifest.json` with the count and a "
            "SHA-256 per file. When storage cannot give back the bytes of an exported attachment: 503 "
            "before any byte is sent, as their download answers."
        ),
        parameters=[
            OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), default="json", description="Export format."),
        ],
        responses={
            (200, "application/json"): ExportDocumentSerializer,
            (200, "application/zip"): OpenApiTypes.BINARY,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="`format` is neither json nor markdown."),
            503: STORAGE_UNAVAILABLE,
        },
    )
    def get(self, request, *args, **kwargs):
        export_format = request.query_params.get("format", "json")
        if export_format not in EXPORT_FORMATS:
            raise ValidationError({"format": [f"Must be one of: {', '.join(EXPORT_FORMATS)}."]})
        export, content_type, extension = EXPORT_FORMATS[export_format]
        queryset = self.get_queryset()
        # Before the stream: once it starts, its 200 is sent and a failure can only cut it short.
        notes = exporting.notes_by_id(queryset, with_attachments=exporting.attachments_checked(queryset))
        response = StreamingHttpResponse(export(notes), content_type=content_type)
        filename = f"notes-{timezone.now():%Y-%m-%d}.{extension}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class ImportUploadSerializer(StrictFieldsMixin, serializers.Serializer):
    file = SingleFileField(help_text="The JSON export, the Markdown zip export, one .md, or a zip of .md files.")


class ImportRejectionSerializer(serializers.Serializer):
    entry = serializers.CharField(help_text="The file, or the note in it (`notes[3]`, `folder/note.md`).")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field-keyed messages, as the notes API gives them; `non_field_errors` for the entry as a whole.",
    )


class ImportReportSerializer(serializers.Serializer):
    imported = serializers.IntegerField(help_text="Notes created (on a dry run: that would be created).")
    ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Their ids, in the file's order (none on a dry run)."
    )
    rejected = ImportRejectionSerializer(many=True, help_text="Always empty here.")


class ImportDryRunSerializer(serializers.Serializer):
    """What the import would answer, as a report: `ids` only when it would succeed."""

    imported = serializers.IntegerField(help_text="Notes that would be created; 0 when any entry is rejected.")
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Always empty here.")
    rejected = ImportRejectionSerializer(many=True)


class ImportFailedSerializer(serializers.Serializer):
    """Rejected entries (`imported`, `rejected`), or field-keyed messages for `file` or `dry_run`."""

    imported = serializers.IntegerField(required=False, help_text="Always 0: nothing was imported.")
    rejected = ImportRejectionSerializer(many=True, required=False)
    file = serializers.ListField(child=serializers.CharField(), required=False)
    dry_run = serializers.ListField(child=serializers.CharField(), required=False)


class ImportView(generics.GenericAPIView):
    """Import notes into the requesting user's account, all or nothing."""

    serializer_class = ImportUploadSerializer
    # JSON first: the browsable API's raw data form offers the first as its
    # default, and a multipart body cannot be typed into it.
    parser_classes = [
        parsers.JSONFileParser,
        parsers.ImportMultiPartParser,
        parsers.ZipFileParser,
        parsers.MarkdownFileParser,
    ]

    @extend_schema(
        description=(
            "Import a file: multipart field `file`, or the raw body. Every note is validated first; then all "
            "are created in one transaction (201), or none when any entry is rejected (400, naming each). "
            "`dry_run=true` answers 200 with the same report and writes nothing. At most "
            "NOTES_IMPORT_MAX_BYTES (the file, and what a zip unpacks to) and NOTES_IMPORT_MAX_ENTRIES entries; "
            "`manage.py import_notes` has no caps. Attached files that storage cannot take: 503, or 507 when "
            "it is full; nothing is imported."
        ),
        request={
            "multipart/form-data": ImportUploadSerializer,
            "application/json": ExportDocumentSerializer,
            "application/zip": OpenApiTypes.BINARY,
            "text/markdown": OpenApiTypes.STR,
        },
        parameters=[
            OpenApiParameter("dry_run", bool, default=False, description="Validate and report; write nothing."),
        ],
        responses={
            201: ImportReportSerializer,
            200: OpenApiResponse(
                ImportDryRunSerializer,
                description="Dry run: the report the import would give; nothing was written.",
            ),
            400: OpenApiResponse(
                ImportFailedSerializer,
                description="Rejected entries, nothing imported (or field-keyed messages for `file` or `dry_run`).",
            ),
            **STORAGE_WRITE_ERRORS,
        },
    )
    def post(self, request, *args, **kwargs):
        dry_run = self.dry_run()
        upload = self.get_serializer(data=request.data)
        upload.is_valid(raise_exception=True)
        with upload.validated_data["file"] as file:
            report = self.run_import(file, dry_run=dry_run)
        if dry_run:
            return Response(report.as_dict(), status=status.HTTP_200_OK)
        if report.rejected:
            return Response(report.as_dict(), status=status.HTTP_400_BAD_REQUEST)
        return Response(report.as_dict(), status=status.HTTP_201_CREATED)

    def run_import(self, file, *, dry_run):
        limits = entries.Limits.for_api()
        if file.size > limits.max_bytes:
            raise RequestBodyTooLarge(limits.max_bytes)
        try:
            source = importing.open_import(file, name=file.name, content_type=file.content_type, limits=limits)
            return importing.notes_import(owner=self.request.user, source=source, dry_run=dry_run, limits=limits)
        except entries.Rejected as exc:
            return importing.Report(rejected=exc.rejected)

    def dry_run(self):
        value = self.request.query_params.get("dry_run", "false")
        if value not in {"true", "false"}:
            raise ValidationError({"dry_run": ["Must be true or false."]})
        return value == "true"

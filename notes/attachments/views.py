from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from notes.attachments.downloads import file_response
from notes.attachments.parsers import AttachmentMultiPartParser
from notes.attachments.serializers import AttachmentSerializer, AttachmentUploadSerializer
from notes.attachments.services import attachment_create, attachment_delete
from notes.models import Attachment
from notes.pagination import KeysetPagination
from notes.views import NOTE_ID_PARAMETER, OwnedByUserMixin, live_note_or_404
from notesite.renderers import JSONRenderer
from notesite.schema import ErrorSerializer

DOWNLOAD_HEADERS = [
    OpenApiParameter("Range", location=OpenApiParameter.HEADER, description="One byte range, e.g. `bytes=0-1023`."),
    OpenApiParameter("If-Range", location=OpenApiParameter.HEADER, description="Honour Range only at this ETag."),
    OpenApiParameter("If-None-Match", location=OpenApiParameter.HEADER, description="304 if the ETag matches."),
]


STORAGE_UNAVAILABLE = OpenApiResponse(
    ErrorSerializer, description="The file storage failed (missing, unreadable or unreachable bytes): try again later."
)
# What an upload or an import answers when storage cannot take the bytes; nothing is kept.
STORAGE_WRITE_ERRORS = {
    503: OpenApiResponse(ErrorSerializer, description="The file storage failed: nothing was stored; try again later."),
    507: OpenApiResponse(ErrorSerializer, description="The file storage is full: nothing was stored."),
}


class AnyAcceptNegotiation(BaseContentNegotiation):
    """A download answers its file whatever Accept says; its errors answer JSON."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return JSONRenderer(), JSONRenderer.media_type


class NoteAttachmentsView(OwnedByUserMixin, generics.ListCreateAPIView):
    """The files on one of the requesting user's live notes."""

    queryset = Attachment.objects.alive().select_related("file")
    serializer_class = AttachmentSerializer
    pagination_class = KeysetPagination
    parser_classes = [AttachmentMultiPartParser]

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        return queryset.filter(note=live_note_or_404(self.request.user, self.kwargs["pk"]))

    def get_serializer_class(self):
        # What a POST reads: the browsable API draws its form from this, a file input.
        if getattr(self.request, "method", None) == "POST":
            return AttachmentUploadSerializer
        return AttachmentSerializer

    @extend_schema(description="The note's attachments, oldest first.", parameters=[NOTE_ID_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        description=(
            "Attach a file (multipart field `file`). Its content type is sniffed from the bytes; the same "
            "bytes uploaded again are stored once. 413 over NOTES_ATTACHMENT_MAX_BYTES or the user's "
            "NOTES_USER_QUOTA_BYTES; 503 when the storage fails, 507 when it is full."
        ),
        parameters=[NOTE_ID_PARAMETER],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **STORAGE_WRITE_ERRORS},
    )
    def post(self, request, *args, **kwargs):
        note = live_note_or_404(request.user, kwargs["pk"])
        upload = self.get_serializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            attachment = attachment_create(note=note, file=file, filename=file.name)
        except ValueError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        finally:
            file.close()
        data = AttachmentSerializer(attachment, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


class AttachmentViewSet(OwnedByUserMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One of the requesting user's attachments; 404 while its note is in the trash."""

    queryset = Attachment.objects.alive().select_related("file", "note")
    serializer_class = AttachmentSerializer

    @extend_schema(description="Remove the attachment (its bytes too, unless another attachment shows them).")
    def destroy(self, request, *args, **kwargs):
        attachment_delete(attachment=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        description=(
            "The file's bytes, streamed, with the sniffed content type, `ETag` (the SHA-256), "
            "`Content-Length`, `X-Content-Type-Options: nosniff`, and `Content-Disposition: attachment` "
            "for everything but PNG, JPEG, GIF and WebP images. One byte range answers 206; an "
            "unsatisfiable one 416. 503 when the storage cannot give the bytes (missing, unreadable, "
            "unreachable)."
        ),
        parameters=DOWNLOAD_HEADERS,
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file, as its content type."),
            (206, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The range asked for."),
            304: OpenApiResponse(description="If-None-Match names the file's ETag."),
            416: OpenApiResponse(ErrorSerializer, description="The range is malformed or outside the file."),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(detail=True, content_negotiation_class=AnyAcceptNegotiation)
    def download(self, request, pk=None):
        attachment = self.get_object()
        return file_response(request, attachment.file, attachment.filename)

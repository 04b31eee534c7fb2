import base64
import hashlib
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.response import Response

from accounts.throttles import WindowRateThrottle
from notes.attachments.downloads import file_response
from notes.attachments.storage import StorageUnavailable
from notes.models import Note, PublicLink
from notes.pagination import KeysetPagination
from notes.serializers import StrictDateTimeField, StrictFieldsMixin
from notes.sharing import rendering
from notes.sharing.services import live_link, public_link_create, public_link_revoke, shared_image, shared_images
from notes.views import NOTE_ID_PARAMETER, OwnedByUserMixin, url_id
from notesite.schema import ErrorSerializer

CSS = (Path(__file__).resolve().parent.parent / "templates" / "notes" / "shared_note.css").read_text()
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
# No script at all; the page's one style element by its hash; images from this site only.
PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'none'",
        f"style-src 'sha256-{CSS_HASH}'",
        "img-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Robots-Tag": "noindex, nofollow, noarchive",
    # The token is in the URL: never sent on to another site.
    "Referrer-Policy": "no-referrer",
    # Nothing kept: a revoked link must stop working at once, for everyone.
    "Cache-Control": "no-store",
}
NOT_FOUND = (
    b'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><meta name="robots" content="noindex">'
    b"<title>Not found</title></head>\n<body><p>There is no note at this link.</p></body>\n</html>\n"
)
TOO_MANY = (
    b'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><meta name="robots" content="noindex">'
    b"<title>Too many requests</title></head>\n<body><p>Too many requests: try again shortly.</p></body>\n</html>\n"
)
UNAVAILABLE = (
    b'<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><meta name="robots" content="noindex">'
    b"<title>Unavailable</title></head>\n<body><p>This image cannot be read now: try again later.</p></body>\n</html>\n"
)


# The API: a note's link


class PublicLinkSerializer(serializers.ModelSerializer):
    """A note's public link: the page anyone with it may read."""

    url = serializers.SerializerMethodField(help_text="The page anyone with the link opens.")

    class Meta:
        model = PublicLink
        fields = ["token", "url", "expires_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, link):
        return self.context["request"].build_absolute_uri(reverse("shared-note", args=[link.token]))


class SharedNoteLinkSerializer(PublicLinkSerializer):
    """A live link among all of a user's, with the note it opens."""

    note = serializers.IntegerField(source="note_id", read_only=True, help_text="The shared note's id.")

    class Meta(PublicLinkSerializer.Meta):
        fields = ["note", "token", "url", "created_at", "expires_at"]
        read_only_fields = fields


class PublicLinkOptionsSerializer(StrictFieldsMixin, serializers.Serializer):
    """What a new link may be given: when it expires."""

    expires_at = StrictDateTimeField(
        required=False, allow_null=True, help_text="When the link stops working, in the future; null: never."
    )

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.")
        return value


class NoteShareView(OwnedByUserMixin, generics.GenericAPIView):
    """The public link of one of the requesting user's live notes: at most one at a time."""

    queryset = Note.objects.alive()

    def get_serializer_class(self):
        # What a POST takes, which the browsable API draws its form from; every answer is a link.
        return PublicLinkOptionsSerializer if self.request.method == "POST" else PublicLinkSerializer

    @extend_schema(
        parameters=[NOTE_ID_PARAMETER],
        description="The note's live link; 404 when it has none (never shared, revoked or expired).",
        responses={200: PublicLinkSerializer},
    )
    def get(self, request, *args, **kwargs):
        link = PublicLink.objects.live().filter(note=self.get_object()).first()
        if link is None:
            return Response({"detail": "This note has no public link."}, status=status.HTTP_404_NOT_FOUND)
        return Response(self.get_serializer(link).data)

    @extend_schema(
        parameters=[NOTE_ID_PARAMETER],
        description=(
            "Share the note: a new link with a new random token, replacing the previous link, which stops "
            "working at once. `expires_at` (optional) must be in the future; without it the link never expires."
        ),
        request=PublicLinkOptionsSerializer,
        responses={201: PublicLinkSerializer},
    )
    def post(self, request, *args, **kwargs):
        note = self.get_object()
        options = self.get_serializer(data=request.data)
        options.is_valid(raise_exception=True)
        link = public_link_create(note=note, expires_at=options.validated_data.get("expires_at"))
        return Response(
            PublicLinkSerializer(link, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        parameters=[NOTE_ID_PARAMETER],
        description="Revoke the note's link: it stops working at once. 404 when it has none.",
        responses={204: None, 404: OpenApiResponse(ErrorSerializer, description="The note has no link.")},
    )
    def delete(self, request, *args, **kwargs):
        if not public_link_revoke(note=self.get_object()):
            return Response({"detail": "This note has no public link."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkViewSet(OwnedByUserMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Every live public link of the requesting user's notes, newest first.

    The one place to see who can read what: a link made with a token since
    stolen outlives the token (revoke it with DELETE on its note's share/).
    """

    queryset = PublicLink.objects.order_by("-created_at", "-id")
    serializer_class = SharedNoteLinkSerializer
    pagination_class = KeysetPagination

    def get_queryset(self):
        # Live as of this request: the queryset above is built once, at import.
        return super().get_queryset().live()


# The page a link opens, and its images


class PublicLinkThrottle(WindowRateThrottle):
    """NOTES_PUBLIC_LINK_RATE requests per client address to public links, counted in the shared cache."""

    scope = "public_link"

    def get_rate(self, view):
        return settings.NOTES_PUBLIC_LINK_RATE

    def counted_as(self, request, view):
        return self.get_ident(request)


def _throttled(request):
    """A 429 answer if the address is over its rate, else None."""
    throttle = PublicLinkThrottle()
    if throttle.allow_request(request, None):
        return None
    response = HttpResponse(TOO_MANY, status=429, headers=PAGE_HEADERS)
    response["Retry-After"] = str(throttle.wait())
    return response


def _not_found():
    """The one answer for a revoked, expired, unknown or trashed note's link."""
    return HttpResponse(NOT_FOUND, status=404, headers=PAGE_HEADERS)


# Read-only: any other method is 405, not a CSRF failure page first.
@csrf_exempt
@require_safe
def shared_note(request, token):
    """The note a live link shows, read-only: its Markdown rendered safe, and its images."""
    if throttled := _throttled(request):
        return throttled
    link = live_link(token)
    if link is None:
        return _not_found()
    note = link.note
    images = shared_images(link)
    urls = {image.pk: reverse("shared-attachment", args=[token, image.pk]) for image in images}
    content, shown_inline = rendering.render_kept(note.content, urls)
    page = render_to_string(
        "notes/shared_note.html",
        {
            "note": note,
            # The project's own CSS, whose hash is in the policy; the note sanitised by nh3.
            "css": mark_safe(CSS),
            "content": mark_safe(content),
            "images": [
                {"url": urls[image.pk], "filename": image.filename} for image in images if image.pk not in shown_inline
            ],
        },
    )
    return HttpResponse(page, headers=PAGE_HEADERS)


@csrf_exempt
@require_safe
def shared_attachment(request, token, attachment_id):
    """An image of the note a live link shows; the same 404 as the page otherwise."""
    if throttled := _throttled(request):
        return throttled
    attachment_id = url_id(attachment_id)
    attachment = shared_image(token, attachment_id) if attachment_id is not None else None
    if attachment is None:
        return _not_found()
    try:
        response = file_response(request, attachment.file, attachment.filename)
    except Http404:  # deleted since it was looked up
        return _not_found()
    except StorageUnavailable:
        # A plain view: DRF's handler, which answers the API's JSON 503, is not in the way here.
        return HttpResponse(
            UNAVAILABLE, status=503, headers={**PAGE_HEADERS, "Retry-After": str(StorageUnavailable.wait)}
        )
    response["X-Robots-Tag"] = PAGE_HEADERS["X-Robots-Tag"]
    response["Referrer-Policy"] = "no-referrer"
    return response

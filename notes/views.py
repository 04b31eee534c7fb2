from django.http import Http404
from rest_framework import viewsets
from rest_framework.response import Response

from notes.conditional import ConditionalNoteMixin, etag_for
from notes.models import Note
from notes.pagination import KeysetPagination
from notes.serializers import NoteConflictSerializer, NoteSerializer
from notes.services import note_trash
from notesite.prepared import PreparedQuery

# The lookup behind every note detail request, compiled once (notesite.prepared);
# the same queryset methods as get_queryset(), so the same scoping.
live_note_of = PreparedQuery(
    Note,
    lambda owner_id, pk: Note.objects.owned_by(owner_id).alive().filter(pk=pk),
    placeholders=[-900_000_001, -900_000_002],
)


class OwnedByUserMixin:
    """Scope every query to the requesting user: another user's data is a 404.

    Every view over user data inherits this, so scoping lives in one place.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return queryset.none()
        return queryset.owned_by(self.request.user)


class NoteViewSet(OwnedByUserMixin, ConditionalNoteMixin, viewsets.ModelViewSet):
    """The requesting user's notes; DELETE moves a note to the trash."""

    queryset = Note.objects.alive()
    serializer_class = NoteSerializer
    conflict_serializer_class = NoteConflictSerializer
    pagination_class = KeysetPagination

    def get_object(self):
        pk = self.kwargs["pk"]
        valid = pk.isascii() and pk.isdigit() and int(pk) < 2**63
        note = live_note_of.first(self.request.user.pk, int(pk)) if valid else None
        if note is None:
            raise Http404("No Note matches the given query.")
        self.check_object_permissions(self.request, note)
        return note

    def retrieve(self, request, *args, **kwargs):
        note = self.get_object()
        return self.not_modified(note) or Response(self.get_serializer(note).data, headers={"ETag": etag_for(note)})

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        response["ETag"] = f'"{response.data["version"]}"'
        return response

    def get_success_headers(self, data):
        return {"Location": data["url"], "ETag": f'"{data["version"]}"'}

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)

    def perform_update(self, serializer):
        serializer.save(if_match=self.if_match())

    def perform_destroy(self, instance):
        note_trash(note=instance, if_match=self.if_match())

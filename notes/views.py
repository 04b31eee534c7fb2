from rest_framework import viewsets
from rest_framework.response import Response

from notes.conditional import ConditionalNoteMixin, etag_for
from notes.models import Note
from notes.pagination import KeysetPagination
from notes.serializers import NoteConflictSerializer, NoteSerializer
from notes.services import note_trash


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

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from notes.conditional import ConditionalNoteMixin, etag_for
from notes.models import Note
from notes.pagination import KeysetPagination
from notes.serializers import (
    NoteConflictSerializer,
    NoteSerializer,
    RevisionSerializer,
    TrashConflictSerializer,
    TrashedNoteSerializer,
)
from notes.services import note_delete_forever, note_restore, note_restore_revision, note_trash, notes_purge
from notesite.prepared import PreparedQuery

# The lookup behind every note detail request, compiled once (notesite.prepared);
# the same queryset methods as get_queryset(), so the same scoping.
live_note_of = PreparedQuery(
    Note,
    lambda owner_id, pk: Note.objects.owned_by(owner_id).alive().filter(pk=pk),
    placeholders=[-900_000_001, -900_000_002],
)


# The {id} of routes under a note whose views are not the note viewset's.
NOTE_ID_PARAMETER = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The note's id.")


def live_note_or_404(user, pk):
    """The user's live note `pk` (a URL's string), or 404: the lookup of every note detail route."""
    valid = pk.isascii() and pk.isdigit() and int(pk) < 2**63
    note = live_note_of.first(user.pk, int(pk)) if valid else None
    if note is None:
        raise Http404("No Note matches the given query.")
    return note


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
        note = live_note_or_404(self.request.user, self.kwargs["pk"])
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

    @extend_schema(
        description="The states the note had before each change, newest first.",
        responses=RevisionSerializer(many=True),
    )
    @action(detail=True, serializer_class=RevisionSerializer)
    def revisions(self, request, pk=None):
        note = self.get_object()
        page = self.paginate_queryset(note.revisions.order_by("-version"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        description="Bring back the state a revision kept (a change: new version, new revision).", request=None
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"revisions/(?P<version>[0-9]{1,10})/restore",
        url_name="revision-restore",
    )
    def restore_revision(self, request, pk=None, version=None):
        note = self.get_object()
        revision = get_object_or_404(note.revisions.all(), version=int(version))
        note = note_restore_revision(note=note, revision=revision, if_match=self.if_match())
        return Response(self.get_serializer(note).data, headers={"ETag": etag_for(note)})


class TrashViewSet(OwnedByUserMixin, ConditionalNoteMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The requesting user's trashed notes: restore them, or delete them forever."""

    queryset = Note.objects.trashed().order_by("-deleted_at", "-id")
    serializer_class = TrashedNoteSerializer
    conflict_serializer_class = TrashConflictSerializer
    pagination_class = KeysetPagination

    def retrieve(self, request, *args, **kwargs):
        note = self.get_object()
        return self.not_modified(note) or Response(self.get_serializer(note).data, headers={"ETag": etag_for(note)})

    @extend_schema(description="Delete the note forever, with its revisions.")
    def destroy(self, request, *args, **kwargs):
        note_delete_forever(note=self.get_object(), if_match=self.if_match())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        description="Empty the trash: delete every trashed note forever.",
        operation_id="trash_empty",
        request=None,
        responses={204: None},
    )
    def empty(self, request, *args, **kwargs):
        notes_purge(notes=self.get_queryset())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(description="Take the note out of the trash.", request=None, responses=NoteSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        note = note_restore(note=self.get_object(), if_match=self.if_match())
        data = NoteSerializer(note, context=self.get_serializer_context()).data
        return Response(data, headers={"ETag": etag_for(note)})

import functools

import orjson
from django.db import connections, router
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import get_script_prefix
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response

from notes import feed
from notes.conditional import ConditionalNoteMixin, etag_for
from notes.filters import NoteFilter
from notes.models import Note, NoteTag, PurgedNote
from notes.pagination import KeysetPagination, ordering_keys
from notes.searchtext import query_terms
from notes.serializers import (
    ChangesSerializer,
    NoteConflictSerializer,
    NoteRow,
    NoteSerializer,
    RevisionSerializer,
    TagNameField,
    TagRenameSerializer,
    TagSerializer,
    TrashConflictSerializer,
    TrashedNoteSerializer,
)
from notes.services import (
    note_delete_forever,
    note_restore,
    note_restore_revision,
    note_trash,
    notes_purge,
    tag_delete,
    tag_rename,
)
from notesite import sqljson
from notesite.prepared import PreparedQuery, PreparedValues
from notesite.renderers import JSONRenderer as OrjsonRenderer
from notesite.schema import VALIDATION_ERROR_SCHEMA, ErrorSerializer


def live_note(owner_id, pk):
    """The owner's live note `pk`: the same queryset methods as get_queryset(), so the same scoping."""
    return Note.objects.owned_by(owner_id).alive().without_search_text().filter(pk=pk)


# The lookup behind every note detail request, compiled once (notesite.prepared).
live_note_of = PreparedQuery(Note, live_note, placeholders=[-900_000_001, -900_000_002])


@functools.lru_cache(maxsize=64)
def note_json(origin, script_prefix):
    """A note's JSON as the database writes it, its URL on `origin` (see NoteViewSet.list).

    Built once per host and script prefix (the path its URL has).
    """
    return NoteSerializer.sql_representation(origin, nulls={"snippet"})


def page_rows(queryset, keys, origin):
    """The queryset's notes as note_json writes them, with the columns of the ordering `keys` (the cursor's)."""
    return queryset.values(*(key.lstrip("-") for key in keys), json=note_json(origin, get_script_prefix()))


# The first page of a user's whole list, which every client asks for first,
# compiled once. Other pages compile their statement. The same queryset
# methods as the viewset's, so the same scoping and order.
FIRST_PAGE_KEYS = ordering_keys(Note.objects.all())
first_page_of = PreparedValues(
    Note,
    lambda owner_id, origin: page_rows(
        Note.objects.owned_by(owner_id).alive().without_search_text(), FIRST_PAGE_KEYS, origin
    ),
    placeholders=[-900_000_003, "http://prepared.invalid"],
)

# A note answered in JSON (GET one note), compiled once: its JSON as note_json
# writes it, with its columns (and pk, as a page's NoteRow has), which the
# ETag and the permission checks read.
live_note_json_of = PreparedValues(
    Note,
    lambda owner_id, pk, origin: live_note(owner_id, pk).values(
        "pk", *NoteSerializer.read_columns, "owner_id", json=note_json(origin, get_script_prefix())
    ),
    placeholders=[-900_000_004, -900_000_005, "http://prepared.invalid"],
)

# The {id} of routes under a note whose views are not the note viewset's.
NOTE_ID_PARAMETER = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The note's id.")


def url_id(text):
    """A URL's id (a string) as a number, or None when no row can have it.

    ASCII digits only, leading zeros allowed, below 2**63 (the largest id the
    databases hold): int() alone also reads "+7", " 7", "0_7" and other
    scripts' digits as 7, which would reach object 7 by other URLs.
    """
    return int(text) if text.isascii() and text.isdigit() and int(text) < 2**63 else None


def live_note_or_404(user, pk):
    """The user's live note `pk` (a URL's string), or 404: the lookup of every note detail route."""
    pk = url_id(pk)
    note = live_note_of.first(user.pk, pk) if pk is not None else None
    if note is None:
        raise Http404("No Note matches the given query.")
    return note


class OwnedByUserMixin:
    """Scope every query to the requesting user: another user's data is a 404.

    Every view over user data inherits this, so scoping lives in one place,
    and so does reading the id in its URL (url_id): every lookup here is an id.
    """

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return queryset.none()
        return queryset.owned_by(self.request.user)

    def get_object(self):
        # DRF hands the URL's text to the lookup, which reads it with int():
        # an id spelled otherwise (url_id) answers as one no object has.
        if url_id(self.kwargs[self.lookup_url_kwarg or self.lookup_field]) is None:
            raise Http404(f"No {self.queryset.model._meta.object_name} matches the given query.")
        return super().get_object()


class NoteViewSet(OwnedByUserMixin, ConditionalNoteMixin, viewsets.ModelViewSet):
    """The requesting user's notes; DELETE moves a note to the trash."""

    # The search text is for the index; the API never shows it.
    queryset = Note.objects.alive().without_search_text()
    serializer_class = NoteSerializer
    conflict_serializer_class = NoteConflictSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = NoteFilter

    def filter_queryset(self, queryset):
        # Search, filters and ordering are the list's: a note's own URL
        # answers the note whatever the query string says. With none of them
        # given there is nothing to filter, and building the FilterSet's form
        # would cost a sixth of a page.
        if self.action != "list" or not self.is_filtered():
            return queryset
        return super().filter_queryset(queryset)

    def is_filtered(self):
        return bool(self.request.query_params.keys() & NoteFilter.base_filters.keys())

    def list(self, request, *args, **kwargs):
        if not self.written_by_database():
            queryset = self.filter_queryset(self.get_queryset())
            # A page is read as rows, not model instances (NoteRow).
            page = [NoteRow(**row) for row in self.paginate_queryset(NoteRow.page_of(queryset))]
            return self.get_paginated_response(self.get_serializer(page, many=True).data)

        origin = self.origin()
        if self.is_filtered() or self.paginator.cursor_query_param in request.query_params:
            queryset = self.filter_queryset(self.get_queryset())
            page = self.paginator.paginate_queryset(page_rows(queryset, ordering_keys(queryset), origin), request, self)
        else:  # the first page of the whole list: there is no position to start after

            def first_rows(count, position, backwards):
                return first_page_of.rows(request.user.pk, origin, count=count, shape=get_script_prefix())

            page = self.paginator.paginate_rows(request, FIRST_PAGE_KEYS, first_rows)
        return self.get_paginated_response([orjson.Fragment(row["json"]) for row in page])

    def written_by_database(self):
        """Whether the notes answered are JSON the database writes: a JSON answer outside a search.

        A page of 50 notes spent most of its time converting each column to
        a Python value and formatting it again, and one note a tenth of its
        time; the database writes the same JSON from the columns
        (NoteSerializer.sql_representation, tests compare the two). A
        search's snippets are Python's, and the browsable API shows the
        serializer's data.
        """
        renderer, media_type = self.request.accepted_renderer, self.request.accepted_media_type
        return (
            # orjson's renderer writes the database's text into the answer as it is,
            isinstance(renderer, OrjsonRenderer)
            # so not indented, as `Accept: application/json; indent=2` asks.
            and not (";" in media_type and renderer.get_indent(media_type, {}))
            and not self.search_terms
            and connections[router.db_for_read(Note)].vendor in sqljson.VENDORS
        )

    def origin(self):
        """Scheme and host of the request: what the notes' URLs start with.

        build_absolute_uri("/") without the slash, and without parsing a URL
        to get there: get_host() has validated the host, so it needs no quoting.
        """
        return f"{self.request.scheme}://{self.request.get_host()}"

    @functools.cached_property
    def search_terms(self):
        """The list's search terms (none elsewhere): for the snippets, and for choosing who writes JSON."""
        if self.action != "list":
            return []
        return query_terms(self.request.query_params.get("search", ""))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.action == "list":
            context["search_terms"] = self.search_terms
        return context

    def get_object(self):
        note = live_note_or_404(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, note)
        return self.unless_stale(note)

    def get_written_object(self):
        """get_object() for a note the database writes as JSON: a row, with the JSON under "json".

        The row's columns are also its attributes (converted when read), so
        the ETag and an object permission read `note.version`, `note.pk` or
        `note.owner_id` as on a model; related objects (`note.owner`) are not
        loaded: compare ids.
        """
        pk = url_id(self.kwargs["pk"])
        origin, prefix = self.origin(), get_script_prefix()
        rows = live_note_json_of.rows(self.request.user.pk, pk, origin, count=1, shape=prefix) if pk is not None else []
        if not rows:
            raise Http404("No Note matches the given query.")
        self.check_object_permissions(self.request, rows[0])
        return rows[0]

    def retrieve(self, request, *args, **kwargs):
        if self.written_by_database():
            note = self.get_written_object()
            # The answer is the database's text as it is: what the JSON renderer
            # would write of it, without building and rendering a DRF Response.
            return self.precondition_answer(note) or HttpResponse(
                note["json"], content_type=request.accepted_renderer.media_type, headers={"ETag": etag_for(note)}
            )
        note = self.get_object()
        body = self.get_serializer(note).data
        return self.precondition_answer(note) or Response(body, headers={"ETag": etag_for(note)})

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
    @action(detail=True, serializer_class=RevisionSerializer, filter_backends=[])
    def revisions(self, request, pk=None):
        note = self.get_object()
        page = self.paginate_queryset(note.revisions.order_by("-version"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        description="Bring back the state a revision kept (a change: new version, new revision).",
        request=None,
        responses=NoteSerializer,
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"revisions/(?P<version>[0-9]{1,10})/restore",
        url_name="revision-restore",
        # It takes no body: the browsable API draws its form as a bare button.
        serializer_class=serializers.Serializer,
    )
    def restore_revision(self, request, pk=None, version=None):
        note = self.get_object()
        revision = get_object_or_404(note.revisions.all(), version=int(version))
        note = note_restore_revision(note=note, revision=revision, if_match=self.if_match())
        data = NoteSerializer(note, context=self.get_serializer_context()).data
        return Response(data, headers={"ETag": etag_for(note)})


class TrashViewSet(OwnedByUserMixin, ConditionalNoteMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The requesting user's trashed notes: restore them, or delete them forever."""

    queryset = Note.objects.trashed().without_search_text().order_by("-deleted_at", "-id")
    serializer_class = TrashedNoteSerializer
    conflict_serializer_class = TrashConflictSerializer
    pagination_class = KeysetPagination

    def get_object(self):
        return self.unless_stale(super().get_object())

    def retrieve(self, request, *args, **kwargs):
        note = self.get_object()
        return self.precondition_answer(note) or Response(
            self.get_serializer(note).data, headers={"ETag": etag_for(note)}
        )

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


class TagPagination(KeysetPagination):
    tiebreak = "name"


class TagViewSet(OwnedByUserMixin, viewsets.GenericViewSet):
    """The requesting user's tags with how many live notes have each, most used first."""

    queryset = NoteTag.objects.all()
    serializer_class = TagSerializer
    pagination_class = TagPagination
    lookup_field = "name"
    # Tag names may contain '/'.
    lookup_value_regex = ".+"

    def get_queryset(self):
        return super().get_queryset().alive().counts()

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        methods=["POST"],
        request=TagRenameSerializer,
        responses={200: TagSerializer, 404: OpenApiResponse(ErrorSerializer, description="No live note has `from`.")},
    )
    @extend_schema(methods=["DELETE"], exclude=True)
    @action(detail=False, methods=["post", "delete"], serializer_class=TagRenameSerializer, pagination_class=None)
    def rename(self, request):
        """Rename a tag on every live note; a note that has both keeps one (a merge)."""
        if request.method == "DELETE":
            # This route shadows DELETE /api/tags/rename/ for a tag named "rename".
            return self.destroy(request, name="rename")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        old, new = serializer.validated_data["from"], serializer.validated_data["to"]
        if not tag_rename(owner=request.user, old=old, new=new):
            raise NotFound("No note has this tag.")
        # A write since the rename may have taken the tag off again.
        return Response(self.get_queryset().filter(name=new).first() or {"name": new, "count": 0})

    @extend_schema(
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="The tag; may contain '/'.")],
        responses={204: None},
    )
    def destroy(self, request, name):
        """Remove the tag from every live note."""
        try:
            name = TagNameField().to_internal_value(name)
        except ValidationError:  # an impossible tag is on no note
            raise NotFound("No note has this tag.") from None
        if not tag_delete(owner=request.user, name=name):
            raise NotFound("No note has this tag.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class Gone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"


class ChangesView(OwnedByUserMixin, generics.GenericAPIView):
    """What changed in the requesting user's notes since a cursor, oldest change first."""

    queryset = Note.objects.without_search_text()
    serializer_class = ChangesSerializer
    default_limit = 200
    max_limit = 1000

    @extend_schema(
        operation_id="changes_list",
        description=(
            "The change feed, for clients that keep an offline copy. Each entry is the latest state of one "
            "note changed since `cursor`: the note as `GET /api/notes/{id}/` shows it, or a tombstone "
            '`{"id", "deleted": "trashed"|"purged", "deleted_at"}` (a note restored from the trash comes back '
            "whole). Follow `cursor` until `has_more` is false, then poll with the last `cursor`; a client that "
            "does holds exactly the server's notes, even while others write: the feed never hands out a cursor "
            "past a change that is not yet committed. A note can come again at the version the client holds "
            "when only its attachments changed. A 412 on a write means the feed has a newer state of that note "
            "to come; the 412's `current` is that state already."
        ),
        parameters=[
            OpenApiParameter(
                "cursor", OpenApiTypes.STR, description="The `cursor` of the previous page; none: from the beginning."
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": max_limit},
                description=f"Changes per page, 1 to {max_limit} (default {default_limit}).",
            ),
        ],
        responses={
            200: ChangesSerializer,
            400: OpenApiResponse(
                VALIDATION_ERROR_SCHEMA, description="Invalid `limit` or `cursor` (tampered, or another user's)."
            ),
            410: OpenApiResponse(
                ErrorSerializer,
                description="The cursor is older than what the server remembers, or ahead of it: re-sync from "
                "the beginning (no cursor) and drop local notes the re-sync does not return.",
            ),
        },
    )
    def get(self, request):
        limit = self.get_limit()
        after = self.get_position()
        try:
            page = feed.read_changes(
                owner=request.user,
                notes=self.get_queryset(),
                tombstones=PurgedNote.objects.owned_by(request.user),
                after=after,
                limit=limit,
            )
        except feed.CursorGone as gone:
            raise Gone(str(gone)) from None
        data = {"changes": page.entries, "cursor": feed.encode_cursor(request.user.pk, page.cursor)}
        return Response(self.get_serializer({**data, "has_more": page.has_more}).data)

    def get_limit(self):
        raw = self.request.query_params.get("limit")
        if raw is None:
            return self.default_limit
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_limit):
            raise ValidationError({"limit": [f"Must be an integer from 1 to {self.max_limit}."]})
        return int(raw)

    def get_position(self):
        raw = self.request.query_params.get("cursor")
        if raw is None:
            return None
        try:
            return feed.decode_cursor(raw, self.request.user.pk)
        except feed.InvalidCursor as invalid:
            raise ValidationError({"cursor": [str(invalid)]}) from None

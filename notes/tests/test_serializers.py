"""Focused tests of the note serializer's own logic."""

import datetime

import pytest
from rest_framework import serializers
from rest_framework.test import APIRequestFactory

from notes.serializers import NoteSerializer
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_context():
    return {"request": APIRequestFactory().get("/api/notes/")}


@pytest.mark.parametrize(
    "attributes",
    [
        {"title": "Plain", "content": "", "tags": []},
        {"title": "Ünïcode ☃ 😀", "content": "line\nbreak", "tags": ["ß", "日本語", "a/b"], "pinned": True},
        {"title": "x" * 200, "content": "y" * 5000, "tags": [f"t{i}" for i in range(20)]},
    ],
)
def test_fast_representation_equals_drfs_own(user, request_context, attributes):
    note = NoteFactory(owner=user, **attributes)
    note.created_at = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)  # microsecond 0
    serializer = NoteSerializer(note, context=request_context)

    fast = serializer.to_representation(note)
    drf = serializers.ModelSerializer.to_representation(serializer, note)

    assert fast == drf
    assert fast["created_at"] == "2026-01-02T03:04:05.000000Z"


def test_fields_are_fresh_per_serializer(user, request_context, settings):
    settings.ALLOWED_HOSTS = ["testserver", "other.example"]
    note = NoteFactory(owner=user)

    first = NoteSerializer(note, context=request_context)
    second = NoteSerializer(note, context={"request": APIRequestFactory().get("/", HTTP_HOST="other.example")})

    assert first.fields["url"] is not second.fields["url"]
    assert first.data["url"].startswith("http://testserver/")
    assert second.data["url"].startswith("http://other.example/")


def test_binding_a_serializer_leaves_the_prototypes_and_other_serializers_alone(request_context):
    first = NoteSerializer(data={"title": "One"}, context=request_context)
    second = NoteSerializer(data={"title": "Two"}, context=request_context)

    assert first.is_valid()
    assert second.is_valid()
    for name, prototype in NoteSerializer._field_prototypes.items():
        assert type(first.fields[name]) is type(prototype)
        assert first.fields[name].parent is first
        assert second.fields[name].parent is second
        assert getattr(prototype, "parent", None) is None
    assert first.validated_data["title"] == "One"
    assert second.validated_data["title"] == "Two"


def test_every_note_of_a_page_gets_its_own_url(user, request_context):
    notes = NoteFactory.create_batch(3, owner=user)

    data = NoteSerializer(notes, many=True, context=request_context).data

    assert [item["url"] for item in data] == [f"http://testserver/api/notes/{note.pk}/" for note in notes]


def test_every_note_field_takes_the_fast_path(user, request_context):
    NoteSerializer(NoteFactory(owner=user), context=request_context).data  # noqa: B018 (builds the plan)

    plan = NoteSerializer._representation_plan

    assert [name for name, _, formatter in plan if formatter is None] == []
    assert [name for name, *_ in plan] == NoteSerializer.Meta.fields


def test_trash_and_revision_representations_equal_drfs_own(user, request_context):
    from notes.serializers import RevisionSerializer, TrashedNoteSerializer
    from notes.services import note_trash, note_update

    note = note_trash(note=note_update(note=NoteFactory(owner=user, tags=["a"]), title="ü 😀", pinned=True))

    for serializer_class, instance in [(TrashedNoteSerializer, note), (RevisionSerializer, note.revisions.first())]:
        serializer = serializer_class(instance, context=request_context)
        assert serializer.to_representation(instance) == serializers.ModelSerializer.to_representation(
            serializer, instance
        )


@pytest.mark.parametrize("search", [None, "alpha"])
def test_a_page_read_as_rows_is_represented_as_the_notes_are(user, request_context, search):
    from notes.models import Note
    from notes.search import search_notes
    from notes.searchtext import query_terms
    from notes.serializers import NoteRow

    NoteFactory(owner=user, title="alpha", content="x", tags=["b", "a"], pinned=True)
    NoteFactory(owner=user, title="beta", content="alpha and more", tags=[])
    queryset = Note.objects.alive().without_search_text().owned_by(user).order_by("id")
    if search:
        queryset = search_notes(queryset, owner=user, terms=query_terms(search)).order_by("id")
    context = {**request_context, "search_terms": query_terms(search or "")}

    as_notes = NoteSerializer(list(queryset), many=True, context=context).data
    as_rows = NoteSerializer([NoteRow(**row) for row in NoteRow.page_of(queryset)], many=True, context=context).data

    assert as_rows == as_notes
    assert len(as_rows) == 2
    assert all((item["snippet"] is not None) == bool(search) for item in as_rows)


# Text the database must escape as JSON does: quotes, backslashes, control
# characters, markup, and characters beyond ASCII and beyond the BMP.
AWKWARD_TEXTS = [
    'say "hi" \\ back\\slash',
    "tab\there\nnew line\r\x01\x1f\x7f",
    "</script><b>&amp;</b>",
    "日本語 ☃ 😀 \u2028 \u00e9",
    "",
]


@pytest.mark.parametrize("microsecond", [0, 120_000, 1, 999_999])
def test_the_json_the_database_writes_equals_the_serializers(user, request_context, microsecond):
    import orjson

    from notes.models import Note

    for index, text in enumerate(AWKWARD_TEXTS):
        NoteFactory(
            owner=user, title=text or "t", content=text, pinned=index % 2 == 0, tags=["ß", "a/b", "日本語"][:index]
        )
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, microsecond, tzinfo=datetime.UTC)
    Note.objects.filter(owner=user).update(created_at=moment, updated_at=moment + datetime.timedelta(days=400))
    notes = Note.objects.owned_by(user).order_by("id")
    origin = "http://testserver"

    written = notes.annotate(json=NoteSerializer.sql_representation(origin, nulls={"snippet"})).values_list(
        "json", flat=True
    )
    represented = NoteSerializer(list(notes), many=True, context=request_context).data

    assert [orjson.loads(text) for text in written] == represented
    assert [list(orjson.loads(text)) for text in written] == [list(item) for item in represented]  # key order
    assert represented[0]["created_at"] == f"2026-01-02T03:04:05.{microsecond:06d}Z"


def test_a_method_field_not_declared_null_cannot_be_written_in_sql():
    # The snippet is Python's: only a caller that knows it is null (no search) may leave it out.
    with pytest.raises(TypeError, match="snippet cannot be written in SQL"):
        NoteSerializer.sql_representation("http://testserver")

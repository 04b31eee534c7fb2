"""Prepared statements do exactly what their querysets would."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F, Value
from django.utils import timezone

from accounts.models import AuthToken
from notes.models import Note, Revision
from notes.tests.factories import NoteFactory
from notesite.prepared import PreparedDelete, PreparedQuery, PreparedUpdate

pytestmark = pytest.mark.django_db

live_note = PreparedQuery(
    Note,
    lambda owner_id, pk: Note.objects.alive().filter(owner_id=owner_id, pk=pk),
    placeholders=[-900_000_001, -900_000_002],
)


def test_prepared_lookup_equals_the_queryset_field_by_field(user):
    note = NoteFactory(owner=user, tags=["a", "b"], pinned=True)
    expected = Note.objects.get(pk=note.pk)

    found = live_note.first(user.pk, note.pk)

    for field in Note._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert found.created_at.tzinfo is not None
    assert found._state.adding is False


def test_prepared_lookup_applies_every_condition(user, other_user):
    note = NoteFactory(owner=user)

    assert live_note.first(other_user.pk, note.pk) is None
    assert live_note.first(user.pk, note.pk + 1000) is None


def test_prepared_lookup_follows_select_related(user):
    instance, _ = AuthToken.objects.create(user=user, expiry=timedelta(days=1))
    by_digest = PreparedQuery(
        AuthToken, lambda digest: AuthToken.objects.select_related("user").filter(digest=digest), ["\0d\0"]
    )

    found = by_digest.first(instance.digest)

    assert found.pk == instance.pk
    assert found.expiry > timezone.now()
    assert AuthToken.user.is_cached(found)
    assert found.user.username == user.username


def test_placeholder_must_reach_the_parameters_once(db):
    query = PreparedQuery(Note, lambda pk: Note.objects.filter(pk=pk) | Note.objects.filter(pk=pk), [-1])

    with pytest.raises(ValueError, match="exactly once"):
        query.first(1)


note_at_version = PreparedUpdate(
    Note, lambda pk, version: Note.objects.filter(pk=pk, version=version), placeholders=[900_000_001, 900_000_002]
)


def test_prepared_update_writes_what_update_would(user):
    prepared, plain = (NoteFactory(owner=user, title="Before", content="Kept") for _ in range(2))
    when = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    values = {"title": "Ünïcode", "tags": ["a", "b/c"], "pinned": True, "updated_at": when, "version": 2}

    assert note_at_version.update((prepared.pk, 1), values) == 1
    Note.objects.filter(pk=plain.pk, version=1).update(**values)

    prepared, plain = Note.objects.get(pk=prepared.pk), Note.objects.get(pk=plain.pk)
    for name in [*values, "content", "deleted_at"]:
        assert getattr(prepared, name) == getattr(plain, name), name
    assert prepared.updated_at == when


def test_prepared_update_matches_the_key_only(user):
    note = NoteFactory(owner=user)

    assert note_at_version.update((note.pk, 2), {"title": "Too late"}) == 0
    assert note_at_version.update((note.pk + 1000, 1), {"title": "Nobody"}) == 0
    assert Note.objects.get(pk=note.pk).title == note.title


def test_prepared_update_writes_none_as_null_and_values_after_it(user):
    note = NoteFactory(owner=user)
    trashed_at = timezone.now()

    note_at_version.update((note.pk, 1), {"deleted_at": trashed_at, "version": 2})
    assert Note.objects.get(pk=note.pk).deleted_at == trashed_at
    note_at_version.update((note.pk, 2), {"deleted_at": None, "version": 3})
    assert Note.objects.get(pk=note.pk).deleted_at is None
    note_at_version.update((note.pk, 3), {"deleted_at": trashed_at, "version": 4})

    assert Note.objects.get(pk=note.pk).deleted_at == trashed_at


def test_prepared_update_runs_one_query(user, django_assert_num_queries):
    note = NoteFactory(owner=user)
    note_at_version.update((note.pk, 1), {"title": "Compiled", "version": 2})

    with django_assert_num_queries(1):
        note_at_version.update((note.pk, 2), {"title": "Run", "version": 3})


def test_prepared_delete_deletes_what_the_queryset_selects(user):
    note, other = NoteFactory(owner=user), NoteFactory(owner=user)
    for version in range(1, 6):
        for each in (note, other):
            Revision.objects.create(note=each, version=version, title="t", updated_at=timezone.now())
    up_to = PreparedDelete(
        Revision,
        lambda note_id, version: Revision.objects.filter(note_id=note_id, version__lte=version),
        placeholders=[900_000_001, 900_000_002],
    )

    assert up_to.delete(note.pk, 3) == 3

    assert list(note.revisions.values_list("version", flat=True)) == [5, 4]
    assert other.revisions.count() == 5


def test_prepared_delete_refuses_what_cascades(user):
    note = NoteFactory(owner=user)
    notes = PreparedDelete(Note, lambda pk: Note.objects.filter(pk=pk), placeholders=[900_000_001])

    with pytest.raises(ValueError, match="cascades"):
        notes.delete(note.pk)
    assert Note.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize("value", [F("version") + 1, Value(3)])
def test_prepared_update_refuses_expressions(user, value):
    note = NoteFactory(owner=user)

    with pytest.raises(TypeError, match="plain values"):
        note_at_version.update((note.pk, 1), {"version": value})
    assert Note.objects.get(pk=note.pk).version == 1


def test_prepared_update_refuses_model_instances(user, other_user):
    note = NoteFactory(owner=user)

    with pytest.raises(TypeError, match="plain values"):
        note_at_version.update((note.pk, 1), {"owner": other_user})
    assert Note.objects.get(pk=note.pk).owner_id == user.pk

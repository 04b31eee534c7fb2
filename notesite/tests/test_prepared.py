"""PreparedQuery returns exactly what its queryset would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthToken
from notes.models import Note
from notes.tests.factories import NoteFactory
from notesite.prepared import PreparedQuery

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

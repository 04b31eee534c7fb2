"""Prepared statements do exactly what their querysets would."""

import asyncio
import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import SynchronousOnlyOperation
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuthToken
from notes.models import Note, Revision
from notes.tests.factories import NoteFactory
from notesite.prepared import PreparedDelete, PreparedQuery, PreparedUpdate, PreparedValues, fetchone, run_sql

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


live_note_values = PreparedValues(
    Note,
    lambda owner_id, label: (
        Note.objects.alive()
        .filter(owner_id=owner_id)
        .order_by("-updated_at", "-id")
        .values("id", "pinned", "updated_at", "tags", label=Value("\0label\0"))
    ),
    placeholders=[-900_000_001, "\0label\0"],
)


@pytest.mark.parametrize("count", [1, 2, 5])
def test_prepared_values_equal_the_querysets_rows(user, other_user, count):
    NoteFactory.create_batch(3, owner=user, tags=["a"], pinned=True)
    NoteFactory(owner=other_user)
    expected = [
        {**row, "label": "given"}
        for row in Note.objects.filter(owner=user)
        .order_by("-updated_at", "-id")
        .values("id", "pinned", "updated_at", "tags")[:count]
    ]

    rows = live_note_values.rows(user.pk, "given", count=count)

    assert rows == expected
    assert all(type(row["pinned"]) is bool and row["updated_at"].tzinfo is not None for row in rows)


def test_prepared_values_convert_only_the_columns_read(user):
    NoteFactory(owner=user)

    row = live_note_values.rows(user.pk, "given", count=1)[0]

    assert row["id"] > 0
    assert "updated_at" not in row._read  # not parsed: nothing asked for it
    assert row["updated_at"].tzinfo is not None
    # Kept once converted (SQLite's date-times); a column with nothing to
    # convert is read as the driver gave it.
    plan = row._plan
    assert set(row._read) == {name for name in ["id", "updated_at"] if plan.position_of[name] in plan.converters}
    with pytest.raises(KeyError):
        row["title"]


def test_prepared_values_rows_read_columns_as_attributes_too(user):
    note = NoteFactory(owner=user, title="Attribute")

    row = live_note_values.rows(user.pk, "given", count=1)[0]

    assert (row.id, row.updated_at) == (note.pk, row["updated_at"])
    with pytest.raises(AttributeError):
        getattr(row, "title")  # noqa: B009 (not a column of this row)
    assert copy.copy(row) == row  # copy builds a row before its slots are set


def test_prepared_values_keep_a_plan_per_count_and_shape(user):
    NoteFactory.create_batch(3, owner=user)

    assert len(live_note_values.rows(user.pk, "x", count=2)) == 2
    assert len(live_note_values.rows(user.pk, "x", count=2, shape="other")) == 2
    assert len(live_note_values.rows(user.pk, "x", count=3)) == 3
    assert {shape[1:] for shape in live_note_values._plans} >= {(2, ()), (2, "other"), (3, ())}


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


# run_sql: a statement nobody watches runs on the backend's cursor without Django's wrapper.


def test_an_unwatched_statement_skips_django_s_cursor_wrapper(user, monkeypatch):
    note = NoteFactory(owner=user)

    def refuse():
        raise AssertionError("Django's cursor was used")

    monkeypatch.setattr(connection, "cursor", refuse)

    assert live_note.first(user.pk, note.pk).pk == note.pk
    assert run_sql(connection, "SELECT %s", [7], fetchone) == (7,)


def test_a_statement_is_the_same_whether_queries_are_watched_or_not(user):
    note = NoteFactory(owner=user, tags=["a"])

    unwatched = live_note.first(user.pk, note.pk)
    with CaptureQueriesContext(connection) as watched_queries:
        watched = live_note.first(user.pk, note.pk)

    assert len(watched_queries) == 1  # django_assert_num_queries still counts it
    for field in Note._meta.concrete_fields:
        assert getattr(unwatched, field.attname) == getattr(watched, field.attname), field.name


def test_an_execute_wrapper_still_sees_every_statement(user):
    note = NoteFactory(owner=user)
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        live_note.first(user.pk, note.pk)
        run_sql(connection, "SELECT %s", [1], fetchone)

    assert len(seen) == 2


def test_database_errors_are_translated_as_django_translates_them(db):
    with pytest.raises(DatabaseError) as raised:
        run_sql(connection, "SELECT * FROM no_such_table WHERE x = %s", [1], fetchone)

    assert type(raised.value).__module__ == "django.db.utils"  # not the driver's own class
    assert connection.errors_occurred  # so the connection is checked before its next reuse


def test_an_integrity_error_is_django_s(user):
    note = NoteFactory(owner=user)

    with pytest.raises(IntegrityError), transaction.atomic():
        run_sql(connection, f"INSERT INTO {Note._meta.db_table} (id) VALUES (%s)", [note.pk], fetchone)


def test_no_statement_runs_in_a_transaction_an_error_has_spoiled(user):
    note = NoteFactory(owner=user)

    with transaction.atomic():
        transaction.set_rollback(True)
        with pytest.raises(TransactionManagementError):
            live_note.first(user.pk, note.pk)


def test_percent_signs_are_literal_as_in_django_s_cursor(db):
    assert run_sql(connection, "SELECT %s || '%%'", ["100"], fetchone) == ("100%",)


def test_an_async_context_is_refused_as_django_s_cursor_refuses_it(user):
    note = NoteFactory(owner=user)

    async def from_an_event_loop():
        return live_note.first(user.pk, note.pk)

    with pytest.raises(SynchronousOnlyOperation):
        asyncio.run(from_an_event_loop())

"""Leaving with nothing left behind: DELETE /api/auth/me/ and the admin's delete."""

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, models
from rest_framework.test import APIClient

from accounts.models import AuthToken, User
from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from notes import views
from notes.models import Note
from notes.services import note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def row_counts():
    """The number of rows in every table of the database.

    Except the segment storage of SQLite's full-text index: deleting from an
    FTS5 table appends delete markers there rather than removing rows. Its
    `_docsize` table, one row per indexed note, is counted.
    """
    with connection.cursor() as cursor:
        counts = {}
        segments = {f"{name}_{part}" for name in fts5_tables(cursor) for part in ("data", "idx")}
        for table in connection.introspection.table_names(cursor):
            if table in segments:
                continue
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def fts5_tables(cursor):
    if connection.vendor != "sqlite":
        return []
    cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%fts5%'")
    return [row[0] for row in cursor.fetchall()]


def token_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def delete_account(client, password):
    return client.delete("/api/auth/me/", {"password": password}, format="json")


@pytest.fixture
def someone_else(other_user):
    """Another user with data of every kind, which must all survive."""
    NoteFactory(owner=other_user, tags=["mine"])
    AuthToken.objects.create(user=other_user)
    APIClient().force_login(other_user)
    return other_user


def give_data_of_every_kind(user):
    """Notes (edited, tagged, trashed), tokens, a browser session, admin history, group and permissions."""
    notes = [NoteFactory(owner=user, tags=["home", "work"]) for _ in range(3)]
    note_update(note=notes[0], title="edited", tags=["home"])
    note_trash(note=notes[1])
    AuthToken.objects.create(user=user)
    APIClient().force_login(user)
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Note),
        object_id=str(notes[2].pk),
        object_repr=notes[2].title,
        action_flag=ADDITION,
    )
    user.groups.add(Group.objects.get(name="editors"))
    user.user_permissions.add(Permission.objects.get(codename="view_note"))


def test_deletion_leaves_no_row_of_the_user_in_any_table(someone_else, password, settings):
    settings.NOTES_USER_RATE = "1000/day"  # so the user's throttle counts exist too
    Group.objects.create(name="editors")
    cache.clear()
    before = row_counts()
    user = UserFactory(password=password)
    give_data_of_every_kind(user)
    _, secret = AuthToken.objects.create(user=user)
    client = token_client(secret)
    assert client.get("/api/notes/").status_code == 200
    assert row_counts() != before

    response = delete_account(client, password)

    assert response.status_code == 204
    assert row_counts() == before


def test_every_relation_to_a_user_cascades():
    """So that user_delete, which relies on cascades, also deletes what later models hold."""
    user_model = get_user_model()
    relations = [
        field
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.get_fields()
        if field.concrete and (field.many_to_one or field.one_to_one) and field.related_model is user_model
    ]

    assert relations
    assert {f"{field.model.__name__}.{field.name}": field.remote_field.on_delete for field in relations} == {
        f"{field.model.__name__}.{field.name}": models.CASCADE for field in relations
    }


def test_after_deletion_the_token_is_401_and_the_name_cannot_log_in(auth_client, user, password):
    delete_account(auth_client, password)

    assert auth_client.get("/api/auth/me/").status_code == 401
    login = APIClient().post("/api/auth/token/", {"username": user.username, "password": password}, format="json")
    assert login.status_code == 400


def test_a_wrong_password_is_400_and_deletes_nothing(auth_client, user):
    NoteFactory(owner=user)

    response = delete_account(auth_client, "not my password")

    assert response.status_code == 400
    assert response.json() == {"password": ["Your password was entered incorrectly."]}
    assert User.objects.filter(pk=user.pk).exists()
    assert Note.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": None}, {"password": ["x"]}])
def test_a_missing_or_malformed_password_is_400(auth_client, user, body):
    response = auth_client.delete("/api/auth/me/", body, format="json")

    assert response.status_code == 400
    assert "password" in response.json()
    assert User.objects.filter(pk=user.pk).exists()


def test_a_body_that_is_not_json_is_400(auth_client, user):
    response = auth_client.generic("DELETE", "/api/auth/me/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert User.objects.filter(pk=user.pk).exists()


def test_deletion_requires_authentication(api_client, user, password):
    assert delete_account(api_client, password).status_code == 401
    assert User.objects.filter(pk=user.pk).exists()


def test_deleting_from_a_browser_ends_its_session(user, password):
    browser = APIClient()
    browser.force_login(user)

    response = delete_account(browser, password)

    assert response.status_code == 204
    assert response.cookies["sessionid"].value == ""
    assert browser.get("/api/auth/me/").status_code == 401


def test_guessing_the_password_to_delete_is_throttled_per_user(auth_client, user, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"password": "2/min"}}
    cache.clear()

    statuses = [delete_account(auth_client, f"guess {n}").status_code for n in range(3)]

    assert statuses == [400, 400, 429]
    assert auth_client.get("/api/auth/me/").status_code == 200


def test_user_delete_is_all_or_nothing(user, monkeypatch):
    NoteFactory(owner=user)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Note, "delete", fail)
    monkeypatch.setattr("django.db.models.deletion.Collector.delete", fail)

    with pytest.raises(RuntimeError):
        user_delete(user=user)

    assert User.objects.filter(pk=user.pk).exists()
    assert Note.objects.filter(owner=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_note_written_while_the_account_is_deleted_is_401_not_500(auth_client, user, monkeypatch):
    """The request authenticated before the deletion committed; its note could not refer to the user."""
    create = views.NoteViewSet.perform_create

    def delete_account_then_create(view, serializer):
        user_delete(user=User.objects.get(pk=user.pk))  # DELETE /api/auth/me/ from another device
        create(view, serializer)

    monkeypatch.setattr(views.NoteViewSet, "perform_create", delete_account_then_create)

    response = auth_client.post("/api/notes/", {"title": "too late"}, format="json")

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert not Note.objects.exists()


def test_an_unknown_field_is_answered_beside_a_missing_password(auth_client, user):
    response = auth_client.delete("/api/auth/me/", {"x": 1}, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"password": ["This field is required."], "x": ["Unknown field."]},
    )
    assert User.objects.filter(pk=user.pk).exists()


def test_an_unknown_field_beside_the_password_is_400_and_deletes_nothing(auth_client, user, password):
    response = auth_client.delete("/api/auth/me/", {"password": password, "x": 1}, format="json")

    assert (response.status_code, response.json()) == (400, {"x": ["Unknown field."]})
    assert User.objects.filter(pk=user.pk).exists()


def test_a_database_cache_failing_to_forget_the_counts_does_not_fail_the_deletion(
    auth_client, user, password, settings, monkeypatch
):
    # On PostgreSQL a failed statement aborts the transaction around it: the
    # deletion's, unless the cache's statements run in a savepoint.
    settings.NOTES_USER_RATE = "1000/day"

    def failing_delete_many(keys, version=None):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_cache_table")

    monkeypatch.setattr(cache, "delete_many", failing_delete_many)

    response = delete_account(auth_client, password)

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()

"""A database that cannot be reached or is not migrated: 503 with Retry-After, logged in one line, never a 500."""

import logging

import dj_database_url
import pytest
from django.db import IntegrityError, connection, connections, transaction
from rest_framework.test import APIClient

from conftest import client_with_token
from notes.views import NoteViewSet
from notesite.tests.servers import served_database

UNAVAILABLE = "The database is unavailable; try again shortly."


@pytest.fixture
def point_database_at(db):
    """Point the default connection elsewhere (the test's own is kept aside, and put back)."""
    real = connections["default"]

    def point(**settings):
        connections["default"] = type(real)({**real.settings_dict, **settings}, alias="default")

    yield point
    connections["default"].close()
    connections["default"] = real


@pytest.fixture
def database_down(point_database_at):
    """Turn the database off: SQLite in a folder that does not exist, PostgreSQL on a port where nothing listens."""
    if connection.vendor == "sqlite":
        return lambda: point_database_at(NAME="/nonexistent-folder/notes.sqlite3")
    return lambda: point_database_at(HOST="127.0.0.1", PORT="5439")


@pytest.fixture
def database_unmigrated(point_database_at, tmp_path):
    """Turn to an empty database of the same kind, no migration applied."""
    with served_database(tmp_path, "unmigrated") as url:
        parsed = dj_database_url.parse(url)
        yield lambda: point_database_at(**{key: parsed[key] for key in ["NAME", "HOST", "PORT", "USER", "PASSWORD"]})


def errors_logged(caplog):
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def assert_unavailable_logged_once(caplog, path):
    [record] = errors_logged(caplog)
    assert record.getMessage().startswith("Database unavailable: ")
    assert path in record.getMessage()
    assert record.exc_info is None


def test_login_answers_503_when_the_database_cannot_be_reached(database_down, user, password, caplog):
    client = APIClient(raise_request_exception=False)
    database_down()

    response = client.post("/api/auth/token/", {"username": user.username, "password": password}, format="json")

    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE}
    assert response["Retry-After"] == "5"
    assert_unavailable_logged_once(caplog, "POST /api/auth/token/")


def test_listing_notes_answers_503_when_the_database_cannot_be_reached(database_down, user, caplog):
    client = client_with_token(user)
    client.raise_request_exception = False
    database_down()

    response = client.get("/api/notes/")

    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE}
    assert response["Retry-After"] == "5"
    assert_unavailable_logged_once(caplog, "GET /api/notes/")


@pytest.mark.parametrize(
    ("path", "accept", "content_type", "logged"),
    [
        # The session's user is read by the admin's view, and by the browsable API's authentication.
        ("/admin/", "text/html", "text/html", "/admin/"),
        ("/api/notes/", "text/html", "text/html", "/api/notes/"),
        ("/api/auth/me/", "application/json", "application/json", "/api/auth/me/"),
        # A link's token is never logged: it opens the note.
        ("/s/no-such-link/", "text/html", "text/html", "/s/<token>/"),
    ],
)
def test_pages_outside_the_apis_views_answer_503_when_the_database_cannot_be_reached(
    database_down, admin_user, caplog, path, accept, content_type, logged
):
    client = APIClient(raise_request_exception=False)
    client.force_login(admin_user)
    database_down()

    response = client.get(path, HTTP_ACCEPT=accept)

    assert response.status_code == 503
    assert response["Content-Type"].startswith(content_type)
    assert UNAVAILABLE in response.content.decode()
    assert response["Retry-After"] == "5"
    assert_unavailable_logged_once(caplog, f"GET {logged}")


def test_login_answers_503_before_migrations_are_applied(database_unmigrated, caplog):
    client = APIClient(raise_request_exception=False)
    database_unmigrated()

    response = client.post("/api/auth/token/", {"username": "someone", "password": "a password"}, format="json")

    assert response.status_code == 503
    assert response.json() == {"detail": UNAVAILABLE}
    assert_unavailable_logged_once(caplog, "POST /api/auth/token/")


def test_admin_login_page_answers_503_before_migrations_are_applied(database_unmigrated, caplog):
    client = APIClient(raise_request_exception=False)
    database_unmigrated()

    response = client.post("/admin/login/", {"username": "someone", "password": "a password"})

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert_unavailable_logged_once(caplog, "POST /admin/login/")


def bad_table(self, request, *args, **kwargs):
    # A bug: a table no migration makes. Its savepoint keeps the test's transaction usable on PostgreSQL.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM notes_no_such_table")


def duplicate(self, request, *args, **kwargs):
    raise IntegrityError("UNIQUE constraint failed: notes_note.id")


@pytest.mark.parametrize("bug", [bad_table, duplicate])
def test_a_bug_in_a_query_is_still_a_500_with_its_traceback(auth_client, monkeypatch, caplog, bug):
    monkeypatch.setattr(NoteViewSet, "list", bug)
    auth_client.raise_request_exception = False

    response = auth_client.get("/api/notes/")

    assert response.status_code == 500
    [record] = errors_logged(caplog)
    assert record.name == "django.request"
    assert record.exc_info is not None


def test_readyz_names_no_driver_error_and_logs_it(database_down, client, caplog):
    database_down()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database unavailable"}
    [record] = errors_logged(caplog)
    assert record.getMessage().startswith("Database unavailable: GET /readyz: ")
    assert len(record.getMessage()) > len("Database unavailable: GET /readyz: ")
    assert record.exc_info is None

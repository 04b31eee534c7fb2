"""notesite/postgresql: health checks without a round trip unless the server spoke, and date-times read in C."""

import datetime
import time

import httpx
import psycopg
import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.test import override_settings
from psycopg.pq import Format

from notesite.postgresql.base import (
    PSYCOPG_TIMESTAMPTZ_LOADER,
    DatabaseWrapper,
    UTCTimestamptzLoader,
    server_has_spoken,
)
from notesite.tests.servers import Server, manage, seed_users, served_database, server_env

pytestmark = pytest.mark.postgresql


@pytest.fixture
def wrapper(django_db_blocker):
    """A connection of its own, with persistent connections and health checks as in production."""
    settings_dict = {**connection.settings_dict, "NAME": "postgres", "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}
    wrapper = DatabaseWrapper(settings_dict, alias="health-checked")
    checks = []
    is_usable = wrapper.is_usable
    wrapper.is_usable = lambda: checks.append("SELECT 1") or is_usable()
    wrapper.checks = checks
    with django_db_blocker.unblock():
        yield wrapper
        wrapper.close()


def backend_pid(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def next_request(wrapper):
    """What Django does to each connection when a request starts (close_old_connections)."""
    wrapper.close_if_unusable_or_obsolete()


def terminate(wrapper, pid):
    with psycopg.connect(**connect_kwargs()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until_spoken(wrapper.connection)


def wait_until_spoken(conn):
    """The server's words reach the socket a moment after they are sent."""
    deadline = time.monotonic() + 5
    while not server_has_spoken(conn.fileno()) and time.monotonic() < deadline:
        time.sleep(0.01)


def connect_kwargs():
    settings_dict = connection.settings_dict
    return {
        "host": settings_dict["HOST"],
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"],
        "dbname": "postgres",
        "autocommit": True,
    }


def test_a_reused_connection_is_not_checked_with_a_query_when_the_server_said_nothing(wrapper):
    pid = backend_pid(wrapper)

    for _ in range(3):
        next_request(wrapper)
        assert backend_pid(wrapper) == pid

    assert wrapper.checks == []


def test_a_connection_the_server_ended_is_checked_and_replaced(wrapper):
    pid = backend_pid(wrapper)
    terminate(wrapper, pid)

    next_request(wrapper)

    assert backend_pid(wrapper) != pid  # answered on a new connection, not an error
    assert wrapper.checks == ["SELECT 1"]


def test_the_server_has_spoken_only_when_there_is_something_to_read():
    with psycopg.connect(**connect_kwargs()) as conn:
        conn.execute("LISTEN notes_test_channel")
        assert not server_has_spoken(conn.fileno())

        # A notice between requests is something to read: the full check then runs.
        with psycopg.connect(**connect_kwargs()) as other:
            other.execute("NOTIFY notes_test_channel")
        wait_until_spoken(conn)
        assert server_has_spoken(conn.fileno())


# Date-times as PostgreSQL may hold them, and some no Python datetime can hold.
DATE_TIMES = [
    "2026-12-08 03:00:00.123456+02",
    "2026-03-29 02:30:00 Europe/Paris",
    "1900-01-01 00:00:00+00:19:32",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "0001-01-01 00:00:00+05",
    "2000-01-01 00:00:00 BC",
    "infinity",
    "-infinity",
]


def read_date_time(cursor, text):
    """What reading `text` as a timestamptz gives: the value, or the error's type and message."""
    try:
        cursor.execute("SELECT %s::timestamptz", [text])
        return cursor.fetchone()[0]
    except (psycopg.DataError, DataError) as error:  # psycopg's own, or as Django's cursor wraps it
        return type(error).__name__, str(error)


@pytest.mark.django_db
def test_date_times_are_read_by_psycopgs_own_loader():
    connection.ensure_connection()

    assert connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT) is UTCTimestamptzLoader
    assert isinstance(UTCTimestamptzLoader(TIMESTAMPTZ_OID, connection.connection), PSYCOPG_TIMESTAMPTZ_LOADER)


@pytest.mark.django_db
@pytest.mark.parametrize("text", DATE_TIMES)
def test_a_date_time_reads_as_djangos_own_loader_reads_it(text):
    with psycopg.connect(**connect_kwargs()) as djangos:
        djangos.execute("SET TIME ZONE 'UTC'")
        register_tzloader(datetime.UTC, djangos)
        expected = read_date_time(djangos.cursor(), text)

    with connection.cursor() as cursor:
        value = read_date_time(cursor, text)

    assert value == expected
    if isinstance(expected, datetime.datetime):
        assert value.tzinfo is datetime.UTC


def test_a_connection_made_without_use_tz_keeps_djangos_loader(django_db_blocker):
    naive = DatabaseWrapper({**connection.settings_dict, "NAME": "postgres"}, alias="naive")
    with override_settings(USE_TZ=False), django_db_blocker.unblock():
        try:
            with naive.cursor() as cursor:
                loader = naive.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
                value = read_date_time(cursor, "2026-12-08 03:00:00+02")
        finally:
            naive.close()

    assert loader is not UTCTimestamptzLoader
    assert value == datetime.datetime(2026, 12, 8, 1, 0)


@pytest.mark.django_db
def test_use_tz_turned_off_on_an_open_connection_puts_djangos_loader_back():
    connection.ensure_connection()
    with override_settings(USE_TZ=False), connection.cursor() as cursor:
        value = read_date_time(cursor, "2026-12-08 03:00:00+02")

    assert value == datetime.datetime(2026, 12, 8, 1, 0)


@pytest.mark.stress
def test_a_served_request_after_the_server_ended_the_connection_is_answered(tmp_path, db):
    """End to end: gunicorn, one worker thread, its connection ended by PostgreSQL between requests."""
    with served_database(tmp_path, "ended") as database_url:
        env = server_env(tmp_path, DATABASE_URL=database_url, WEB_CONCURRENCY=1, GUNICORN_THREADS=1)
        manage(env, "migrate", "--noinput")
        [user] = seed_users(env, 1, prefix="ended")
        auth = {"Authorization": f"Token {user['token']}"}
        with Server(env) as server:
            assert httpx.get(f"{server.url}/api/notes/", headers=auth).status_code == 200
            with psycopg.connect(**connect_kwargs()) as admin:
                ended = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [database_url.rsplit("/", 1)[1]],
                ).fetchall()
            assert ended  # the worker's persistent connection was among them
            time.sleep(0.2)

            for _ in range(3):
                assert httpx.get(f"{server.url}/api/notes/", headers=auth).status_code == 200

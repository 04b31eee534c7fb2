"""A reused PostgreSQL connection is checked without a round trip unless the server spoke (notesite/postgresql)."""

import time

import httpx
import psycopg
import pytest
from django.db import connection

from notesite.postgresql.base import DatabaseWrapper, server_has_spoken
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

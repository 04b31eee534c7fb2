"""A reused PostgreSQL connection is checked without a round trip unless the server spoke (notesite/postgresql)."""

import time

import psycopg
import pytest
from django.db import connection

from notesite.postgresql.base import DatabaseWrapper, server_has_spoken

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

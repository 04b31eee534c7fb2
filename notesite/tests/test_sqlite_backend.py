"""The SQLite backend queues the process's writers on a lock of its own (notesite/sqlite)."""

import sqlite3
import threading

import pytest
from django.db import connection

from notesite.sqlite.base import DatabaseWrapper, writer_lock

pytestmark = pytest.mark.sqlite


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A fresh database file with one table, and a way to open connections to it."""
    path = tmp_path / "writers.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x INTEGER)")
    opened = []

    def connect(timeout=20):
        settings_dict = {
            **connection.settings_dict,
            "NAME": str(path),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
        }
        wrapper = DatabaseWrapper(settings_dict, alias=f"writers-{len(opened)}")
        wrapper.inc_thread_sharing()  # opened here, used by the test's threads too
        opened.append(wrapper)
        return wrapper

    with django_db_blocker.unblock():
        yield connect
        for wrapper in opened:
            wrapper._release_writer_lock()
            wrapper.close()


def begin(wrapper):
    wrapper.ensure_connection()
    wrapper._start_transaction_under_autocommit()


def insert(wrapper, value):
    with wrapper.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (%s)", [value])


def rows(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT x FROM t ORDER BY x")
        return [x for (x,) in cursor.fetchall()]


def start_writer(wrapper, value):
    """A thread that begins a transaction, inserts `value` and commits; `began` is set once it is in."""
    began = threading.Event()

    def write():
        begin(wrapper)
        began.set()
        insert(wrapper, value)
        wrapper.commit()

    thread = threading.Thread(target=write)
    thread.start()
    return thread, began


def test_a_second_writer_waits_for_the_first_to_commit(database):
    first, second = database(), database()
    begin(first)
    insert(first, 1)
    assert first.holds_writer_lock

    thread, began = start_writer(second, 2)
    assert not began.wait(0.3)  # queued, not failed

    first.commit()
    thread.join(10)
    assert began.is_set()
    assert rows(first) == [1, 2]
    assert not writer_lock(first.settings_dict["NAME"]).locked()


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_the_lock_is_freed_by_a_rollback_or_a_closed_connection(database, end):
    first, second = database(), database()
    begin(first)
    insert(first, 1)

    thread, began = start_writer(second, 2)
    getattr(first, end)()
    thread.join(10)

    assert began.is_set()
    assert rows(second) == [2]


def test_a_failed_begin_frees_the_lock(database):
    wrapper = database()
    wrapper.ensure_connection()
    with wrapper.cursor() as cursor:
        cursor.execute("BEGIN")  # a transaction already open: the next BEGIN fails

    with pytest.raises(Exception, match="within a transaction"):
        wrapper._start_transaction_under_autocommit()

    assert not wrapper.holds_writer_lock
    assert not writer_lock(wrapper.settings_dict["NAME"]).locked()


def test_when_the_lock_is_not_free_in_time_sqlite_decides(database):
    first, second = database(), database(timeout=0.2)
    begin(first)

    # The lock times out, and SQLite's own busy timeout then refuses the
    # write as it would without the lock: the holder keeps its lock.
    with pytest.raises(Exception, match="database is locked"):
        begin(second)

    assert not second.holds_writer_lock
    assert first.holds_writer_lock
    first.commit()
    assert not writer_lock(first.settings_dict["NAME"]).locked()

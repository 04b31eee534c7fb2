"""SQLite, with this process's writers queued in Python, and the query planner's statistics kept.

SQLite lets one transaction write at a time. A writer that finds the lock
taken waits in SQLite's busy handler, which polls with sleeps of 1, 2, 5,
10, 15, 20, 25 ... 100 ms: under load, waiting threads sleep on past the
moment the lock is freed, and a write's p99 runs to half a second
(bench/writers.py). Here a transaction first takes a lock of the process, which
hands over the moment the previous writer commits or rolls back; writers of
other processes still meet in SQLite's busy handler. The lock only orders:
if it is not free within the busy timeout, the transaction goes ahead and
SQLite decides, as it would without it.

Without statistics (sqlite_stat1), SQLite's planner may run a search from the
owner's notes, newest first, looking each one up in the full-text index:
seconds once a user has tens of thousands of notes, where starting from the
index takes milliseconds. Any statistics at all, even of a few notes, steer
it right, and nothing else gathers them, so each connection has SQLite
gather what its queries would use (`PRAGMA optimize`, which analyses a table
again when it has grown 25-fold) after its first request and then hourly,
after the request's answer has gone.
"""

import threading
import time

from django.core import signals
from django.db import connections
from django.db.backends.sqlite3 import base

OPTIMIZE_EVERY = 3600  # seconds

# One per database file, shared by every connection of every thread of the process.
_writers = {}
_writers_lock = threading.Lock()


def writer_lock(name):
    with _writers_lock:
        return _writers.setdefault(str(name), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer_lock = False
    optimize_due = 0.0  # monotonic time; each new connection's first request is due

    def get_new_connection(self, conn_params):
        self.optimize_due = 0.0
        return super().get_new_connection(conn_params)

    def optimize_if_due(self):
        if self.connection is None or self.in_atomic_block or time.monotonic() < self.optimize_due:
            return
        if self.allow_thread_sharing:
            return  # another thread may be using it (a test's in-memory database under a live server)
        lock = writer_lock(self.settings_dict["NAME"])
        if not lock.acquire(blocking=False):
            return  # a writer of this process is busy: after another request
        try:
            self.connection.execute("PRAGMA optimize")
            self.optimize_due = time.monotonic() + OPTIMIZE_EVERY
        except base.Database.OperationalError:
            pass  # another process writing past the busy timeout: after another request
        finally:
            lock.release()

    def _start_transaction_under_autocommit(self):
        lock = writer_lock(self.settings_dict["NAME"])
        self.holds_writer_lock = lock.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5))
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self._release_writer_lock()

    def _release_writer_lock(self):
        if self.holds_writer_lock:
            self.holds_writer_lock = False
            writer_lock(self.settings_dict["NAME"]).release()


def optimize_connections(**kwargs):
    for connection in connections.all(initialized_only=True):
        if isinstance(connection, DatabaseWrapper):
            connection.optimize_if_due()


signals.request_finished.connect(optimize_connections)

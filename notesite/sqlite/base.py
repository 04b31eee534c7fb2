"""SQLite, with this process's writers queued in Python rather than in SQLite's busy handler.

SQLite lets one transaction write at a time. A writer that finds the lock
taken waits in SQLite's busy handler, which polls with sleeps of 1, 2, 5,
10, 15, 20, 25 ... 100 ms: under load, waiting threads sleep on past the
moment the lock is freed, and a write's p99 runs to half a second
(bench/writers.py). Here a transaction first takes a lock of the process, which
hands over the moment the previous writer commits or rolls back; writers of
other processes still meet in SQLite's busy handler. The lock only orders:
if it is not free within the busy timeout, the transaction goes ahead and
SQLite decides, as it would without it.
"""

import threading

from django.db.backends.sqlite3 import base

# One per database file, shared by every connection of every thread of the process.
_writers = {}
_writers_lock = threading.Lock()


def writer_lock(name):
    with _writers_lock:
        return _writers.setdefault(str(name), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    holds_writer_lock = False

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

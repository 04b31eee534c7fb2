"""Whether a database error means the database is unavailable, rather than that the code is wrong.

Unavailable is a 503 to retry, logged in one line: a connection that could
not be made (nothing listening, the database or its folder gone, a password
refused) or that was lost, and a missing table or column while migrations
are pending. Any other database error (an IntegrityError, a ProgrammingError
from a query written wrong) stays a 500 with its traceback, to be fixed.
"""

import logging
import sqlite3

from django.db import DatabaseError, InterfaceError, OperationalError, ProgrammingError, connection
from django.db.migrations.executor import MigrationExecutor

from notesite.logs import logged_path

logger = logging.getLogger(__name__)

# What psycopg 3 raises (as Django's ProgrammingError) for a table or a column
# that is not there: UndefinedTable, UndefinedColumn.
POSTGRESQL_SCHEMA_MISSING = {"42P01", "42703"}
# What SQLite raises (as OperationalError) for the same; it has no codes of its own for them.
SQLITE_SCHEMA_MISSING = ("no such table", "no such column", "has no column named")


def migrations_applied():
    """Whether every migration is applied; raises DatabaseError if the database cannot tell."""
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def database_unavailable(exc):
    """Whether `exc` says the database cannot be reached or is not migrated (see the module's docstring)."""
    if not isinstance(exc, DatabaseError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError)) and not _connected():
        return True
    if not _schema_missing(exc):
        return False
    try:
        # Asked again each time, not remembered: a database recreated empty is
        # not migrated, whatever it was before.
        return not migrations_applied()
    except DatabaseError:
        # It cannot say (a transaction it aborted): unavailable only if the connection has gone since.
        return not _connected()


def _connected():
    # Django leaves `connection.connection` None when connecting failed;
    # psycopg marks a connection the server dropped as closed.
    return connection.connection is not None and not getattr(connection.connection, "closed", False)


def _schema_missing(exc):
    cause = exc.__cause__
    if isinstance(exc, ProgrammingError):
        return getattr(cause, "sqlstate", None) in POSTGRESQL_SCHEMA_MISSING
    return isinstance(cause, sqlite3.OperationalError) and any(words in str(cause) for words in SQLITE_SCHEMA_MISSING)


def log_unavailable(request, exc, response):
    """Log `exc` in one line, without a traceback, and mark `response` as logged."""
    # The code is not at fault, and an outage logs this once per request.
    logger.error("Database unavailable: %s %s: %s", request.method, logged_path(request), " ".join(str(exc).split()))
    # Django logs every 5xx answer again (django.utils.log.log_response), a
    # 500's with its traceback, unless the answer is marked as logged.
    response._has_been_logged = True
    # Nothing else asks the database while this answer is made (the request
    # log's user: notesite.browser_middleware). DRF's request wraps Django's.
    getattr(request, "_request", request)._database_unavailable = True
    return response

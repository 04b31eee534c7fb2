"""PostgreSQL, with two costs of Django's backend left out.

A reused connection's health check is made without a round trip. With
CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a reused connection before
each request's first query: a round trip to the server on every request
(GET one note was served 10% faster without it, bench/RESULTS.md). Between
requests a connection sits idle, and a server says nothing on an idle
connection unless it is ending it: a shutdown, a restart,
pg_terminate_backend or an idle timeout sends an error and closes the
socket. So the socket is polled first, without waiting, and the full check
runs only when the server has spoken. A connection whose peer vanished
without a word is missed, as `SELECT 1` would hang on it too.

Date-times are read by psycopg's own loader when they are read in UTC
(UTCTimestamptzLoader).
"""

import datetime
import functools
import select

from django.db.backends.postgresql import base
from psycopg import adapt, adapters
from psycopg.pq import Format

# psycopg's loader of a timestamptz written as text: its C implementation
# when psycopg's binary package is installed, as requirements.txt has it.
PSYCOPG_TIMESTAMPTZ_LOADER = adapters.get_loader(base.TIMESTAMPTZ_OID, Format.TEXT)


class UTCTimestamptzLoader:
    """Load a timestamptz with psycopg's own loader, in a session whose time zone is UTC.

    Django registers a loader that gives every date-time its connection's
    time zone: a subclass of psycopg's loader written in Python, so each
    one read is parsed in Python, ~3.3 us against ~0.3 us in C; a page of
    50 notes reads 51. Django sets the session's time zone to the
    connection's, and in a UTC session psycopg's loader already answers
    datetimes in datetime.timezone.utc, the values Django's gives.
    Instantiating this class gives psycopg's loader itself; the class
    carries the `timezone` Django compares with its connection's before
    each cursor (a changed TIME_ZONE setting puts Django's loader back).
    """

    format = Format.TEXT
    timezone = datetime.UTC

    def __new__(cls, oid, context=None):
        return PSYCOPG_TIMESTAMPTZ_LOADER(oid, context)


@functools.lru_cache
def with_utc_timestamptz_loader(template):
    """Django's adapters for a connection (`template`), date-times read by UTCTimestamptzLoader."""
    context = adapt.AdaptersMap(template)
    context.register_loader(base.TIMESTAMPTZ_OID, UTCTimestamptzLoader)
    return context


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        # The connection's time zone is UTC with USE_TZ and no TIME_ZONE in
        # DATABASES; Django then sets the session's to UTC too.
        if self.timezone is datetime.UTC:
            params["context"] = with_utc_timestamptz_loader(params["context"])
        return params

    def close_if_health_check_failed(self):
        if self.connection is not None and self.health_check_enabled and not self.health_check_done:
            if self.connection.closed or server_has_spoken(self.connection.fileno()):
                super().close_if_health_check_failed()
            self.health_check_done = True


def server_has_spoken(fd):
    """Whether anything (data, or the end of the connection) waits to be read on `fd`."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))

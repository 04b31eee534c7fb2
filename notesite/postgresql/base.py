"""PostgreSQL, with a persistent connection's health check made without a round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a reused connection before
each request's first query: a round trip to the server on every request
(GET one note was served 10% faster without it, bench/RESULTS.md). Between
requests a connection sits idle, and a server says nothing on an idle
connection unless it is ending it: a shutdown, a restart,
pg_terminate_backend or an idle timeout sends an error and closes the
socket. So the socket is polled first, without waiting, and the full check
runs only when the server has spoken. A connection whose peer vanished
without a word is missed, as `SELECT 1` would hang on it too.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
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

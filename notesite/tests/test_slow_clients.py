"""Slow clients against the gthread worker: what gunicorn's timeouts bound.

gunicorn's gthread worker (the default here) waits up to 5 s in a thread for
a new connection's first bytes, then parks the connection in its poller
(no thread held) and closes it once the keep-alive timeout passes; a kept-
alive connection is closed after the keep-alive timeout too. A client that
trickles a request once it has started holds its thread as long as it
keeps sending: nothing in gunicorn bounds that, which is why the documented
deployment puts a buffering reverse proxy in front (docs/security.md,
"Slow clients"). The bounds are generous: these tests tell bounded from
unbounded, they do not measure speed.
"""

import socket
import time

import httpx
import pytest

from notesite.tests.servers import Server, manage, server_env

pytestmark = pytest.mark.stress

KEEPALIVE = 2
THREADS = 2
DATA_WAIT = 5  # gunicorn's gthread DEFAULT_WORKER_DATA_TIMEOUT


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("slow")
    env = server_env(data_dir, WEB_CONCURRENCY=1, GUNICORN_THREADS=THREADS, GUNICORN_KEEPALIVE=KEEPALIVE)
    manage(env, "migrate", "--noinput", "-v", "0")
    with Server(env) as server:
        yield server


def connect(server):
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=60)


def seconds_until_closed(sock):
    started = time.monotonic()
    while sock.recv(65536):
        pass
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed_by_the_server(server):
    with connect(server) as idle:
        waited = seconds_until_closed(idle)

    assert waited < DATA_WAIT + KEEPALIVE + 10


def test_a_kept_alive_connection_is_closed_after_the_keepalive_timeout(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        waited = seconds_until_closed(sock)

    assert first.startswith(b"HTTP/1.1 200")
    assert waited < KEEPALIVE + 10


def test_idle_connections_beyond_the_threads_do_not_starve_the_server(server):
    idle = [connect(server) for _ in range(THREADS * 3)]
    try:
        started = time.monotonic()
        response = httpx.get(f"{server.url}/healthz", timeout=60)
        waited = time.monotonic() - started
    finally:
        for sock in idle:
            sock.close()

    assert response.status_code == 200
    # Each idle connection can hold a thread for the data wait, once, before
    # it is parked: the request is answered within a few of those waits.
    assert waited < DATA_WAIT * 3 + 10

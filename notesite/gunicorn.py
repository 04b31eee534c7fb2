"""gunicorn settings from the environment: `gunicorn -c python:notesite.gunicorn`.

Any other gunicorn flag can be given in GUNICORN_CMD_ARGS.
"""

import ctypes
import os
import shutil
import signal
import sys

import gunicorn.http.parser
from gunicorn.http.body import ChunkedReader, LengthReader

from notesite.cache import exit_if_redis_does_not_answer
from notesite.environment import env_int, exit_if_misconfigured

wsgi_app = "notesite.wsgi:application"
# Numbers are read here, where a mistake is one line naming the variable:
# gunicorn reported PORT=99999 with a traceback from bind().
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{env_int('PORT', 8000, minimum=0, maximum=65535)}"
# gunicorn itself reads WEB_CONCURRENCY as it is imported, before this file:
# a value that is no integer fails there, with gunicorn's traceback.
workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
# Threads overlap a worker's waits on the database; keep-alive saves a
# connection setup per request for clients that reuse connections.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
keepalive = env_int("GUNICORN_KEEPALIVE", 5, minimum=0)
# A worker that stops telling the arbiter it is alive for this long is killed
# and replaced. With gthread that bounds a stuck worker, not a long request:
# the worker's main loop goes on telling while a thread runs one.
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=0)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 20, minimum=0)
# Recycle workers now and then, so a slow leak can never grow without bound.
max_requests = env_int("GUNICORN_MAX_REQUESTS", 10000, minimum=0)
max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", 1000, minimum=0)
# A search may be 500 characters, 6,000 bytes once percent-encoded if each is
# 4 bytes of UTF-8; gunicorn's default request line (4,094 bytes) refused such
# a search with its own HTML 414. 8,190 is the most gunicorn allows.
limit_request_line = 8190
# Requests are logged by the app as JSON lines; gunicorn's own access log is
# off unless asked for ("-" for stdout).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The proxies whose X-Forwarded-Proto gunicorn believes: it sets wsgi.url_scheme
# from it, which alone decides for Django whether a request came over HTTPS
# (the redirect and secure cookies of NOTES_HTTPS). Anyone else's is ignored.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# No runtime control socket: several instances on one host would share its path.
control_socket_disable = True


def typed_path(path):
    """`path` as typed from the working directory: relative when it is under it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def python_command():
    """How to run this server's Python from here: `python` when PATH finds it (the Docker image), else its path."""
    on_path = shutil.which("python")
    # Compared by folder, not by the file a symlink names: a virtualenv's python links to the system's.
    if on_path and os.path.dirname(os.path.abspath(on_path)) == os.path.dirname(os.path.abspath(sys.executable)):
        return "python"
    return typed_path(sys.executable) if sys.executable else "python"


def when_ready(server):
    # The bound address, not the configured one: port 0 means "any free port".
    host, port = server.LISTENERS[0].sock.getsockname()[:2]
    if host in {"0.0.0.0", "::"}:
        host = "127.0.0.1"
    base = f"http://{host}:{port}"
    manage_py = typed_path(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "manage.py"))
    print(
        f"\nNotes is serving on {base}\n"
        f"  API (browsable):  {base}/api/\n"
        f"  API docs:         {base}/api/docs/  (ReDoc: {base}/api/redoc/)\n"
        f"  Admin:            {base}/admin/\n"
        f"Create a user:      {python_command()} {manage_py} createsuperuser\n"
        "                    (with this server's environment: NOTES_DATA_DIR, DATABASE_URL, ...)\n"
        "Stop with Ctrl-C.\n",
        file=sys.stderr,
        flush=True,
    )


def on_starting(server):
    # Under `make run`, make is the parent: a SIGTERM sent to make alone would
    # leave gunicorn running as an orphan, so ask Linux to pass it on when the
    # parent dies (prctl PR_SET_PDEATHSIG).
    if os.environ.get("GUNICORN_EXIT_WITH_PARENT") == "1" and sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    # Before any worker starts: a mistake is then one line from the master,
    # not a traceback from every worker and "Worker failed to boot".
    for address in server.cfg.address:
        if isinstance(address, tuple) and not 0 <= address[1] <= 65535:
            sys.exit(f"Error: the port to bind must be from 0 to 65535, not {address[1]} ({address[0]}:{address[1]}).")
    exit_if_misconfigured()
    exit_if_redis_does_not_answer()


# Of a body the application left unread (a 413, or a 401 answered before the
# body was read), gunicorn reads and drops this much before the connection's
# next request, and past it closes the connection. Its own bound, 64 KiB, was
# too small behind the proxy (deploy/nginx.conf): nginx, still sending a body
# it had buffered, found the connection closed and answered 502 in place of
# the application's answer. This is more than the proxy's client_max_body_size
# (30m), so a body it passes is always drained; gunicorn's 5 s deadline for
# the drain still bounds a client that sends slowly.
DRAINED_BEFORE_NEXT_REQUEST = 32 * 1024 * 1024
gunicorn.http.parser._DRAIN_MAX_BYTES = DRAINED_BEFORE_NEXT_REQUEST


def leaves_too_much_unread(body):
    """Whether gunicorn will close the connection rather than drain what is left of `body`."""
    reader = body.reader
    if isinstance(reader, LengthReader):
        return body.buf.tell() + reader.length >= DRAINED_BEFORE_NEXT_REQUEST
    # A chunked body's length is unknown until its last chunk has been read.
    return isinstance(reader, ChunkedReader) and reader.parser is not None


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)  # gunicorn's own pre_request
    # Past the drain, gunicorn closes the connection though its answer said
    # keep-alive: a client reusing it failed its next request. gunicorn asks
    # the request whether to close as it writes the answer's headers, after
    # the application has read what it reads, so the answer then says
    # `Connection: close`.
    reader = getattr(req.body, "reader", None)
    if isinstance(reader, ChunkedReader) or (
        isinstance(reader, LengthReader) and reader.length >= DRAINED_BEFORE_NEXT_REQUEST
    ):
        asked = req.should_close
        req.should_close = lambda: asked() or leaves_too_much_unread(req.body)

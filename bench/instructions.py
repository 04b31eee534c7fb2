"""Instructions per request, counted by valgrind: a figure a busy machine cannot blur.

    python bench/instructions.py [--requests 300] [[METHOD ]PATH ...]

A PATH alone is a GET; "POST /api/notes/" creates a note and
"PATCH /api/notes/{id}/" edits one, with a small JSON body.

Requests go straight into the WSGI handler (no server, no network), so the
count is the service's own work per request: middleware, DRF, the
database queries, serialization. The count for N requests minus the count
for none, divided by N. Used to measure what each optimisation bought
(bench/RESULTS.md); needs valgrind.
"""

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent

SETUP = """
from accounts.models import AuthToken, User
from notes.services import note_create
user = User.objects.create_user("bench", password="bench-password-42")
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliett".split()
for i in range(200):
    note_create(owner=user, title=f"Note {i}", content=" ".join(words) * 3, tags=["bench", words[i % 10]])
print(AuthToken.objects.create(user=user, expiry=None)[1])
"""

# Runs under valgrind: N requests through the WSGI handler.
DRIVER = """
import io, os, sys
import django
django.setup()
import logging
logging.disable(logging.CRITICAL)
from django.core.handlers.wsgi import WSGIHandler
from notes.models import Note

app = WSGIHandler()
token, request, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
method, _, path = request.rpartition(" ")
method = method or "GET"
path = path.replace("{id}", str(Note.objects.order_by("-id").values_list("id", flat=True)[0]))
route, _, query = path.partition("?")
sent = iter(range(10**9))  # a new title each time, so no PATCH is a no-op

def body():
    if method == "GET":
        return b""
    return b'{"title": "Counted note %d", "content": "written by the count", "tags": ["count"]}' % next(sent)

def start_response(status, headers):
    assert status.startswith(("200", "201")), status

def environ():
    sending = body()
    return {"REQUEST_METHOD": method, "PATH_INFO": route, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(sending), "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(sending)), "HTTP_AUTHORIZATION": f"Token {token}",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr}

for _ in range(20):  # warm up: imports, compiled queries, caches
    b"".join(app(environ(), start_response))
for _ in range(count):
    b"".join(app(environ(), start_response))
"""


def seeded_environment(prefix):
    """A fresh SQLite data folder, migrated and seeded (SETUP): the environment to use it, and a token."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTES_", "DATABASE_URL", "REDIS_URL"))}
    env.update(NOTES_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="notesite.settings", PYTHONPATH=str(BASE_DIR))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True, capture_output=True
    )
    setup = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); exec(open(0).read())"],
        input=SETUP,
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return env, setup.stdout.split()[-1]


def get_environ(path, token):
    """The WSGI environ of a GET of `path` with the token, as gunicorn passes it (minus the socket)."""
    route, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_AUTHORIZATION": f"Token {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.errors": sys.stderr,
    }


def instructions(env, token, path, count):
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    result = subprocess.run(
        [*valgrind, sys.executable, "-c", DRIVER, token, path, str(count)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or not match:
        raise RuntimeError(result.stderr[-3000:])
    return int(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", default=["/api/notes/{id}/", "/api/notes/?limit=50"])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    env, token = seeded_environment("notes-instructions-")
    for path in args.paths:
        per_request = (
            instructions(env, token, path, args.requests) - instructions(env, token, path, 0)
        ) / args.requests
        print(f"{path:30} {per_request / 1e6:6.2f} M instructions/request", flush=True)


if __name__ == "__main__":
    main()

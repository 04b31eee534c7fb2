"""Real gunicorn servers for tests: production settings, a temporary data folder."""

import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dj_database_url
import httpx

BASE_DIR = Path(__file__).resolve().parents[2]
# What an operator sets for every instance on one PostgreSQL (README, "Configuration").
SHARED_SECRET_KEY = "servers-" + "p8Wn3Rk6Tq1Zy5Hd" * 3
BANNER = re.compile(r"Notes is serving on (http://[\d.]+:\d+)")
# One log line per request sent is noise in a test's output.
logging.getLogger("httpx").setLevel(logging.WARNING)


def server_env(data_dir, **overrides):
    """The environment `make run` would give, pointed at `data_dir`.

    The test run's own database, cache and key are left out: a server gets
    SQLite in `data_dir`, and a key generated there, unless `DATABASE_URL` is
    passed explicitly (then a key every such server shares).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTES_")}
    for name in ["DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"]:
        env.pop(name, None)
    env.update(NOTES_DATA_DIR=str(data_dir), DEBUG="false", PYTHONUNBUFFERED="1")
    env.update({key: str(value) for key, value in overrides.items()})
    if not env.get("DATABASE_URL", "sqlite:").startswith("sqlite:"):
        # Servers sharing a PostgreSQL share a key, as the settings require of them.
        env.setdefault("SECRET_KEY", SHARED_SECRET_KEY)
    return env


@contextlib.contextmanager
def served_database(data_dir, name):
    """A `DATABASE_URL` of the suite's kind for servers, empty, dropped afterwards.

    SQLite: a file in `data_dir`. PostgreSQL (the suite's `DATABASE_URL`): a
    scratch database beside the suite's, named `<its name>_<name>`.
    """
    suite_url = os.environ.get("DATABASE_URL", "")
    if not suite_url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{Path(data_dir) / 'notes.sqlite3'}"
        return
    import psycopg

    params = dj_database_url.parse(suite_url)
    scratch = f"{params['NAME']}_{name}"
    server = {key.lower(): params[key] for key in ["HOST", "PORT", "USER", "PASSWORD"] if params.get(key)}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        yield suite_url.rsplit("/", 1)[0] + f"/{scratch}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


SEED_USERS = """
import json
from accounts.models import AuthToken, User
prefix, count = sys.argv[1], int(sys.argv[2])
users = []
for n in range(count):
    user = User.objects.create_user(f"{prefix}{n}", password=f"{prefix}-password-{n}-long-enough")
    users.append({"id": user.pk, "username": user.username, "token": AuthToken.objects.create(user=user)[1]})
print("SEEDED " + json.dumps(users))
"""


def seed_users(env, count, prefix="load"):
    """Create `count` users with a token each: [{"id", "username", "token"}]."""
    result = subprocess.run(
        [sys.executable, "-c", "import sys, django; django.setup(); exec(sys.stdin.read())", prefix, str(count)],
        input=SEED_USERS,
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "notesite.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("SEEDED "))
    return json.loads(line.removeprefix("SEEDED "))


def unused_port():
    """A port nothing listens on now, for a server that must be told one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args, check=True):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


class Server:
    """gunicorn with notesite.gunicorn on a free port; stop() sends SIGTERM."""

    def __init__(self, env, *extra_args):
        self.env = env
        self.log_path = Path(env["NOTES_DATA_DIR"]) / f"gunicorn-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w+")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:notesite.gunicorn",
                "--bind",
                "127.0.0.1:0",
                *extra_args,
            ],
            cwd=BASE_DIR,
            # Stopped with the process that started it, even if that one dies.
            env={**env, "GUNICORN_EXIT_WITH_PARENT": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # Its own process group, so kill() can take the workers down with it.
            start_new_session=True,
        )
        self.url = self._wait_for_banner()

    def _wait_for_banner(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.output()}")
            match = BANNER.search(self.log_path.read_text())
            if match:
                url = match.group(1)
                self._wait_until_answering(url, deadline)
                return url
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not start:\n{self.output()}")

    def _wait_until_answering(self, url, deadline):
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)

    def output(self):
        return self.log_path.read_text()

    def worker_pids(self):
        """The pids of the master's children: its workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def kill(self):
        """SIGKILL the master and every worker at once: a crash, not a shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


def redis_url_for_tests(db_number):
    """A Redis database of the tests' own, emptied; skips when Redis is not reachable."""
    import pytest
    import redis

    url = os.environ.get("NOTES_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{db_number}")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url} (set NOTES_TEST_REDIS_URL): {exc}")
    client.flushdb()
    return url

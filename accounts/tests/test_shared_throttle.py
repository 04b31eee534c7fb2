"""NOTES_USER_RATE counts are shared: two gunicorn instances count one user's requests together.

Each instance is its own process with its own memory, so a count kept per
process would let the user through twice as often. The database cache
(the default) and Redis both hold one count for all of them.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
RATE = 4
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "python:notesite.gunicorn", "--workers", "1"]
TEST_REDIS_URL = os.environ.get("NOTES_TEST_REDIS_URL", "redis://127.0.0.1:6379/6")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class Instance:
    """One gunicorn master with one worker, on a free port."""

    def __init__(self, env, log_path):
        self.port = free_port()
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*GUNICORN, "--bind", f"127.0.0.1:{self.port}"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_until_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {timeout} s:\n{self.log_path.read_text()}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {TEST_REDIS_URL} (set NOTES_TEST_REDIS_URL): {exc}")
    client.flushdb()  # a database of its own for these tests: counts of earlier runs go
    yield TEST_REDIS_URL
    client.flushdb()


@pytest.fixture
def server_env(tmp_path):
    """The environment of a served site on a database of its own, of the suite's kind, migrated."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL"} and not name.startswith("NOTES_")
    }
    env.update(NOTES_DATA_DIR=str(tmp_path), NOTES_USER_RATE=f"{RATE}/day", WEB_CONCURRENCY="1")
    if connection.vendor == "postgresql":
        with scratch_postgresql_database() as url:
            env["DATABASE_URL"] = url
            manage(env, "migrate", "--noinput", "-v", "0")
            yield env
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'notes.sqlite3'}"
        manage(env, "migrate", "--noinput", "-v", "0")
        yield env


@contextlib.contextmanager
def scratch_postgresql_database():
    """A fresh database beside the suite's, dropped afterwards."""
    import psycopg

    params = connection.settings_dict
    name = f"{params['NAME']}_servers"
    server = {"host": params["HOST"], "port": params["PORT"], "user": params["USER"], "password": params["PASSWORD"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{params['USER']}:{params['PASSWORD']}@{params['HOST']}:{params['PORT']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def a_token(env):
    output = manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from accounts.models import AuthToken, User;"
        "user = User.objects.create_user('shared-throttle', password='unused but long enough');"
        "print(AuthToken.objects.create(user=user)[1])",
    )
    return output.strip().splitlines()[-1]


def requests_alternating_between_two_instances(env, tmp_path):
    token = a_token(env)
    instances = [Instance(env, tmp_path / f"gunicorn-{n}.log") for n in range(2)]
    try:
        for instance in instances:
            instance.wait_until_ready()
        headers = {"Authorization": f"Token {token}"}
        return [httpx.get(f"{instances[n % 2].url}/api/notes/", headers=headers, timeout=30) for n in range(RATE + 2)]
    finally:
        for instance in instances:
            instance.stop()


def test_two_instances_share_the_count_in_the_database_cache(server_env, tmp_path):
    responses = requests_alternating_between_two_instances(server_env, tmp_path)

    assert [response.status_code for response in responses] == [200] * RATE + [429, 429]
    assert all(int(response.headers["Retry-After"]) > 0 for response in responses[RATE:])


def test_two_instances_share_the_count_in_redis(server_env, redis_url, tmp_path):
    server_env["REDIS_URL"] = redis_url

    responses = requests_alternating_between_two_instances(server_env, tmp_path)

    assert [response.status_code for response in responses] == [200] * RATE + [429, 429]
    assert all(int(response.headers["Retry-After"]) > 0 for response in responses[RATE:])

"""Real gunicorn servers for tests: production settings, a temporary data folder."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parents[2]
BANNER = re.compile(r"Notes is serving on (http://[\d.]+:\d+)")


def server_env(data_dir, **overrides):
    """The environment `make run` would give, pointed at `data_dir`.

    The test run's own database and cache are left out: a server gets SQLite
    in `data_dir` unless `DATABASE_URL` is passed explicitly.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTES_")}
    for name in ["DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY"]:
        env.pop(name, None)
    env.update(NOTES_DATA_DIR=str(data_dir), DEBUG="false", PYTHONUNBUFFERED="1")
    env.update({key: str(value) for key, value in overrides.items()})
    return env


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
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._wait_for_banner()

    def _wait_for_banner(self, timeout=30):
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

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()


@contextlib.contextmanager
def scratch_postgresql_database(suffix):
    """A fresh PostgreSQL database beside the suite's, dropped afterwards; yields its URL."""
    import psycopg
    from django.db import connection

    params = connection.settings_dict
    name = f"{params['NAME']}_{suffix}"
    server = {"host": params["HOST"], "port": params["PORT"], "user": params["USER"], "password": params["PASSWORD"]}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{params['USER']}:{params['PASSWORD']}@{params['HOST']}:{params['PORT']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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

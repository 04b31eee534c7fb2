"""A write that waits past SQLite's busy timeout answers 503 with Retry-After (real gunicorn)."""

import sqlite3

import httpx
import pytest

from notesite.tests.servers import Server, manage, seed_users, server_env

pytestmark = [pytest.mark.sqlite, pytest.mark.stress]


def test_a_write_waiting_past_the_busy_timeout_answers_503_and_a_retry_goes_through(tmp_path):
    env = server_env(tmp_path, NOTES_SQLITE_BUSY_TIMEOUT=1, WEB_CONCURRENCY=1)
    manage(env, "migrate", "--noinput", "-v", "0")
    [user] = seed_users(env, 1)
    with (
        Server(env) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Token {user['token']}"}, timeout=30) as client,
    ):
        note = client.post("/api/notes/", json={"title": "first"}).json()
        # Another process holding the write lock, as a long import in one transaction does.
        holder = sqlite3.connect(tmp_path / "notes.sqlite3", timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = client.patch(f"/api/notes/{note['id']}/", json={"title": "second"})
        finally:
            holder.rollback()
            holder.close()
        retried = client.patch(f"/api/notes/{note['id']}/", json={"title": "second"})
        log = server.output()

    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"
    assert busy.json() == {"detail": "The database is busy with a long write: try again shortly."}
    assert retried.status_code == 200
    assert retried.json()["version"] == note["version"] + 1
    assert "Traceback" not in log

"""The change feed deep into a million changes: a page costs about what the first does.

    .venv/bin/python bench/feed.py [--changes 1000000] [--databases sqlite,postgresql] [--requests 40]
                                   [--postgresql-url postgres://postgres@127.0.0.1:5432/notes_bench_feed]

For each database: seeds one user with N changes on a fresh database
(`note_create_many`, in bulk batches, so every note is one change in the
feed; a tenth of them then trashed and a hundredth deleted forever, so pages
mix notes and both kinds of tombstone), serves it with gunicorn in its
production configuration, and times pages of 200 changes over HTTP with
token auth: the first page (no cursor), one from the middle and one near
the end. Prints the query plan of the page statement and a Markdown table
of median and 90th-percentile latencies.

PostgreSQL uses the database of `--postgresql-url` (default
`notes_bench_feed` on the local server), dropped and created.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from notesite.tests.servers import Server, manage, server_env  # noqa: E402

PG_URL = "postgres://postgres@127.0.0.1:5432/notes_bench_feed"
LIMIT = 200

SEED = """
import time
from django.db import connection
from accounts.models import AuthToken, User
from notes.models import Note
from django.db.models.functions import Mod
from notes import feed
from notes.services import note_create_many, note_trash, notes_purge

total = {changes}
started = time.monotonic()
user = User.objects.create_user("feed", password="feed-password-42")
for start in range(0, total, 10_000):
    note_create_many(
        owner=user,
        notes=[{{"title": f"Note {{n}}", "content": "alpha bravo charlie", "tags": ["bench"]}}
               for n in range(start, min(start + 10_000, total))],
    )
seeded = time.monotonic() - started
# Then a hundredth of the notes to the trash and a thousandth deleted
# forever, through the services (each a change, so they end the feed).
every_hundredth = Note.objects.owned_by(user).alias(r=Mod("id", 100)).filter(r=0).order_by("id")
for note in every_hundredth:
    note_trash(note=note)
notes_purge(notes=Note.objects.owned_by(user).alias(r=Mod("id", 1000)).filter(r=0))
token = AuthToken.objects.create(user=user, expiry=None)[1]
last = feed.ChangeCounter.objects.get(owner=user).last_seq
cursors = [feed.encode_cursor(user.pk, position) for position in [total // 2, total - 2 * {limit}, last - 2 * {limit}]]

notes = Note.objects.owned_by(user)
tombstones = feed.PurgedNote.objects.owned_by(user)
changed = notes.changed_after(last - 2 * {limit}).order_by().values_list("change_seq", "pk")
purged = tombstones.changed_after(last - 2 * {limit}).order_by().values_list("change_seq", "note_id")
plan = changed.union(purged, all=True).order_by("change_seq")[: {limit} + 1].explain()
print("PLAN", plan.replace(chr(10), " | "))
print("RESULT", token, *cursors, last, f"{{seeded:.1f}}")
"""


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_pages(server, token, cursor, requests):
    headers = {"Authorization": f"Token {token}"}
    params = {"limit": LIMIT, **({"cursor": cursor} if cursor else {})}
    samples = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        for attempt in range(requests + 3):
            started = time.perf_counter()
            response = client.get("/api/changes/", params=params)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            assert len(response.json()["changes"]) > LIMIT // 2
            if attempt >= 3:  # warm up the workers and caches first
                samples.append(elapsed * 1000)
    return statistics.median(samples), percentile(samples, 0.9)


def reset_postgresql(url):
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def bench(database, changes, requests, postgresql_url):
    with tempfile.TemporaryDirectory() as data_dir:
        overrides = {"LOG_LEVEL": "WARNING", "WEB_CONCURRENCY": 1, "GUNICORN_THREADS": 1}
        if database == "postgresql":
            reset_postgresql(postgresql_url)
            overrides["DATABASE_URL"] = postgresql_url
        env = server_env(Path(data_dir), **overrides)
        manage(env, "migrate", "--noinput")
        started = time.monotonic()
        # Seeding need not survive a power cut: SQLite commits without fsync.
        seed_env = {**env, "NOTES_SQLITE_SYNCHRONOUS": "OFF"}
        output = manage(seed_env, "shell", "--no-imports", "-c", SEED.format(changes=changes, limit=LIMIT)).stdout
        setup = time.monotonic() - started
        plan = next(line for line in output.splitlines() if line.startswith("PLAN ")).removeprefix("PLAN ")
        token, middle, end_of_notes, tail, last, seeded = output.split("RESULT ")[1].split()
        print(f"\n{database}: {changes} notes seeded in {seeded} s ({last} changes, set up in {setup:.0f} s)")
        print(f"plan of a deep page: {plan}")
        rows = []
        with Server(env) as server:
            pages = [
                ("first page", None),
                ("page in the middle", middle),
                ("last page of notes", end_of_notes),
                ("last page (trash, tombstones)", tail),
            ]
            for name, cursor in pages:
                p50, p90 = time_pages(server, token, cursor, requests)
                rows.append((database, name, p50, p90))
        if database == "postgresql":
            reset_postgresql(postgresql_url)
        return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--postgresql-url", default=PG_URL)
    arguments = parser.parse_args()
    os.chdir(BASE_DIR)
    rows = []
    for database in arguments.databases.split(","):
        rows += bench(database, arguments.changes, arguments.requests, arguments.postgresql_url)
    print(f"\nGET /api/changes/?limit={LIMIT} over HTTP, {arguments.changes} notes, one gunicorn worker\n")
    print("| database | page | p50 ms | p90 ms | vs first page |")
    print("|---|---|---|---|---|")
    first = {}
    for database, name, p50, p90 in rows:
        first.setdefault(database, p50)
        print(f"| {database} | {name} | {p50:.1f} | {p90:.1f} | {p50 / first[database]:.2f}x |")


if __name__ == "__main__":
    main()

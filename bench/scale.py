"""Finding notes among a million: seed 1,000,000 notes, then time the API over HTTP.

For SQLite and for PostgreSQL in turn: a fresh database, `seed_notes` timed,
gunicorn started on a free port, and each request sent REQUESTS times
(after a warm-up) by one client on a kept-alive connection; p50 and p99 of
the wall time seen by the client. Prints a table and writes
bench/RESULTS.md.

    make bench-scale                      # both databases, 1,000,000 notes
    COUNT=100000 make bench-scale         # smaller
    BENCH_DATABASES=sqlite make bench-scale
    BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/notes_bench make bench-scale
"""

import datetime
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.results import write_section

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
COUNT = int(os.environ.get("COUNT", "1000000"))
REQUESTS = int(os.environ.get("REQUESTS", "60"))
DATABASES = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/notes_bench_scale")
PAGE_SIZE = 50
DEEP_PAGE = 10_000
FEED_PAGE_SIZE = 200  # the change feed's default page


def main():
    results = {}
    for vendor in DATABASES:
        with tempfile.TemporaryDirectory(prefix="notes-bench-") as data_dir:
            env = {**os.environ, "NOTES_DATA_DIR": data_dir, "DJANGO_SETTINGS_MODULE": "notesite.settings"}
            env.pop("DATABASE_URL", None)
            if vendor == "postgresql":
                env["DATABASE_URL"] = POSTGRES_URL
                env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # required on PostgreSQL
                recreate_postgres_database(POSTGRES_URL)
            results[vendor] = run(vendor, env)
    report(results)


def run(vendor, env):
    manage(env, "migrate", "--noinput", "-v0")
    print(f"== {vendor}: seeding {COUNT:,} notes", flush=True)
    started = time.monotonic()
    manage(env, "seed_notes", "--user", "bench", "--count", str(COUNT))
    seeding = time.monotonic() - started
    if vendor == "postgresql":
        manage(env, "dbshell", "--", "-qc", "VACUUM ANALYZE")
    token, deep_cursor, rare, in_sync, feed_cursors = prepare(env)
    print(f"   rare word: {rare}", flush=True)
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--config", "python:notesite.gunicorn", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "WARNING", "GUNICORN_LOG_LEVEL": "warning"},
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base)
        cases = {
            "first page": ("/api/notes/", {}),
            f"page {min(DEEP_PAGE, COUNT // PAGE_SIZE):,}": ("/api/notes/", {"cursor": deep_cursor}),
            "search, common word (meeting)": ("/api/notes/", {"search": "meeting"}),
            "search, very common word (the)": ("/api/notes/", {"search": "the"}),
            "search, rare word": ("/api/notes/", {"search": rare}),
            "search, CJK (東京)": ("/api/notes/", {"search": "東京"}),
            "tag filter (work)": ("/api/notes/", {"tag": "work"}),
            "change feed, first page": ("/api/changes/", {}),
            **{
                f"change feed after {position:,} changes": ("/api/changes/", {"cursor": cursor})
                for position, cursor in feed_cursors.items()
            },
        }
        timings = {"seeding 1M (s)" if COUNT == 1_000_000 else f"seeding {COUNT:,} (s)": (seeding, None)}
        with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60) as client:
            for name, (path, params) in cases.items():
                timings[name] = measure(client, path, params)
                print(f"   {name}: p50 {timings[name][0]:.1f} ms, p99 {timings[name][1]:.1f} ms", flush=True)
        timings["index in sync after seeding"] = (in_sync, None)
        return timings
    finally:
        server.terminate()
        server.wait(timeout=30)


def prepare(env):
    """A token, the cursor of page DEEP_PAGE, a rare word, whether the index matches the notes, feed cursors."""
    deep_page = min(DEEP_PAGE, COUNT // PAGE_SIZE - 1)
    feed_positions = [COUNT // 2, COUNT - FEED_PAGE_SIZE]
    script = f"""
from django.conf import settings
from django.core import signing
from accounts.models import AuthToken, User
from notes.feed import Cursor, encode_cursor
from notes.models import Note
from notes.pagination import CURSOR_SALT, ordering_keys, _encode_value
from notes.search import search_notes
from notes.searchtext import query_terms
user = User.objects.get(username="bench")
_, token = AuthToken.objects.create(user=user)
notes = Note.objects.owned_by(user).alive()
keys = ordering_keys(notes)
row = notes.order_by(*keys)[{deep_page * PAGE_SIZE - 1}]
values = [_encode_value(getattr(row, key.lstrip("-"))) for key in keys]
cursor = signing.dumps({{"k": keys, "v": values, "b": False}}, salt=CURSOR_SALT)
note = notes.filter(content__contains="See ").order_by("id")[{COUNT // 4}]
rare = note.content.split("See ")[1].split(".")[0]
# The index finds exactly the newest notes whose text has the word (up to the window).
def in_sync(word):
    found = set(search_notes(notes, owner=user, terms=query_terms(word)).values_list("pk", flat=True))
    having = notes.filter(search_content__regex=rf"(^| ){{word}}( |$)").order_by("-id")
    return found == set(having.values_list("pk", flat=True)[:settings.NOTES_SEARCH_WINDOW])
sync = in_sync(rare) and in_sync("東京")
# Seeding made one change per note: a feed page from the middle, and the last full page.
feed = [encode_cursor(user.pk, Cursor(position)) for position in {feed_positions}]
print(token, cursor, rare, sync, *feed)
"""
    output = manage(env, "shell", "--no-imports", "-c", script, capture=True).splitlines()[-1].split()
    return output[0], output[1], output[2], output[3] == "True", dict(zip(feed_positions, output[4:], strict=True))


def measure(client, path, params):
    for _ in range(5):
        check(client.get(path, params=params))
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        check(client.get(path, params=params))
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def check(response):
    body = response.json() if response.status_code == 200 else {}
    if not body.get("results", body.get("changes")):
        raise SystemExit(f"Unexpected answer {response.status_code}: {response.text[:300]}")


def manage(env, *args, capture=False):
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, text=True, capture_output=capture
    )
    return result.stdout


def recreate_postgres_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base):
    for _ in range(100):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start.")


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory = next(
        (line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?"
    )
    return f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB RAM, {platform.platform()}"


def report(results):
    vendors = list(results)
    rows = list(next(iter(results.values())))
    lines = [
        "| measure | " + " | ".join(f"{v} p50 | {v} p99" for v in vendors) + " |",
        "|---|" + "---:|---:|" * len(vendors),
    ]
    for row in rows:
        cells = []
        for vendor in vendors:
            p50, p99 = results[vendor][row]
            if isinstance(p50, bool):
                cells += ["yes" if p50 else "NO", ""]
            elif p99 is None:
                cells += [f"{p50:.0f} s", ""]
            else:
                cells += [f"{p50:.1f} ms", f"{p99:.1f} ms"]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print("\n" + table)
    write_section(
        "scale",
        "## Finding notes among a million\n\n"
        f"Measured {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC by `make bench-scale` "
        f"({COUNT:,} notes for one user, {REQUESTS} timed requests per line after 5 warm-up ones, one client "
        f"on a kept-alive connection, gunicorn with the project's settings, pages of {PAGE_SIZE}; change feed "
        f"pages of {FEED_PAGE_SIZE}, seeding having made one change per note).\n\n"
        f"Machine: {machine()}. The machine is shared with other work (its load was not controlled), and "
        "PostgreSQL, gunicorn and the client share its cores: figures are indicative.\n\n"
        f"{table}\n\n"
        "With the default seed and a million notes, `meeting` is in 93,213 notes, `the` in 990,519, `東京` "
        "in 4,905 and the rare word in a handful. A search ranks at most the 1,000 newest matching notes "
        "(NOTES_SEARCH_WINDOW), each by the words' occurrences in it alone (SQLite) or ts_rank (PostgreSQL). "
        'See README, "Finding notes".\n',
    )


if __name__ == "__main__":
    main()

"""Memory: a gunicorn worker's RSS across 100,000 requests stays flat (under 10% growth).

    python bench/memory.py [--requests 100000] [--database-url postgres://...]

One gunicorn worker of the production configuration (gthread, DEBUG off,
token auth), with worker recycling off (GUNICORN_MAX_REQUESTS=0) so the same
process serves every request. Eight kept-alive connections send a mix of GET
one note, GET a page of 50, POST and PATCH in batches; the worker's resident set size
(/proc/PID/status VmRSS) is read before the first request, after a warm-up
(caches, lazy imports, connections) and after every batch. Growth is judged
from the warm-up to the end. Writes the memory section of bench/RESULTS.md
and exits non-zero when growth reaches 10%.
"""

import argparse
import datetime
import http.client
import itertools
import json
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench.results import write_section  # noqa: E402
from notesite.tests.servers import Server, manage, seed_users, server_env  # noqa: E402

LIMIT_PERCENT = 10

CONNECTIONS = 8


SEED_NOTES = """
import sys
from accounts.models import User
from notes.services import note_create
user = User.objects.get(username=sys.argv[1])
print("IDS", " ".join(str(note_create(owner=user, title=f"Note {n}", content="memory " * 50).pk) for n in range(100)))
"""


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Load:
    """A mix of GET one note, GET a page of 50, POST and PATCH, from CONNECTIONS kept-alive connections."""

    def __init__(self, server, token, ids):
        self.address = server.url.removeprefix("http://").split(":")
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.ids = ids
        self.counter = itertools.count()

    def request(self, connection):
        n = next(self.counter)
        note = self.ids[n % len(self.ids)]
        kind = n % 4
        if kind == 0:
            connection.request("GET", f"/api/notes/{note}/", headers=self.headers)
        elif kind == 1:
            connection.request("GET", "/api/notes/?limit=50", headers=self.headers)
        elif kind == 2:
            body = {"title": f"Memory {n}", "content": "written by the memory benchmark", "tags": ["bench"]}
            connection.request("POST", "/api/notes/", json.dumps(body), headers=self.headers)
        else:
            connection.request("PATCH", f"/api/notes/{note}/", json.dumps({"title": f"Patched {n}"}), self.headers)
        response = connection.getresponse()
        response.read()
        return response.status

    def run(self, requests):
        """Send `requests` requests; answer how many were not 2xx."""

        def worker(count):
            connection = http.client.HTTPConnection(self.address[0], int(self.address[1]), timeout=60)
            try:
                return sum(1 for _ in range(count) if not 200 <= self.request(connection) < 300)
            finally:
                connection.close()

        shares = [requests // CONNECTIONS + (n < requests % CONNECTIONS) for n in range(CONNECTIONS)]
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            return sum(pool.map(worker, shares))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="notes-memory-"))
    overrides = {"WEB_CONCURRENCY": 1, "GUNICORN_MAX_REQUESTS": 0}
    if args.database_url:
        overrides["DATABASE_URL"] = args.database_url
    env = server_env(workdir, **overrides)
    manage(env, "migrate", "--noinput", "-v", "0")
    user = seed_users(env, 1, prefix="memory")[0]
    seeded = subprocess.run(
        [sys.executable, "-c", "import sys, django; django.setup(); exec(sys.stdin.read())", user["username"]],
        input=SEED_NOTES,
        cwd=BENCH_DIR.parent,
        env={**env, "DJANGO_SETTINGS_MODULE": "notesite.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    ids = next(line for line in seeded.stdout.splitlines() if line.startswith("IDS ")).split()[1:]
    samples, failures = [], 0
    with Server(env) as server:
        (worker,) = server.worker_pids()
        samples.append(("before the first request", 0, rss_kib(worker)))
        load = Load(server, user["token"], ids)
        failures += load.run(args.warmup)
        served = args.warmup
        samples.append(("after the warm-up", served, rss_kib(worker)))
        per_batch = args.requests // args.batches
        for batch in range(args.batches):
            failures += load.run(per_batch)
            served += per_batch
            samples.append((f"batch {batch + 1}", served, rss_kib(worker)))
            print(f"{served:>7} requests  RSS {samples[-1][2] / 1024:7.1f} MiB", flush=True)
        assert server.worker_pids() == [worker], "the worker was replaced during the run"

    warm, final = samples[1][2], samples[-1][2]
    growth = (final - warm) / warm * 100
    database = "PostgreSQL" if args.database_url else "SQLite"
    table = "\n".join(
        ["| point | requests served | RSS (MiB) |", "|---|---:|---:|"]
        + [f"| {name} | {count:,} | {kib / 1024:.1f} |" for name, count, kib in samples]
    )
    summary = (
        f"{served - samples[1][1]:,} requests after a warm-up of {samples[1][1]:,}, {failures} failed: RSS "
        f"{warm / 1024:.1f} MiB after the warm-up, {final / 1024:.1f} MiB at the end, growth {growth:+.1f}% "
        f"(limit {LIMIT_PERCENT}%)."
    )
    print(f"\n{table}\n\n{summary}")
    write_results(args, database, table, summary)
    if failures or growth >= LIMIT_PERCENT:
        sys.exit(1)


def write_results(args, database, table, summary):
    text = textwrap.dedent(
        f"""\
        ## Memory of a worker

        Measured {datetime.date.today().isoformat()} by `make bench-memory` (`python bench/memory.py
        --requests {args.requests}`), on {database}: one gunicorn worker (gthread, 4 threads, recycling off),
        {CONNECTIONS} kept-alive connections sending GET one note, GET a page of 50, POST and PATCH in turn.

        {{table}}

        {{summary}}
        """
    )
    write_section("memory", text.replace("{table}", table).replace("{summary}", summary), args.results)


if __name__ == "__main__":
    main()

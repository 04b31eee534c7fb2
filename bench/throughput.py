"""Throughput per core: the service against the tutorial's app and a bare WSGI ceiling.

    python bench/throughput.py [--duration 10] [--rounds 3] [--databases sqlite,postgresql]
                               [--instances-duration 10] [--instances-only]

Every server is pinned to core 0 with taskset and wrk to core 1. The service
runs its production configuration (gunicorn with notesite.gunicorn, DEBUG
off, token auth, If-Match-capable ETags, revisions and the search index as
they are); the tutorial's FastAPI + sqlite3 app runs under uvicorn exactly as
the tutorial says; the bare WSGI app answers fixed notes under the service's
own gunicorn configuration. Runs are interleaved (A B C A B C) so drift on a
shared machine hits every contender alike. Prints a table of ratios, writes
bench/RESULTS.md and draws bench/throughput.png.

Then, on PostgreSQL, one instance against two (and against one opening a
connection per request), unpinned, sharing the database and Redis: the
"instances" section of bench/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import platform
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.results import write_section

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
PYTHON = sys.executable
SERVER_CORE, LOAD_CORE, ALL_CORES = "0", "1", "0,1"
SEED_NOTES = 1000
PG_BENCH_URL = "postgres://postgres@127.0.0.1:5432/notes_bench"

SEED_SCRIPT = """
import sys
from accounts.models import AuthToken, User
from notes.services import note_create
user = User.objects.create_user("bench", password="bench-password-42")
words = "alpha bravo charlie delta echo foxtrot golf hotel india juliett".split()
ids = [note_create(owner=user, title=f"Note {i} {words[i % 10]}", content=" ".join(words) * 3,
                   tags=["bench", words[i % 10]]).pk for i in range(int(sys.argv[1]))]
_, token = AuthToken.objects.create(user=user, expiry=None)
print(token, ids[0], ids[-1])
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Target:
    """A server under test: how to start it and which request each scenario sends."""

    def __init__(self, name, command, env, cwd, health_path, cores=SERVER_CORE):
        self.name, self.command, self.env, self.cwd, self.health_path = name, command, env, cwd, health_path
        self.cores = cores
        self.port = free_port()
        self.process = None
        self.requests = {}

    def replica(self, name, cores, **env):
        """Another instance of the same server, on its own port, sharing the database."""
        twin = Target(name, self.command, {**self.env, **env}, self.cwd, self.health_path, cores)
        twin.requests = self.requests
        return twin

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        command = ["taskset", "-c", self.cores, *[part.format(port=self.port) for part in self.command]]
        self.log = open(Path(self.env.get("BENCH_LOG_DIR", tempfile.gettempdir())) / f"{self.name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until_up(self.base + self.health_path, self.process)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


RUN_SECRET_KEY = secrets.token_urlsafe(50)


def service_env(data_dir, database_url=None, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTES_", "DATABASE_URL", "REDIS_URL"))}
    env.update(NOTES_DATA_DIR=str(data_dir), DEBUG="false", PYTHONPATH=str(BASE_DIR))
    if database_url:
        env["DATABASE_URL"] = database_url
        # Required on PostgreSQL; one for every instance of the run, as in production.
        env.setdefault("SECRET_KEY", RUN_SECRET_KEY)
    env.update(extra)
    return env


def prepare_service(name, workdir, database_url=None):
    data_dir = workdir / name
    data_dir.mkdir()
    env = service_env(data_dir, database_url, BENCH_LOG_DIR=str(workdir))
    if database_url:
        reset_postgres_database(database_url)
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=BASE_DIR, env=env, check=True, capture_output=True)
    subprocess.run([*manage, "collectstatic", "--noinput"], cwd=BASE_DIR, env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [PYTHON, "-c", "import django; django.setup(); exec(open(0).read())", str(SEED_NOTES)],
        input=SEED_SCRIPT,
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "notesite.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    token, first_id, last_id = seeded.stdout.split()[-3:]
    target = Target(
        name,
        [PYTHON, "-m", "gunicorn", "--config", "python:notesite.gunicorn", "--bind", "127.0.0.1:{port}"],
        {**env, "GUNICORN_MAX_REQUESTS": "0"},
        BASE_DIR,
        "/readyz",
    )
    auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    ids = list(range(int(first_id), int(last_id) + 1))
    target.requests = {
        "GET one note": ("GET", [f"/api/notes/{i}/" for i in ids[:100]], auth, None),
        "GET a page of 50": ("GET", ["/api/notes/?limit=50"], auth, None),
        "POST": (
            "POST",
            ["/api/notes/"],
            auth,
            '{"title": "Benchmark note", "content": "written by wrk", "tags": ["wrk"]}',
        ),
        "PATCH": ("PATCH", [f"/api/notes/{i}/" for i in ids[:100]], auth, '{"title": "Patched TITLE_SEQ"}'),
        "search": ("GET", ["/api/notes/?search=delta&limit=50"], auth, None),
    }
    return target


def reset_postgres_database(url):
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare_tutorial(workdir):
    app_dir = workdir / "tutorial"
    shutil.copytree(BENCH_DIR / "peers" / "tutorial", app_dir)
    env = {**os.environ, "BENCH_LOG_DIR": str(workdir)}
    target = Target(
        "tutorial",
        [str(Path(PYTHON).parent / "uvicorn"), "main:app", "--host", "127.0.0.1", "--port", "{port}"],
        env,
        app_dir,
        "/notes/1",
    )
    subprocess.run([PYTHON, "-c", "from db import init_db; init_db()"], cwd=app_dir, check=True)
    with sqlite3.connect(app_dir / "notes.db") as conn:
        conn.executemany(
            "INSERT INTO notes (title, content, pinned) VALUES (?, ?, 0)",
            [(f"Note {i}", "alpha bravo charlie delta echo " * 6) for i in range(SEED_NOTES)],
        )
    json_header = {"Content-Type": "application/json"}
    target.requests = {
        "GET one note": ("GET", [f"/notes/{i}" for i in range(1, 101)], {}, None),
        "POST": ("POST", ["/notes"], json_header, '{"title": "Benchmark note", "content": "written by wrk"}'),
        "PATCH": (
            "PUT",
            [f"/notes/{i}" for i in range(1, 101)],
            json_header,
            '{"title": "Patched TITLE_SEQ", "content": "written by wrk", "pinned": false}',
        ),
    }
    return target


def prepare_ceiling(workdir):
    env = service_env(workdir / "ceiling-data", BENCH_LOG_DIR=str(workdir))
    (workdir / "ceiling-data").mkdir()
    target = Target(
        "ceiling",
        [
            PYTHON,
            "-m",
            "gunicorn",
            "--config",
            "python:notesite.gunicorn",
            "--bind",
            "127.0.0.1:{port}",
            "bench.peers.bare_wsgi:application",
        ],
        env,
        BASE_DIR,
        "/api/notes/1/",
    )
    json_header = {"Content-Type": "application/json"}
    target.requests = {
        "GET one note": ("GET", ["/api/notes/1/"], {}, None),
        "GET a page of 50": ("GET", ["/api/notes/"], {}, None),
        "POST": ("POST", ["/api/notes/"], json_header, '{"title": "Benchmark note"}'),
        "PATCH": ("PATCH", ["/api/notes/1/"], json_header, '{"title": "Patched"}'),
        "search": ("GET", ["/api/notes/"], {}, None),
    }
    return target


WRK_SCRIPT = """
local paths = {paths}
local headers = {headers}
local body = {body}
local counter = 0
request = function()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local b = body
  if b then b = string.gsub(b, "TITLE_SEQ", tostring(counter)) end
  return wrk.format("{method}", path, headers, b)
end
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nBENCH_JSON {{"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "non_2xx": %d, "errors": %d}}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def lua_string(value):
    return "nil" if value is None else json.dumps(value)


def run_wrk(target, scenario, duration, connections, workdir, cores=LOAD_CORE):
    return parse_wrk(start_wrk(target, scenario, duration, connections, workdir, cores))


def start_wrk(target, scenario, duration, connections, workdir, cores=LOAD_CORE):
    method, paths, headers, body = target.requests[scenario]
    script = workdir / f"wrk-{target.name}.lua"
    script.write_text(
        WRK_SCRIPT.format(
            paths="{" + ", ".join(lua_string(p) for p in paths) + "}",
            headers="{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()) + "}",
            body=lua_string(body),
            method=method,
        )
    )
    command = ["taskset", "-c", cores, "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script)]
    return subprocess.Popen([*command, target.base], stdout=subprocess.PIPE, text=True)


def parse_wrk(process):
    stdout, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"wrk exited with {process.returncode}")
    line = next(line for line in stdout.splitlines() if line.startswith("BENCH_JSON "))
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


def summarise(runs):
    # The median round, not the mean: on a shared machine one round in a run
    # can lose a third of its rate to a neighbour.
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
    }


def machine_description():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def ratio(value, reference):
    return f"{value / reference:.2f}x" if reference else "n/a"


def render_table(results, targets, scenarios):
    lines = [
        "| scenario | server | req/s | p50 ms | p99 ms | non-2xx | vs tutorial | vs ceiling |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        tutorial = results.get(("tutorial", scenario))
        ceiling = results.get(("ceiling", scenario))
        for name in targets:
            figures = results.get((name, scenario))
            if figures is None:
                continue
            lines.append(
                f"| {scenario} | {name} | {figures['rps']:.0f} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} | "
                f"{figures['non_2xx'] + figures['errors']} | "
                f"{ratio(figures['rps'], tutorial['rps']) if tutorial and name.startswith('service') else ''} | "
                f"{ratio(figures['rps'], ceiling['rps']) if ceiling and name != 'ceiling' else ''} |"
            )
    return "\n".join(lines)


def draw_chart(results, targets, scenarios, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / len(targets)
    for index, name in enumerate(targets):
        values = [results.get((name, s), {}).get("rps", 0) for s in scenarios]
        positions = [i + index * width for i in range(len(scenarios))]
        ax.bar(positions, values, width, label=name)
    ax.set_xticks([i + width * (len(targets) - 1) / 2 for i in range(len(scenarios))], scenarios)
    ax.set_ylabel("requests per second (one core)")
    ax.set_title("Throughput per core: the service, the tutorial app, a bare WSGI app")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--instances-duration", type=int, default=10, help="seconds per run of one vs two instances (0: skip)"
    )
    parser.add_argument("--instances-only", action="store_true", help="only one instance against two")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md")
    parser.add_argument("--chart", type=Path, default=BENCH_DIR / "throughput.png")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="notes-bench-"))
    services = []
    for database in ["postgresql"] if args.instances_only else args.databases.split(","):
        url = PG_BENCH_URL if database == "postgresql" else None
        services.append(prepare_service(f"service-{database}", workdir, url))
    if not args.instances_only:
        compare_per_core(services, args, workdir)

    postgres = next((target for target in services if target.name == "service-postgresql"), None)
    if postgres is not None and args.instances_duration:
        instances_table = compare_instances(postgres, args, workdir)
        print("\n" + instances_table)
        write_instances_results(args, instances_table)
    shutil.rmtree(workdir, ignore_errors=True)


def run_interleaved(contenders, scenarios, args, workdir):
    """Start the contenders, run each scenario on each in turn for args.rounds rounds, stop them.

    Returns {(contender name, scenario): [wrk figures of each round]}.
    """
    runs = {}
    try:
        for target in contenders:
            target.start()
        for round_number in range(args.rounds):
            for scenario in scenarios:
                for target in contenders:
                    if scenario not in target.requests:
                        continue
                    figures = run_wrk(target, scenario, args.duration, args.connections, workdir)
                    runs.setdefault((target.name, scenario), []).append(figures)
                    print(
                        f"round {round_number + 1} {scenario:18} {target.name:18} {figures['rps']:8.0f} req/s "
                        f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
                        f"non-2xx {figures['non_2xx'] + figures['errors']}",
                        flush=True,
                    )
    finally:
        for target in contenders:
            target.stop()
    return runs


def compare_per_core(services, args, workdir):
    scenarios = ["GET one note", "GET a page of 50", "POST", "PATCH", "search"]
    contenders = [*services, prepare_tutorial(workdir), prepare_ceiling(workdir)]
    runs = run_interleaved(contenders, scenarios, args, workdir)
    results = {key: summarise(value) for key, value in runs.items()}
    names = [target.name for target in contenders]
    table = render_table(results, names, scenarios)
    print("\n" + table)
    draw_chart(results, names, scenarios, args.chart)
    write_results(args, table)


INSTANCE_SCENARIOS = ["GET one note", "PATCH"]


def compare_instances(postgres, args, workdir):
    """One instance against two on the same PostgreSQL and Redis, neither pinned.

    Each instance is the production gunicorn (WEB_CONCURRENCY workers) on its
    own port; with two, each gets its own wrk with half the connections, run
    at the same time, and their requests are added up.
    """
    shared = {"REDIS_URL": "redis://127.0.0.1:6379/14"}
    configurations = {
        "one instance": [postgres.replica("one instance", ALL_CORES, **shared)],
        "two instances": [postgres.replica(f"instance {n}", ALL_CORES, **shared) for n in (1, 2)],
        # What giving up persistent connections costs (docs/deploy.md, "Database connections").
        "one instance, CONN_MAX_AGE=0": [postgres.replica("unpooled", ALL_CORES, CONN_MAX_AGE="0", **shared)],
    }
    runs = {}
    for instances in configurations.values():
        for target in instances:
            target.start()
    try:
        for round_number in range(args.rounds):
            for scenario in INSTANCE_SCENARIOS:
                for label, instances in configurations.items():
                    connections = max(1, args.connections // len(instances))
                    loads = [
                        start_wrk(target, scenario, args.instances_duration, connections, workdir, ALL_CORES)
                        for target in instances
                    ]
                    parts = [parse_wrk(load) for load in loads]
                    figures = {
                        "rps": sum(part["rps"] for part in parts),
                        "p50_ms": statistics.median(part["p50_ms"] for part in parts),
                        "p99_ms": max(part["p99_ms"] for part in parts),
                        "non_2xx": sum(part["non_2xx"] for part in parts),
                        "errors": sum(part["errors"] for part in parts),
                    }
                    runs.setdefault((label, scenario), []).append(figures)
                    print(
                        f"round {round_number + 1} {scenario:18} {label:18} {figures['rps']:8.0f} req/s "
                        f"p50 {figures['p50_ms']:6.2f} ms  non-2xx {figures['non_2xx']}",
                        flush=True,
                    )
    finally:
        for instances in configurations.values():
            for target in instances:
                target.stop()
    results = {key: summarise(value) for key, value in runs.items()}
    lines = [
        "| scenario | instances | req/s | p50 ms | p99 ms | non-2xx | vs one instance |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario in INSTANCE_SCENARIOS:
        single = results[("one instance", scenario)]
        for label in configurations:
            figures = results[(label, scenario)]
            lines.append(
                f"| {scenario} | {label} | {figures['rps']:.0f} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} | "
                f"{figures['non_2xx'] + figures['errors']} | "
                f"{ratio(figures['rps'], single['rps']) if label != 'one instance' else ''} |"
            )
    return "\n".join(lines)


def write_instances_results(args, table):
    text = textwrap.dedent(
        f"""\
        ## One instance or two on one PostgreSQL

        Measured {datetime.date.today().isoformat()} on {machine_description()}, by `make bench`
        (`--instances-duration {args.instances_duration} --rounds {args.rounds} --connections
        {args.connections}`): the production gunicorn ({os.environ.get("WEB_CONCURRENCY", "2")} workers per
        instance) against one PostgreSQL database and one Redis (the shared cache), 1,000 seeded notes; one
        instance with one wrk, or two instances on their own ports with one wrk each and half the
        connections, run at the same time and added up; and one instance opening a database
        connection per request (`CONN_MAX_AGE=0`, as behind PgBouncer without persistent
        connections); rounds interleaved.

        {{table}}

        The caveat: this machine has 2 cores, shared by PostgreSQL, Redis, wrk and every worker of
        every instance, so a second instance cannot add CPU here; what the figures show is that
        instances share the database and the cache without getting in each other's way (no errors;
        reads differ from run to run by the noise of a shared machine). Writes wait on
        PostgreSQL's commits more than on the CPU, so a second instance's threads overlap more of
        those waits. On machines of their own, instances add
        what their cores add until PostgreSQL's own CPU or its connection limit is reached
        (docs/deploy.md). Opening a connection per request is what persistent connections save.
        """
    )
    write_section("instances", text.replace("{table}", table), args.results)


def write_results(args, table):
    text = textwrap.dedent(
        f"""\
        ## Throughput per core

        Measured {datetime.date.today().isoformat()} on {machine_description()}, by `make bench`
        (`python bench/throughput.py --duration {args.duration} --rounds {args.rounds}
        --connections {args.connections}`): each server pinned to core {SERVER_CORE}, wrk to core {LOAD_CORE},
        {args.connections} connections, {args.rounds} interleaved rounds of {args.duration} s; req/s, p50 and p99
        are each the median of the rounds. PostgreSQL runs unpinned and shares both cores.

        {{table}}

        ![throughput per core](throughput.png)
        """
    )
    write_section("throughput", text.replace("{table}", table), args.results)


if __name__ == "__main__":
    main()

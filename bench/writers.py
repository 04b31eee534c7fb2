"""Writers on SQLite: Django's own backend against the project's, which queues a process's writers.

    python bench/writers.py [--duration 10] [--rounds 3]

Both run the production gunicorn pinned to core 0 (wrk on core 1) over the
same seeded database layout, interleaved (A B A B), for POST and PATCH, the
requests that take SQLite's write lock. Django's backend waits for the lock
in SQLite's busy handler, which sleeps 1, 2, 5, 10 ... 100 ms between
tries; the project's (notesite/sqlite) first queues on a lock of the
process that hands over at once. Writes the "writers" section of
bench/RESULTS.md.
"""

import argparse
import datetime
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.results import write_section
from bench.throughput import machine_description, prepare_service, run_interleaved, summarise

SCENARIOS = ["POST", "PATCH"]
# The same settings with Django's SQLite backend in place of notesite.sqlite.
DJANGO_BACKEND_SETTINGS = "bench.settings_django_sqlite"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="notes-writers-"))
    django_backend = prepare_service("Django's backend", workdir)
    django_backend.env["DJANGO_SETTINGS_MODULE"] = DJANGO_BACKEND_SETTINGS
    queued = prepare_service("writers queued", workdir)
    contenders = [django_backend, queued]

    runs = run_interleaved(contenders, SCENARIOS, args, workdir)

    lines = [
        "| scenario | backend | req/s | p50 ms | p99 ms | worst p99 ms | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        for target in contenders:
            rounds = runs[(target.name, scenario)]
            figures = summarise(rounds)
            lines.append(
                f"| {scenario} | {target.name} | {figures['rps']:.0f} | {figures['p50_ms']:.2f} | "
                f"{figures['p99_ms']:.2f} | {max(r['p99_ms'] for r in rounds):.2f} | "
                f"{figures['non_2xx'] + figures['errors']} |"
            )
    table = "\n".join(lines)
    print("\n" + table)
    write_section(
        "writers",
        f"## Writers on SQLite\n\nMeasured {datetime.date.today().isoformat()} on {machine_description()}, by "
        f"`python bench/writers.py --duration {args.duration} --rounds {args.rounds}`: the production gunicorn "
        f"(2 workers of 4 threads) pinned to one core, wrk to the other, {args.connections} connections, "
        f"{args.rounds} interleaved rounds; req/s, p50 and p99 are each the median of the rounds.\n\n"
        "Django's SQLite backend leaves a writer that finds the write lock taken to SQLite's busy handler, "
        "which sleeps 1, 2, 5, 10 ... 100 ms between tries; the project's backend (`notesite/sqlite`) first "
        "queues the writers of a process on a lock that hands over the moment the previous one commits.\n\n"
        f"{table}\n",
    )


if __name__ == "__main__":
    main()

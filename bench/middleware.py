"""What each middleware costs a request: GET one note with each one left out in turn.

    python bench/middleware.py [--rounds 9] [--requests 600]

Every variant is a WSGI handler built from settings.MIDDLEWARE minus one
entry (and one with none), all in one process on one seeded SQLite
database, timed in interleaved rounds; each variant's difference from the whole chain
in the same round, and its median over the rounds, is what counts. The
request log writes to /dev/null. Leaving a middleware out changes what the
request does (no security headers, no request log line), so this says what
each one costs, not that any could go. Writes the "middleware" section of
bench/RESULTS.md.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.instructions import get_environ, seeded_environment  # noqa: E402
from bench.results import write_section  # noqa: E402
from bench.throughput import machine_description  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()

    env, token = seeded_environment("notes-middleware-")
    os.environ.update(env)

    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from notes.models import Note

    devnull = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)
    for handler in logging.getLogger().handlers:
        handler.setStream(devnull)
    note_id = Note.objects.order_by("-id").values_list("id", flat=True)[0]

    def build(middleware):
        settings.MIDDLEWARE = middleware
        return WSGIHandler()

    def run(app, count):
        for _ in range(count):
            environ = get_environ(f"/api/notes/{note_id}/", token)
            statuses = []
            b"".join(app(environ, lambda status, headers, seen=statuses: seen.append(status)))
            assert statuses[0].startswith("200"), statuses

    full = list(settings.MIDDLEWARE)
    variants = {"all of them": build(full)}
    for name in full:
        variants[f"without {name.rsplit('.', 1)[1]}"] = build([entry for entry in full if entry != name])
    variants["none"] = build([])
    rounds = {label: [] for label in variants}
    for app in variants.values():
        run(app, 200)  # warm up
    for _ in range(args.rounds):
        for label, app in variants.items():
            started = time.perf_counter()
            run(app, args.requests)
            rounds[label].append((time.perf_counter() - started) / args.requests * 1e6)
    # Each variant against the full chain timed in the same round: the machine's drift cancels.
    rows = []
    for label, times in rounds.items():
        differences = [us - base for us, base in zip(times, rounds["all of them"], strict=True)]
        rows.append(f"| {label} | {statistics.median(times):.0f} | {statistics.median(differences):+.0f} |")
    text = (
        "## What each middleware costs\n\n"
        f"Measured {date.today().isoformat()} on {machine_description()}, by `python bench/middleware.py` "
        f"({args.rounds} interleaved rounds of {args.requests} x GET one note through the WSGI handler, "
        "in-process, medians; the request log written to /dev/null). Each row leaves one middleware "
        "out; the difference is what it costs a request with the others around it. Differences of "
        "about 10 us either way are within the spread between runs.\n\n"
        "| middleware | us per request | vs all of them, same round |\n|---|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    print(text)
    write_section("middleware", text)


if __name__ == "__main__":
    main()

"""What each layer under GET one note costs, served: the floor of a Django + DRF request.

    python bench/floor.py [--duration 5] [--rounds 3]

One gunicorn (the production configuration, SQLite, pinned to core 0 with
wrk on core 1, as in bench/throughput.py) answers `{}` at each layer a
note's request goes through (bench/floor/urls.py): a health check (the
WSGI handler and the middleware up to the health check's), a plain Django view under the whole
middleware chain, a DRF view, a DRF view with the token authentication,
permission and throttle every API request has, and then GET one note
itself. The tutorial's app and the ceiling run interleaved with it, for
scale. What a layer costs is the difference in microseconds per request
between a row and the one above it. Writes the "floor" section of
bench/RESULTS.md.
"""

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.results import write_section  # noqa: E402
from bench.throughput import (  # noqa: E402
    machine_description,
    prepare_ceiling,
    prepare_service,
    prepare_tutorial,
    run_interleaved,
    summarise,
)

LAYERS = [
    ("health check (handler, middleware up to it)", "/healthz"),
    ("+ whole middleware chain, URL routing, a Django view", "/api/floor/django/"),
    ("+ a DRF view (request, negotiation, rendering)", "/api/floor/drf/"),
    ("+ token authentication, permission, throttle", "/api/floor/drf-token/"),
    ("+ the note looked up and written: GET one note", None),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="notes-floor-"))
    service = prepare_service("service-sqlite", workdir)
    service.env["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"
    method, note_paths, headers, _ = service.requests["GET one note"]
    service.requests = {label: (method, [path] if path else note_paths, headers, None) for label, path in LAYERS}
    tutorial, ceiling = prepare_tutorial(workdir), prepare_ceiling(workdir)

    scenarios = [label for label, _ in LAYERS] + ["GET one note"]
    runs = run_interleaved([service, tutorial, ceiling], scenarios, args, workdir)

    def rate(name, scenario):
        figures = summarise(runs[(name, scenario)])
        if figures["non_2xx"] or figures["errors"]:
            raise RuntimeError(f"{name} answered {scenario} with errors: {runs[(name, scenario)]}")
        return figures["rps"]

    tutorial_rate = rate("tutorial", "GET one note")
    rows, previous = [], None
    for label, _ in LAYERS:
        rps = rate("service-sqlite", label)
        micros = 1e6 / rps
        added = f"{micros - previous:+.0f}" if previous is not None else ""
        rows.append(f"| {label} | {rps:,.0f} | {micros:.0f} | {added} | {rps / tutorial_rate:.2f}x |")
        previous = micros
    for name, label in [("tutorial", "tutorial's app, GET one note"), ("ceiling", "ceiling (bare WSGI app)")]:
        rps = rate(name, "GET one note")
        rows.append(f"| {label} | {rps:,.0f} | {1e6 / rps:.0f} | | {rps / tutorial_rate:.2f}x |")
    text = (
        "## The floor of a request, served\n\n"
        f"Measured {date.today().isoformat()} on {machine_description()}, by `python bench/floor.py` "
        f"({args.rounds} interleaved rounds of {args.duration} s, {args.connections} connections; "
        "one gunicorn with the production configuration on SQLite pinned to one core, wrk on the "
        "other; req/s is the median of the rounds). Each row adds one layer of what GET one note goes "
        "through; us per request is the core's time per answer (1 / req/s), the difference what "
        "that layer adds.\n\n"
        "| layer | req/s | us per request | added | vs tutorial |\n|---|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n"
    )
    print("\n" + text)
    write_section("floor", text)


if __name__ == "__main__":
    main()

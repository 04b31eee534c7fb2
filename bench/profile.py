"""Where the time of one request goes: a pyinstrument profile of GET one note.

    python bench/profile.py [--requests 2000] [--path /api/notes/{id}/]

The request goes straight into the WSGI handler (as gunicorn calls it, minus
the socket), many times, so the profile shows the service's own work.
Writes the "profile" section of bench/RESULTS.md.
"""

import argparse
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

from bench.instructions import get_environ, seeded_environment  # noqa: E402
from bench.results import write_section  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--path", default="/api/notes/{id}/")
    args = parser.parse_args()

    env, token = seeded_environment("notes-profile-")
    os.environ.update(env)

    import django

    django.setup()
    import logging

    from django.core.handlers.wsgi import WSGIHandler
    from pyinstrument import Profiler

    from notes.models import Note

    logging.disable(logging.CRITICAL)
    app = WSGIHandler()
    path = args.path.replace("{id}", str(Note.objects.order_by("-id").values_list("id", flat=True)[0]))

    def request():
        environ = get_environ(path, token)
        b"".join(app(environ, lambda status, headers: None))

    for _ in range(50):
        request()
    profiler = Profiler(interval=0.0001)
    with profiler:
        for _ in range(args.requests):
            request()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    print(text)
    write_section(
        "profile",
        f"## Where the time of one request goes\n\n`python bench/profile.py` ({args.requests} x GET "
        f"`{args.path}` through the WSGI handler, pyinstrument, frames under 1% hidden):\n\n```\n"
        + "\n".join(line for line in text.splitlines() if line.strip())
        + "\n```\n",
    )


if __name__ == "__main__":
    main()

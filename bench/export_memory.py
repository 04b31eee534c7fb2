"""Memory of a streamed export of many notes (SPEC 3: 100,000 notes must not blow up a worker).

    .venv/bin/python bench/export_memory.py [--notes 100000]

Seeds the notes on a fresh SQLite database in a temporary data folder, then
downloads both exports through Django's request handling, reporting the
export's size and the peak of Python memory while streaming it (tracemalloc:
the worker's own heap; RSS would also count the SQLite file's pages mapped
by `mmap_size`, which the kernel shares and reclaims).
"""

import argparse
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=100_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.pop("DATABASE_URL", None)
        os.environ.update(NOTES_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="notesite.settings", LOG_LEVEL="WARNING")
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from accounts.models import User
        from notes.services import note_create_many

        call_command("migrate", verbosity=0)
        owner = User.objects.create_user("bench", password="bench-password-1234")
        body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 16  # about 1 kB
        for start in range(0, arguments.notes, 5000):
            batch = range(start, min(start + 5000, arguments.notes))
            note_create_many(
                owner=owner, notes=[{"title": f"Note {n}", "content": body, "tags": ["bench"]} for n in batch]
            )

        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(owner)
        print(f"{arguments.notes} notes")
        for export_format in ["json", "markdown"]:
            tracemalloc.start()
            size = sum(len(chunk) for chunk in client.get("/api/export/", {"format": export_format}).streaming_content)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"{export_format:>8}: {size / 2**20:6.1f} MiB exported; "
                f"peak Python memory while streaming {peak / 2**20:5.1f} MiB"
                f" ({peak / arguments.notes:.0f} bytes a note)"
            )


if __name__ == "__main__":
    main()

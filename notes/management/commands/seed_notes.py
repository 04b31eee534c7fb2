"""Create many realistic notes for one user, fast: `seed_notes --user NAME --count N`."""

import itertools
import queue
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from notes.bulk import default_writers
from notes.seeding import NoteTextGenerator
from notes.services import note_create_many


class Command(BaseCommand):
    help = "Create N realistic notes for a user (bulk inserts; the search index follows)."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username of the owner; created if missing.")
        parser.add_argument("--count", type=int, required=True, help="How many notes to create.")
        parser.add_argument("--seed", type=int, default=0, help="Random seed (the same seed makes the same notes).")
        parser.add_argument("--batch-size", type=int, default=5000, help="Notes per transaction.")
        parser.add_argument(
            "--writers",
            type=int,
            help="Batches written at once, each on its own connection "
            "(default: as many as the database takes at once and this machine has cores for).",
        )

    def handle(self, *args, user, count, seed, batch_size, writers, **options):
        if count < 1:
            raise CommandError("--count must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if writers is not None and writers < 1:
            raise CommandError("--writers must be at least 1.")
        writers = writers or default_writers(connection)
        owner = get_user_model().objects.with_username(user).first()  # in any case, as at login
        if owner is None:
            owner = get_user_model()(username=user)
            owner.set_unusable_password()
            try:
                owner.full_clean()  # the name's rules, as registration and the admin check them
            except ValidationError as invalid:
                raise CommandError(f"Cannot create user {user!r}: {' '.join(invalid.messages)}") from None
            owner.save()
            self.stdout.write(f"Created user {user!r} (no password: set one with changepassword).")

        progress = ProgressBar(count, stream=self.stderr)
        batches = generated_batches(NoteTextGenerator(seed=seed, count=count).notes(), batch_size)
        # One transaction per batch: a running server's writers wait for one
        # batch at most, never for the whole seeding.
        if writers == 1:
            done = 0
            for batch in batches:
                note_create_many(owner=owner, notes=batch, batch_size=len(batch))
                done += len(batch)
                progress.update(done)
        else:
            write_in_parallel(batches, owner=owner, writers=writers, progress=progress)
        progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Created {count:,} notes for {user!r} in {progress.elapsed():.1f} s."))


def write_in_parallel(batches, *, owner, writers, progress):
    """Write batches on `writers` threads, each with its own database connection."""

    def write(batch):
        try:
            note_create_many(owner=owner, notes=batch, batch_size=len(batch))
        finally:
            connection.close()  # this thread's connection
        return len(batch)

    done = 0
    with ThreadPoolExecutor(max_workers=writers) as pool:
        pending = set()
        for batch in batches:
            pending.add(pool.submit(write, batch))
            if len(pending) >= writers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done += future.result()
                    progress.update(done)
        for future in pending:
            done += future.result()
            progress.update(done)


def generated_batches(notes, size):
    """Batches of `notes`, made by a second thread while the database writes the last one."""
    batches = queue.Queue(maxsize=2)

    def produce():
        try:
            iterator = iter(notes)
            while batch := list(itertools.islice(iterator, size)):
                batches.put(batch)
            batches.put(None)
        except BaseException as error:  # handed to the consumer, which raises it
            batches.put(error)

    threading.Thread(target=produce, daemon=True).start()
    while (batch := batches.get()) is not None:
        if isinstance(batch, BaseException):
            raise batch
        yield batch


class ProgressBar:
    """A one-line progress bar on a terminal; a line per 10% elsewhere (logs)."""

    width = 30

    def __init__(self, total, *, stream):
        self.total = total
        self.stream = stream
        self.started = time.monotonic()
        self.interactive = getattr(getattr(stream, "_out", stream), "isatty", lambda: False)()
        self.last_decile = -1

    def elapsed(self):
        return time.monotonic() - self.started

    def update(self, done):
        fraction = done / self.total
        filled = int(self.width * fraction)
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:4.0%} "
            f"{done:,}/{self.total:,} notes, {self.elapsed():.1f} s"
        )
        if self.interactive:
            self.stream.write(f"\r{line}", ending="")
            self.stream.flush()
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(line)

    def finish(self):
        if self.interactive:
            self.stream.write("")

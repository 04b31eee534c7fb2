"""A progress bar for management commands, without a dependency.

On a terminal it redraws one line; elsewhere (cron, a log) it stays quiet
until the summary line, so logs are not flooded with carriage returns.
"""

import time


class Progress:
    """`label [#######.............]  3500/10000  35%`, redrawn at most ten times a second."""

    width = 30
    interval = 0.1

    def __init__(self, stream, label, total):
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self.interactive = stream.isatty()
        self.drawn_at = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.finish()

    def advance(self, count=1):
        self.done += count
        if self.interactive and time.monotonic() - self.drawn_at >= self.interval:
            self.draw(ending="\r")

    def iterate(self, items):
        for item in items:
            yield item
            self.advance()

    def draw(self, ending):
        fraction = min(self.done / self.total, 1) if self.total else 1
        filled = round(fraction * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"{self.label} [{bar}] {self.done:>7}/{self.total}  {fraction:4.0%}", ending=ending)
        self.stream.flush()
        self.drawn_at = time.monotonic()

    def finish(self):
        self.draw(ending="\n")

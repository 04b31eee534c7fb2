"""bench/RESULTS.md is made of sections, one per benchmark, each rewritten by its own run."""

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\nEach section is written by the benchmark it names, with the date and machine it ran on.\n"
)


def write_section(name, text, path=RESULTS):
    """Put `text` between the `name` markers of `path`, replacing what was there."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    section = f"{start}\n{text.strip()}\n{end}\n"
    existing = path.read_text() if path.exists() else HEADER
    if start in existing:
        before, _, rest = existing.partition(start)
        _, _, after = rest.partition(end + "\n")
        existing = before + section + after
    else:
        existing = existing.rstrip("\n") + "\n\n" + section
    path.write_text(existing)

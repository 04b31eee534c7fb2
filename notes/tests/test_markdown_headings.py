"""The title an imported Markdown file without front matter takes: its first ATX heading."""

import pytest

from notes.transfer.markdown import first_heading


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ("# Title", "Title"),
        ("   ### Title", "Title"),
        ("## Shopping list ##", "Shopping list"),
        ("# Title #  \t", "Title"),
        ("# Title\t#", "Title"),
        ("# Title # #", "Title #"),
        ("# C#", "C#"),
        ("# ##", "##"),
        ("# Title\r\nbody", "Title"),
        ("Intro\n\n```\n# in a fence\n```\n# After the fence", "After the fence"),
        ("#Title", None),
        ("####### Seven", None),
        ("    # Indented four", None),
        ("no heading", None),
        # A line of many spaces: a lazy pattern backtracked quadratically on it (minutes for 100,000).
        ("# a" + " " * 100_000 + "b", "a" + " " * 100_000 + "b"),
        ("# a" + " " * 100_000 + "#", "a"),
    ],
)
def test_first_heading(body, title):
    assert first_heading(body) == title

"""The JSON formatter of the log: one line of JSON per record, even with values orjson refuses."""

import json
import logging

import pytest

from notesite.middleware import JSONFormatter


def record(**extra):
    entry = logging.LogRecord("notes.request", logging.INFO, __file__, 1, "request", (), None)
    entry.__dict__.update(extra)
    return entry


def test_a_record_is_one_line_of_json_with_its_extra_fields():
    line = JSONFormatter().format(record(method="GET", path="/api/notes/1/", status=200, title="Ünïcode ✓"))

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["logger"] == "notes.request"
    assert entry["level"] == "INFO"
    assert entry["message"] == "request"
    assert (entry["method"], entry["path"], entry["status"], entry["title"]) == (
        "GET",
        "/api/notes/1/",
        200,
        "Ünïcode ✓",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2**70, 2**70),  # beyond 64 bits: orjson refuses it without asking `default`
        ({1: "a"}, {"1": "a"}),  # a key that is not a string
        (object, str(object)),  # anything else is written as its str()
    ],
)
def test_a_value_json_cannot_hold_as_is_still_gives_a_line(value, expected):
    line = JSONFormatter().format(record(detail=value))

    assert json.loads(line)["detail"] == expected

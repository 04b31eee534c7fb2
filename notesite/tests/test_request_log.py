"""The JSON formatter of the log: one line of JSON per record, even with values orjson refuses."""

import json
import logging

import pytest

from notesite.logs import JSONFormatter


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


def test_a_line_of_djangos_about_a_link_leaves_its_token_out():
    # Django logs a 5xx as "Service Unavailable: <path>", with the request itself in the record.
    from django.test import RequestFactory

    from notesite.logs import PublicLinkTokenFilter

    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(each, PublicLinkTokenFilter) for each in handler.filters)
    )
    request = RequestFactory().get("/s/the-secret-token/attachments/1")
    entry = logging.LogRecord(
        "django.request", logging.ERROR, __file__, 1, "%s: %s", ("Service Unavailable", request.path), None
    )
    entry.request = request

    assert handler.filter(entry)
    line = json.loads(handler.format(entry))

    assert line["message"] == "Service Unavailable: /s/<token>/attachments/1"
    assert line["request"] == "GET /s/<token>/attachments/1"
    assert "the-secret-token" not in json.dumps(line)


@pytest.fixture
def log_lines():
    """What the log's handler writes, as parsed lines."""
    import io

    from notesite.logs import SuspiciousRequestFilter

    handler = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(each, SuspiciousRequestFilter) for each in handler.filters)
    )
    written = io.StringIO()
    kept = handler.setStream(written)
    try:
        yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    finally:
        handler.setStream(kept)


@pytest.mark.django_db
def test_a_request_django_refuses_as_suspicious_is_a_warning_without_a_traceback(client, admin_client, log_lines):
    bad_host = client.get("/api/notes/", HTTP_HOST="scanner.invalid")
    bad_lookup = admin_client.get("/admin/notes/note/?owner__password__startswith=a")

    assert (bad_host.status_code, bad_lookup.status_code) == (400, 400)
    refused = [line for line in log_lines() if line["logger"].startswith("django.security.")]
    assert [line["logger"] for line in refused] == [
        "django.security.DisallowedHost",
        "django.security.DisallowedModelAdminLookup",
    ]
    assert {line["level"] for line in refused} == {"WARNING"}
    assert not any("exception" in line for line in refused)
    assert "scanner.invalid" in refused[0]["message"]

"""The log: one line of JSON per record on stderr, with what must not be in it left out.

Configured in settings.LOGGING: the formatter and both filters sit on the
log's handler, so they apply to every logger's records, Django's included.
"""

import json
import logging
import re

import orjson
from django.http import HttpRequest

PUBLIC_LINK_TOKEN = re.compile(r"^/s/[^/]*")


def logged_path(request):
    """The request's path as logs show it: a public link's token left out, since it opens the note to anyone."""
    return without_link_token(request.path)


def without_link_token(path):
    return PUBLIC_LINK_TOKEN.sub("/s/<token>", path, count=1) if path.startswith("/s/") else path


class PublicLinkTokenFilter(logging.Filter):
    """Leave public link tokens out of the log lines of others (Django's own: "Internal Server Error: /s/...").

    On the log's handler, so every logger's records pass through it.
    """

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(without_link_token(arg) if isinstance(arg, str) else arg for arg in record.args)
        request = getattr(record, "request", None)
        if isinstance(request, HttpRequest):
            # The JSON line would show it as "<WSGIRequest: GET '/s/...'>".
            record.request = f"{request.method} {logged_path(request)}"
        return True


class SuspiciousRequestFilter(logging.Filter):
    """Log a request Django refused as suspicious (a Host not allowed, a forbidden admin lookup) as a WARNING.

    Django logs each at ERROR with its traceback, though it has answered the
    400 it should: a scanner sending random Host headers filled the log with
    tracebacks, where one is meant to mean a bug. On the log's handler, as
    each has a logger of its own under django.security.
    """

    def filter(self, record):
        if record.name.startswith("django.security.") and record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.exc_info = record.exc_text = None
        return True


class JSONFormatter(logging.Formatter):
    """Format log records as single-line JSON objects."""

    # Attributes every LogRecord has; anything else came in through `extra`.
    standard_attributes = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
        "message",
        "asctime",
    }

    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in self.standard_attributes)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # orjson writes UTF-8 as is; stderr escapes what its encoding cannot hold.
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:
            # What orjson refuses without asking `default` (integers beyond 64
            # bits, keys that are not strings): the standard library writes it.
            return json.dumps(entry, default=str, ensure_ascii=False)

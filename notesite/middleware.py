"""Project-wide middleware: optional trailing slashes, request logging, the content security policy."""

import json
import logging
import time

import orjson
from django.conf import settings

request_log = logging.getLogger("notes.request")


class OptionalTrailingSlashMiddleware:
    """Route `/api/notes` exactly like `/api/notes/`, for every method.

    Django's APPEND_SLASH answers with a redirect, which clients do not follow
    for POST or PUT; rewriting the path before URL resolution needs none.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (path == "/api" or path.startswith("/api/")) and not path.endswith("/"):
            request.path_info = path + "/"
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send the site's CONTENT_SECURITY_POLICY with every answer that has none of its own.

    A view may set a stricter policy of its own; it is kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class RequestLogMiddleware:
    """Log one structured line per request: what, who, outcome and duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        request_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "remote_addr": request.META.get("REMOTE_ADDR"),
            },
        )
        return response


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

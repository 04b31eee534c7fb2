"""Project-wide middleware: HEAD, optional trailing slashes, request logging, the CSP, query strings.

And Django's CommonMiddleware, which must not give a 304 a Content-Length.
"""

import logging
import time
from urllib.parse import unquote_to_bytes

from corsheaders import middleware as cors
from corsheaders.conf import conf as cors_settings
from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import JsonResponse
from django.middleware import common

from notesite.logs import logged_path

request_log = logging.getLogger("notes.request")


class HeadMiddleware:
    """Answer HEAD with the status and headers GET would have, and no body (RFC 9110 9.3.2).

    Django runs a view's GET for a HEAD and leaves dropping the body to the
    server: gunicorn logged a warning for each, and a HEAD of the export
    produced the whole export to throw it away. A streamed body is dropped
    before it is produced; any other keeps the Content-Length that
    CommonMiddleware, further in, has given it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD":
            if response.streaming:
                response.streaming_content = []
            else:
                response.content = b""
        return response


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


class CommonMiddleware(common.CommonMiddleware):
    """Django's, but it adds no Content-Length to a 304.

    Django gives every answer its length (ticket #5897): `Content-Length: 0`
    on a 304, which RFC 9110 (8.6) forbids unless it is the 200's length, and
    gunicorn sends it as given. A 304 needs nothing else from it.
    """

    def process_response(self, request, response):
        if response.status_code == 304:
            return response
        return super().process_response(request, response)


class CorsMiddleware(cors.CorsMiddleware):
    """django-cors-headers', left out when no origin may call the API (NOTES_CORS_ORIGINS unset).

    It would then allow nothing, only mark each API answer `Vary: Origin`
    and answer preflights that every browser refuses for want of an allowed
    origin; it cost ~6% of GET one note in-process (bench/RESULTS.md).
    """

    def __init__(self, get_response):
        if not (
            cors_settings.CORS_ALLOWED_ORIGINS
            or cors_settings.CORS_ALLOWED_ORIGIN_REGEXES
            or cors_settings.CORS_ALLOW_ALL_ORIGINS
            # Its signal may allow an origin per request; receivers connect when the apps are ready.
            or check_request_enabled.has_listeners()
        ):
            raise MiddlewareNotUsed
        super().__init__(get_response)


class QueryStringMiddleware:
    """Answer 400 to an API request with a parameter that is no UTF-8 text, holds a NUL, or is given twice.

    Django decodes a query string's bytes with replacement characters, so an
    unpaired surrogate (%ED%A0%80) or a stray byte (%FF) would arrive as
    U+FFFD and be searched for, or filtered by, unseen; and it answers the
    last of a parameter's values, so `limit=500&limit=5` passed with its
    first value never checked. A NUL is refused here for every parameter:
    some fields' parsers drop it (a date-time's trailing one).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query_string = request.META.get("QUERY_STRING", "")
        if (
            ("%" in query_string or "&" in query_string or not query_string.isascii())
            and request.path_info.startswith("/api/")
            # WSGI hands the query string's bytes over as Latin-1 characters.
            and (errors := query_string_errors(query_string.encode("latin-1")))
        ):
            return JsonResponse(errors, status=400)
        return self.get_response(request)


# The parameters the API reads every value of (notes.filters.TagsField: tag=a&tag=b).
REPEATABLE = {"tag"}
UNDECODABLE = "Not UTF-8 text: bytes (percent-encoded or not) that decode to no characters, or to a surrogate."
REPEATED = "Give this parameter once."
NUL = "Null characters are not allowed."


def query_string_errors(query_string):
    """{name: [message]} for each parameter that is no UTF-8 text once percent-decoded, holds a NUL, or is repeated."""
    pairs = list(percent_decoded(query_string))
    errors, seen = text_errors(pairs), set()
    for raw_name, _ in pairs:
        name = raw_name.decode(errors="replace")
        if name in seen and name not in REPEATABLE:
            errors.setdefault(name, [REPEATED])
        seen.add(name)
    return errors


def percent_decoded(query_string):
    """The (name, value) byte pairs of a query string, or of a form body, which has the same form."""
    for pair in query_string.split(b"&"):
        raw_name, _, value = pair.partition(b"=")
        yield unquote_to_bytes(raw_name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))


def text_errors(pairs):
    """{name: [message]} for each (name, value) pair of bytes that is no UTF-8 text or whose value holds a NUL.

    Also what notesite.parsers checks a form body's fields with.
    """
    errors = {}
    for raw_name, raw_value in pairs:
        try:
            raw_name.decode()
            text = raw_value.decode()
        except UnicodeDecodeError:
            errors[raw_name.decode(errors="replace")] = [UNDECODABLE]
        else:
            if "\x00" in text:
                errors[raw_name.decode()] = [NUL]
    return errors


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
                "path": logged_path(request),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
                "remote_addr": request.META.get("REMOTE_ADDR"),
            },
        )
        return response

"""Every failure under /api/ answers JSON with a 4xx status (503 when it is only to be retried), never a 500 page."""

import sqlite3
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed, ParseError
from rest_framework.views import exception_handler as drf_exception_handler

from notesite.database import database_unavailable, log_unavailable


class DatabaseBusy(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The database is busy with a long write: try again shortly.")
    default_code = "database_busy"
    wait = 1  # seconds, sent as Retry-After by DRF's exception handler


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("The database is unavailable; try again shortly.")
    default_code = "database_unavailable"
    wait = 5  # seconds: a database restarting, or a migration running, is back within a few


class RequestBodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self, limit):
        super().__init__(f"Request body too large: the limit is {limit} bytes.")


class UnsupportedContentEncoding(APIException):
    """A request body compressed (or otherwise coded): the API reads only bodies sent as they are."""

    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupported_content_encoding"
    accepted = "identity"

    def __init__(self, coding):
        super().__init__(
            f"Unsupported Content-Encoding {coding!r}: send the body uncompressed "
            f"(the accepted encodings: {self.accepted} only)."
        )


def exception_handler(exc, context):
    """DRF's handler, plus Django's request-size exceptions as clean 4xx answers, a write
    that failed because its user's account was deleted meanwhile, SQLite's lock timeout, and a
    database that cannot be reached or is not migrated."""
    if database_unavailable(exc):
        # Before the checks below, which may ask the database again (_account_deleted does).
        return log_unavailable(context["request"], exc, drf_exception_handler(DatabaseUnavailable(), context))
    if isinstance(exc, RequestDataTooBig):
        exc = RequestBodyTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = ParseError(str(exc))
    elif isinstance(exc, DatabaseError) and _account_deleted(context["request"]):
        # Its rows could not refer to a user no longer there (a foreign key
        # checked at commit, a save that found no row): as if its token had
        # been refused, which the next request's is.
        exc = AuthenticationFailed(_("Invalid token."))
        exc.auth_header = context["view"].get_authenticate_header(context["request"])
    elif isinstance(exc, OperationalError) and _sqlite_busy(exc):
        # A write that waited NOTES_SQLITE_BUSY_TIMEOUT for another's lock (a
        # long import in one transaction): nothing was written; try again.
        exc = DatabaseBusy()
    response = drf_exception_handler(exc, context)
    if isinstance(exc, UnsupportedContentEncoding):
        # RFC 9110 12.5.3: a 415's Accept-Encoding names the codings a request body may have.
        response["Accept-Encoding"] = exc.accepted
    return response


def _sqlite_busy(exc):
    return getattr(exc.__cause__, "sqlite_errorcode", None) in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _account_deleted(request):
    user = request.user
    return user.is_authenticated and not type(user).objects.filter(pk=user.pk).exists()


def _is_api(request):
    # `//api/notes/` too: a client's doubled slash is still a request to the API.
    return request.path_info.lstrip("/").partition("/")[0] == "api"


# Django's own error views, answering JSON under /api/ (unknown paths, bad
# requests that never reach DRF).


def bad_request(request, exception):
    if isinstance(exception, RequestDataTooBig):
        # A form over the limit (the admin's, a page's) that never reached DRF's handler.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if _is_api(request):
            return JsonResponse({"detail": RequestBodyTooLarge(limit).detail}, status=413)
        return HttpResponse(
            f"<!doctype html><title>Request body too large</title><h1>Request body too large</h1>"
            f"<p>The limit is {limit} bytes.</p>",
            status=413,
        )
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    exc = sys.exc_info()[1]
    if database_unavailable(exc):
        # Raised outside DRF's views: by a middleware, the admin, a public link's page.
        return log_unavailable(request, exc, unavailable(request))
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


def unavailable(request):
    """The 503 of a database that cannot be reached or is not migrated, as JSON under /api/, else a page."""
    detail = str(DatabaseUnavailable.default_detail)
    if _is_api(request):
        response = JsonResponse({"detail": detail}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{detail}</p>",
            status=503,
        )
    response["Retry-After"] = str(DatabaseUnavailable.wait)
    return response

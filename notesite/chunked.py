"""Request bodies sent chunked (without Content-Length), made visible to Django.

Django reads CONTENT_LENGTH bytes of a WSGI request body and takes a body
without one as empty, so a chunked POST or PATCH (a streaming client's:
requests with a generator, Go's and Node's HTTP clients) was answered as if
it carried no data: a 400 "This field is required", or a PATCH that changed
nothing answering 200. gunicorn decodes the chunks and ends the stream after
the last one (`wsgi.input_terminated`); this WSGI middleware reads such a
body up front and gives it its length, so everything after it (the parsers
and their limits) sees an ordinary request.

A chunked body is read in memory up to NOTES_MAX_BODY_BYTES, whatever the
endpoint; one longer than that is not kept, and ChunkedBodyLimitMiddleware
answers the request 413 as SPEC.md has a body over the limit answered,
saying to send the length: an upload larger than that is sent with its
length, and is then held to its endpoint's own limit before any of it is read.
"""

import io

from django.conf import settings
from django.http import JsonResponse

# Set in the WSGI environment of a request whose chunked body was too long to read.
CHUNKED_BODY_TOO_LONG = "notes.chunked_body_too_long"


def is_chunked(environ):
    """Whether the server ends the request's body where its last chunk ends, no length given."""
    return (
        not environ.get("CONTENT_LENGTH")
        and environ.get("wsgi.input_terminated") is True
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


class ChunkedBodies:
    """WSGI middleware: a chunked request body read and given its CONTENT_LENGTH (see above)."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if is_chunked(environ):
            limit = settings.NOTES_MAX_BODY_BYTES
            # A malformed chunk raises gunicorn's own parse error here: it answers 400.
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                body = b""
                environ[CHUNKED_BODY_TOO_LONG] = True
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


class ChunkedBodyLimitMiddleware:
    """Answer 413 to a request whose chunked body was too long for ChunkedBodies to read.

    Here, not in the parsers: a view that parses nothing would otherwise
    answer as if no body had been sent, as a PATCH of nothing answers 200.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get(CHUNKED_BODY_TOO_LONG):
            limit = settings.NOTES_MAX_BODY_BYTES
            return JsonResponse(
                {
                    "detail": f"Request body too large: the limit is {limit} bytes for a body sent "
                    "without Content-Length (chunked); send a larger one with its length."
                },
                status=413,
            )
        return self.get_response(request)

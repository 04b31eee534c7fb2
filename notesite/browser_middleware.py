"""Django's browser middleware (session, login, messages), passed by for API token requests.

Kept apart from notesite.middleware: these wrap Django's own, whose
imports need the apps ready.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware, get_user
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.utils.functional import SimpleLazyObject
from rest_framework.authentication import get_authorization_header


def carries_api_token(request):
    """Whether the API will authenticate the request by its token alone.

    On /api/, an `Authorization: Token ...` header (the scheme matched as
    knox matches it) is either a valid token or a 401: DRF never falls back
    to the session cookie, so nothing reads the session, the session's user
    or the messages.
    """
    try:
        return request._carries_api_token  # asked by each of the three below
    except AttributeError:
        credentials = get_authorization_header(request).split()
        request._carries_api_token = (
            request.path_info.startswith("/api/") and bool(credentials) and credentials[0].lower() == b"token"
        )
        return request._carries_api_token


class BrowserOnly:
    """Mixed into middleware that serves browser sessions: a request with an API token passes by it.

    Measured on GET one note in-process: the three cost ~6% of the request.
    """

    def __call__(self, request):
        if carries_api_token(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserSessionMiddleware(BrowserOnly, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(BrowserOnly, AuthenticationMiddleware):
    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: user_unless_database_unavailable(request))


def user_unless_database_unavailable(request):
    """The session's user; an anonymous one once the request has been answered 503 for the database.

    Django's lazy user asks the database until it has an answer: read again
    after the 503 (by the browsable API's page, the request log), it failed
    again, and the request was answered, and logged, once more.
    """
    if getattr(request, "_database_unavailable", False):
        return AnonymousUser()
    return get_user(request)


class BrowserMessageMiddleware(BrowserOnly, MessageMiddleware):
    pass

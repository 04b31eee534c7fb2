"""Django's browser middleware (session, login, messages), passed by for API token requests.

Kept apart from notesite.middleware, which the logging configuration
imports before the apps are ready.
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from rest_framework.authentication import get_authorization_header


def carries_api_token(request):
    """Whether the API will authenticate the request by its token alone.

    On /api/, an `Authorization: Token ...` header (the scheme matched as
    knox matches it) is either a valid token or a 401: DRF never falls back
    to the session cookie, so nothing reads the session, the session's user
    or the messages.
    """
    if not request.path_info.startswith("/api/"):
        return False
    credentials = get_authorization_header(request).split()
    return bool(credentials) and credentials[0].lower() == b"token"


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
    pass


class BrowserMessageMiddleware(BrowserOnly, MessageMiddleware):
    pass

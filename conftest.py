"""Project-wide fixtures and the rules for what may skip."""

import os
import time

import httpx
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from accounts.models import AuthToken
from accounts.tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config, items):
    """Deselect tests written for the other database: they are not skips."""
    vendor = "postgresql" if "postgresql" in django_settings.DATABASES["default"]["ENGINE"] else "sqlite"
    other = "sqlite" if vendor == "postgresql" else "postgresql"
    selected = [item for item in items if other not in item.keywords]
    deselected = [item for item in items if other in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With NOTES_REQUIRE_ALL=1 (CI), a test that skips for a missing tool fails."""
    report = yield
    if report.skipped and os.environ.get("NOTES_REQUIRE_ALL") == "1":
        report.outcome = "failed"
        report.longrepr = f"Skipped, but NOTES_REQUIRE_ALL=1 requires every test to run: {report.longrepr}"
    return report


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # A fast hasher: the real one costs ~200 ms per login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Templates need no collectstatic manifest in tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _throttle_clock(monkeypatch):
    """The throttles' windows stand still during a test: none ends between two of its requests."""
    from accounts.throttles import WindowRateThrottle

    now = time.time()
    monkeypatch.setattr(WindowRateThrottle, "timer", lambda: now)


@pytest.fixture(autouse=True)
def attachments_dir(settings, tmp_path):
    """Where attachments are stored during a test: a folder of its own."""
    location = tmp_path / "attachments"
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {**settings.STORAGES["attachments"], "OPTIONS": {"location": location, "base_url": None}},
    }
    return location


@pytest.fixture
def wsgi_application(db):
    """The project's WSGI application, called in-process on the test's database.

    Django's own test client keeps the handler from closing the database
    connection at the end of each request (which would end the test's
    transaction); a real WSGI client (schemathesis, httpx) needs the same.
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from notesite.wsgi import build_application

    # Built for the test, with its settings: a middleware may leave itself
    # out of the chain for a setting (notesite.middleware.CorsMiddleware).
    application = build_application()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def wsgi_client(wsgi_application, user):
    """httpx through the project's WSGI application, holding a token of `user`: what a server
    sends, which Django's test client smooths over (a HEAD's body, a 304's headers). A
    generator body goes out chunked, taken as gunicorn takes it (notesite.chunked)."""

    def as_gunicorn_gives_it(environ, start_response):
        environ["wsgi.input_terminated"] = True
        return wsgi_application(environ, start_response)

    _, token = AuthToken.objects.create(user=user)
    with httpx.Client(
        transport=httpx.WSGITransport(app=as_gunicorn_gives_it),
        base_url="http://localhost",
        headers={"Authorization": f"Token {token}"},
    ) as client:
        yield client


CORS_ORIGIN = "https://notes.example.com"


@pytest.fixture
def cors(settings):
    """A browser app's origin allowed (NOTES_CORS_ORIGINS), before any client's middleware is built."""
    settings.CORS_ALLOWED_ORIGINS = [CORS_ORIGIN, "http://localhost:5173"]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def other_user(db):
    return UserFactory(password=PASSWORD)


@pytest.fixture
def api_client():
    return APIClient()


def client_with_token(user):
    from accounts.models import AuthToken

    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def auth_client(user):
    """A REST client holding a real token of `user`."""
    return client_with_token(user)


@pytest.fixture
def other_client(other_user):
    return client_with_token(other_user)

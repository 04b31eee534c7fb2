"""Security headers on every kind of answer, and pages that need no inline script.

That the admin, the browsable API and the docs still work under the content
security policy is shown in a real browser (test_browser.py); HSTS with
NOTES_HTTPS and `check --deploy` in test_settings.py.
"""

import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from notesite.middleware import ContentSecurityPolicyMiddleware

PAGES = ["/", "/admin/login/", "/api-auth/login/", "/api/docs/", "/api/redoc/", "/api/schema/"]
API_ANSWERS = ["/api/notes/", "/api/auth/me/", "/api/no-such-thing/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES + API_ANSWERS)
def test_every_answer_carries_the_security_headers(client, path, settings):
    response = client.get(path)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


def test_the_policy_allows_no_inline_or_remote_script_and_no_framing(settings):
    directives = dict(directive.split(" ", 1) for directive in settings.CONTENT_SECURITY_POLICY.split("; "))

    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"


def test_a_view_keeps_a_stricter_policy_of_its_own(settings):
    own = "default-src 'none'; script-src 'none'"
    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse(headers={"Content-Security-Policy": own}))

    response = middleware(RequestFactory().get("/s/some-link"))

    assert response["Content-Security-Policy"] == own


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/api/notes/", "/admin/", "/admin/notes/note/"])
def test_pages_carry_no_inline_script(admin_client, path):
    response = admin_client.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert INLINE_SCRIPT.findall(response.content.decode()) == []
    assert b" onclick=" not in response.content


@pytest.mark.django_db
def test_swagger_ui_init_script_is_served_as_a_file(client):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in response.content


def security_headers(response):
    """The five headers docs/security.md promises on every answer, as the answer has them."""
    names = [
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "Content-Security-Policy",
    ]
    return {name: response.headers.get(name) for name in names}


@pytest.fixture
def promised(settings):
    return {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
    }


# Answers a middleware makes before the view, each with its status.
MIDDLEWARE_ANSWERS = {
    "chunked body over the limit (ChunkedBodyLimitMiddleware)": (
        413,
        {"method": "POST", "url": "/api/notes/", "chunks": [b"x" * 40] * 4},
    ),
    "repeated query parameter (QueryStringMiddleware)": (
        400,
        {"method": "GET", "url": "/api/notes/?limit=1&limit=2"},
    ),
    "host not allowed (CommonMiddleware)": (
        400,
        {"method": "GET", "url": "/api/notes/", "headers": {"Host": "10.1.2.3:8000"}},
    ),
    "CORS preflight (CorsMiddleware)": (
        200,
        {
            "method": "OPTIONS",
            "url": "/api/notes/",
            "headers": {"Origin": "https://notes.example.com", "Access-Control-Request-Method": "POST"},
        },
    ),
}


@pytest.mark.parametrize("case", MIDDLEWARE_ANSWERS)
def test_answers_made_by_middleware_carry_the_security_headers(cors, wsgi_client, promised, settings, case):
    settings.NOTES_MAX_BODY_BYTES = 64
    status, request = MIDDLEWARE_ANSWERS[case]
    headers = {"Content-Type": "application/json", **request.get("headers", {})}
    content = iter(request["chunks"]) if "chunks" in request else None

    response = wsgi_client.request(request["method"], request["url"], headers=headers, content=content)

    assert response.status_code == status
    assert security_headers(response) == promised


@pytest.mark.django_db
def test_the_https_redirect_carries_the_security_headers(client, promised, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/api/notes/")

    assert response.status_code == 301
    assert security_headers(response) == promised


@pytest.mark.parametrize("path", ["/healthz", "/readyz/"])
def test_health_checks_carry_the_security_headers_whatever_the_host(wsgi_client, promised, path):
    response = wsgi_client.get(path, headers={"Host": "10.1.2.3:8000"})

    assert response.status_code == 200
    assert security_headers(response) == promised

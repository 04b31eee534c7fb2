"""CORS: browser apps on the origins in NOTES_CORS_ORIGINS may call the API with a token."""

import pytest
from corsheaders.signals import check_request_enabled
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import HttpResponse

from conftest import CORS_ORIGIN as LISTED
from notesite.middleware import CorsMiddleware
from notesite.settings import env_origins

pytestmark = pytest.mark.django_db


def preflight(client, path, origin, method="DELETE", headers="authorization, content-type, if-match"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_preflight_from_a_listed_origin_is_allowed(cors, api_client):
    response = preflight(api_client, "/api/notes/1/", LISTED)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LISTED
    assert "DELETE" in response["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "if-match"} <= set(response["Access-Control-Allow-Headers"].split(", "))
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response


def test_preflight_from_an_unlisted_origin_gets_no_allowance(cors, api_client):
    response = preflight(api_client, "/api/notes/1/", "https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Methods" not in response


def test_no_origin_is_allowed_by_default(api_client, settings):
    assert settings.CORS_ALLOWED_ORIGINS == []

    response = preflight(api_client, "/api/notes/", LISTED, method="GET")

    assert "Access-Control-Allow-Origin" not in response


def test_the_cors_middleware_leaves_itself_out_until_an_origin_is_listed(settings):
    with pytest.raises(MiddlewareNotUsed):
        CorsMiddleware(HttpResponse)

    settings.CORS_ALLOWED_ORIGINS = [LISTED]
    assert CorsMiddleware(HttpResponse).get_response is HttpResponse


def test_an_origin_allowed_by_corsheaders_signal_keeps_the_middleware(api_client):
    def allow_listed(sender, request, **kwargs):
        return request.headers.get("Origin") == LISTED

    check_request_enabled.connect(allow_listed)
    try:
        response = preflight(api_client, "/api/notes/", LISTED)
    finally:
        check_request_enabled.disconnect(allow_listed)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LISTED


def test_a_preflight_needs_no_token_even_on_protected_endpoints(cors, api_client):
    response = preflight(api_client, "/api/auth/tokens/", LISTED)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LISTED


def test_a_path_without_its_trailing_slash_is_answered_the_same(cors, api_client):
    response = preflight(api_client, "/api/notes", LISTED, method="POST")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LISTED


def test_the_request_itself_carries_the_allowance_and_exposes_the_etag(cors, auth_client, user):
    created = auth_client.post("/api/notes/", {"title": "from the browser"}, format="json", HTTP_ORIGIN=LISTED)

    assert created.status_code == 201
    assert created["Access-Control-Allow-Origin"] == LISTED
    assert {"etag", "location", "retry-after"} <= set(created["Access-Control-Expose-Headers"].split(", "))
    assert "origin" in created["Vary"].lower()


def test_an_unlisted_origins_request_carries_no_allowance(cors, auth_client):
    response = auth_client.get("/api/notes/", HTTP_ORIGIN="https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response


def test_pages_outside_the_api_are_not_shared(cors, client):
    response = client.get("/admin/login/", HTTP_ORIGIN=LISTED)

    assert "Access-Control-Allow-Origin" not in response


def test_origins_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("NOTES_CORS_ORIGINS", "https://notes.example.com, http://localhost:5173")

    assert env_origins("NOTES_CORS_ORIGINS") == ["https://notes.example.com", "http://localhost:5173"]


@pytest.mark.parametrize("origin", ["notes.example.com", "https://notes.example.com/", "https://x.example/app", "*"])
def test_a_malformed_origin_is_refused_at_start(monkeypatch, origin):
    monkeypatch.setenv("NOTES_CORS_ORIGINS", origin)

    with pytest.raises(ImproperlyConfigured, match="NOTES_CORS_ORIGINS lists origins such as"):
        env_origins("NOTES_CORS_ORIGINS")

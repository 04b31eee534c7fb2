"""Requests the API authenticates by token pass by the session, login and messages middleware."""

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from notes.tests.factories import NoteFactory
from notesite.browser_middleware import carries_api_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "authorization", "expected"),
    [
        ("/api/notes/", "Token abc", True),
        ("/api/notes/1/", "token abc", True),  # knox matches the scheme case-insensitively
        ("/api/notes/", "Token", True),  # no credentials: knox answers 401 itself
        ("/api/notes/", "Bearer abc", False),
        ("/api/notes/", "Tokenabc", False),
        ("/api/notes/", None, False),
        ("/admin/", "Token abc", False),
        ("/s/abc/", "Token abc", False),
    ],
)
def test_which_requests_carry_an_api_token(path, authorization, expected):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    assert carries_api_token(RequestFactory().get(path, **headers)) is expected


def test_a_token_request_gets_no_session_or_csrf_cookie(auth_client, user):
    note = NoteFactory(owner=user)

    response = auth_client.get(f"/api/notes/{note.pk}/")

    assert response.status_code == 200
    assert response.cookies == {}
    assert "Cookie" not in response.get("Vary", "")


def test_a_bad_token_is_401_even_beside_a_valid_session(user, password):
    client = APIClient()
    assert client.login(username=user.username, password=password)

    response = client.get("/api/notes/", HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 401


def test_a_browser_session_still_works_on_the_api(user, password):
    NoteFactory(owner=user, title="Seen through the session")
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=password)

    listed = client.get("/api/notes/")
    refused = client.post("/api/notes/", {"title": "No CSRF token"}, format="json")

    assert listed.status_code == 200
    assert [note["title"] for note in listed.json()["results"]] == ["Seen through the session"]
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_the_admin_ignores_a_token_header(admin_user):
    client = APIClient()
    client.force_login(admin_user)

    response = client.get("/admin/", HTTP_AUTHORIZATION="Token abc")

    assert response.status_code == 200
    assert b"Site administration" in response.content

"""Health checks, docs pages, the landing page and security headers."""

import re

import pytest
from django.core.management import call_command

from notesite import health


def test_healthz_answers_without_authentication(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz/"])
def test_health_checks_answer_probes_by_address_whatever_the_host(client, path):
    response = client.get(path, HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200
    assert client.get("/api/notes/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.django_db
def test_readyz_answers_ok_when_the_database_answers_and_is_migrated(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_while_a_migration_is_pending(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    call_command("migrate", "notes", "0001", verbosity=0)
    try:
        response = client.get("/readyz")
    finally:
        call_command("migrate", verbosity=0)

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "migrations are not applied"}
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/readyz/"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_health_checks_answer_405_to_methods_but_get_and_head(client, path, method):
    response = getattr(client, method)(path)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}


@pytest.mark.django_db
def test_schema_is_public_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/notes/{id}/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.django_db
def test_schema_lists_the_400_every_operation_can_answer(client):
    # A query parameter given twice or holding a NUL is refused on any path under /api/.
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]

    assert len(operations) > 30
    assert [(method, path) for method, path, operation in operations if "400" not in operation["responses"]] == []
    assert client.get("/api/auth/me/?a=1&a=2").status_code == 400


def published_schema(client):
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.mark.django_db
def test_schema_declares_the_headers_spec_makes_part_of_the_answers(client):
    paths = published_schema(client)["paths"]

    def headers(path, method, status):
        return set(paths[path][method]["responses"][status].get("headers", {}))

    assert headers("/api/notes/", "post", "201") == {"Location", "ETag"}
    assert headers("/api/notes/{id}/", "get", "200") == {"ETag"}
    assert headers("/api/notes/{id}/", "get", "304") == {"ETag"}
    assert headers("/api/notes/{id}/", "patch", "200") == {"ETag"}
    assert headers("/api/notes/{id}/", "put", "412") == {"ETag"}
    assert headers("/api/notes/{id}/", "delete", "204") == set()
    assert headers("/api/notes/", "get", "401") == {"WWW-Authenticate"}
    assert headers("/api/auth/token/", "post", "429") == {"Retry-After"}


@pytest.mark.django_db
def test_schema_describes_the_bodies_of_a_missing_link_and_of_exported_files(client):
    schema = published_schema(client)
    missing_link = schema["paths"]["/api/notes/{id}/share/"]["delete"]["responses"]["404"]
    exported_note = schema["components"]["schemas"]["ExportedNote"]

    assert missing_link["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert exported_note["properties"]["attachments"]["items"] == {"$ref": "#/components/schemas/ExportedAttachment"}
    assert "attachments" not in exported_note["required"]


@pytest.mark.django_db
def test_schema_lists_the_403_of_a_closed_sign_up(client, settings):
    settings.NOTES_ALLOW_SIGNUP = False
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert "403" in schema["paths"]["/api/auth/register/"]["post"]["responses"]
    assert client.post("/api/auth/register/", {}, content_type="application/json").status_code == 403


SCHEMA_AND_DOCS_ERRORS = [
    ("POST", "/api/schema/", {}, 405),
    ("DELETE", "/api/schema/", {}, 405),
    ("PURGE", "/api/schema/", {}, 405),
    ("GET", "/api/schema/", {"HTTP_ACCEPT": "image/png"}, 406),
    ("GET", "/api/schema/?format=openapi-json", {}, 404),
    ("DELETE", "/api/docs/", {}, 405),
    ("POST", "/api/redoc/", {}, 405),
    ("GET", "/api/redoc/", {"HTTP_ACCEPT": "image/png"}, 406),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    SCHEMA_AND_DOCS_ERRORS,
    ids=[f"{method} {path} {headers}" for method, path, headers, _ in SCHEMA_AND_DOCS_ERRORS],
)
def test_schema_and_docs_errors_answer_the_apis_json(client, method, path, headers, status):
    response = client.generic(method, path, **headers)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == ["detail"]
    assert isinstance(response.json()["detail"], str)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "headers", "content_type"),
    [
        ("/api/schema/", {}, "application/vnd.oai.openapi; charset=utf-8"),
        ("/api/schema/?format=json", {}, "application/vnd.oai.openapi+json"),
        ("/api/schema/", {"HTTP_ACCEPT": "application/vnd.oai.openapi+json"}, "application/vnd.oai.openapi+json"),
        ("/api/docs/", {}, "text/html; charset=utf-8"),
        ("/api/redoc/", {}, "text/html; charset=utf-8"),
    ],
)
def test_schema_and_docs_answer_in_their_own_formats(client, path, headers, content_type):
    response = client.get(path, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == content_type


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_every_asset_from_this_site(client, path):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an asset is loaded from another site"
    assert "fonts.googleapis" not in html
    assert "/static/" in html


def test_home_page_leads_somewhere_useful(client):
    response = client.get("/")

    assert response.status_code == 200
    for link in [b'href="/api/"', b'href="/api/docs/"', b'href="/admin/"']:
        assert link in response.content


@pytest.mark.django_db
def test_security_headers_are_set(client):
    response = client.get("/")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_unknown_page_outside_the_api_is_html(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")

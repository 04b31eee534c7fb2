"""HEAD answers GET's status and headers with no body (notesite.middleware.HeadMiddleware).

Django runs a view's GET for a HEAD and sends the body it builds; gunicorn
dropped it with a warning for every HEAD, and a HEAD of the export produced
the whole export first. Django's test client drops a HEAD's body itself, so
these requests go through the WSGI application as a server sends them.
"""

import httpx
import pytest

from notes.tests.factories import NoteFactory
from notes.transfer import exporting
from notesite.tests.servers import Server, manage, seed_users, server_env

# What a server may frame differently for a HEAD: the body's chunking (gunicorn
# sends none for a HEAD), and the time.
FRAMING = {"date", "transfer-encoding"}


def assert_head_answers_as_get(client, path):
    get = client.get(path)
    head = client.head(path)

    assert head.status_code == get.status_code, path
    assert {k: v for k, v in head.headers.items() if k not in FRAMING} == {
        k: v for k, v in get.headers.items() if k not in FRAMING
    }, path
    assert head.content == b"", path
    return get


@pytest.mark.parametrize("path", ["/api/notes/{pk}/", "/api/notes/", "/api/nothing/", "/healthz", "/api/docs/"])
def test_head_answers_gets_status_and_headers_with_no_body(wsgi_client, user, path):
    note = NoteFactory(owner=user, title="Groceries")

    get = assert_head_answers_as_get(wsgi_client, path.format(pk=note.pk))

    assert get.content


def test_head_keeps_gets_content_length(wsgi_client, user):
    note = NoteFactory(owner=user, title="Groceries")

    head = wsgi_client.head(f"/api/notes/{note.pk}/")

    assert int(head.headers["Content-Length"]) == len(wsgi_client.get(f"/api/notes/{note.pk}/").content) > 0


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_a_head_of_the_export_does_not_produce_it(wsgi_client, user, monkeypatch, export_format):
    NoteFactory.create_batch(3, owner=user)
    produced = []
    notes_by_id = exporting.notes_by_id

    def watched(queryset, **options):
        produced.append(export_format)
        yield from notes_by_id(queryset, **options)

    monkeypatch.setattr(exporting, "notes_by_id", watched)

    head = wsgi_client.head(f"/api/export/?format={export_format}")

    assert head.status_code == 200
    assert head.headers["Content-Disposition"].startswith("attachment")
    assert head.content == b""
    assert produced == []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    env = server_env(tmp_path_factory.mktemp("data"))
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    [seeded] = seed_users(env, 1)
    with Server(env) as server:
        yield server, {"Authorization": f"Token {seeded['token']}"}


def test_gunicorn_sends_a_head_no_body_and_logs_no_warning(served):
    server, token = served
    with httpx.Client(base_url=server.url, headers=token, timeout=30) as client:
        note = client.post("/api/notes/", json={"title": "Groceries", "content": "milk"}).json()
        files = {"file": ("a.txt", b"hello world", "text/plain")}
        attachment = client.post(f"/api/notes/{note['id']}/attachments/", files=files).json()
        paths = [
            "/healthz",
            "/readyz",
            "/",
            "/api/notes/",
            f"/api/notes/{note['id']}/",
            "/api/nothing/",
            "/api/export/?format=json",
            "/api/export/?format=markdown",
            attachment["download_url"].removeprefix("http://" + client.base_url.netloc.decode()),
            "/api/docs/",
            "/api/schema/",
            "/static/admin/css/base.css",
        ]

        for path in paths:
            assert_head_answers_as_get(client, path)

    assert "no-body response" not in server.output()

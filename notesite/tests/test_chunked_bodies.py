"""A body sent chunked, without Content-Length, is read like any other (notesite.chunked).

Through the project's WSGI application in-process, the body given to it as
gunicorn gives a chunked one: decoded, `wsgi.input_terminated` set, no
CONTENT_LENGTH. test_abuse.py sends real chunked HTTP to gunicorn.
"""

import io

import pytest

from notes.models import Note
from notes.tests.factories import NoteFactory
from notesite.chunked import ChunkedBodies, is_chunked


@pytest.fixture
def chunked_client(wsgi_client):
    """wsgi_client sending JSON; a generator body goes out chunked."""
    wsgi_client.headers["Content-Type"] = "application/json"
    return wsgi_client


def chunks(body, size=7):
    """`body` as an iterator of pieces: httpx sends it with Transfer-Encoding: chunked."""
    return iter([body[i : i + size] for i in range(0, len(body), size)])


def test_chunked_post_creates_the_note_it_carries(chunked_client, user):
    response = chunked_client.post("/api/notes/", content=chunks(b'{"title": "Streamed", "tags": ["io"]}'))

    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert (response.json()["title"], response.json()["tags"]) == ("Streamed", ["io"])
    assert Note.objects.get(owner=user).title == "Streamed"


def test_chunked_patch_changes_the_note(chunked_client, user):
    note = NoteFactory(owner=user, title="Before")

    response = chunked_client.patch(f"/api/notes/{note.pk}/", content=chunks(b'{"title": "After"}'))

    note.refresh_from_db()
    assert response.status_code == 200, response.text
    assert (response.json()["title"], response.json()["version"]) == ("After", 2)
    assert (note.title, note.version) == ("After", 2)


def test_chunked_body_is_held_to_the_parsers_checks(chunked_client, user):
    note = NoteFactory(owner=user, title="Kept")

    response = chunked_client.patch(f"/api/notes/{note.pk}/", content=chunks(b'{"title": "unfinished'))

    note.refresh_from_db()
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert (note.title, note.version) == ("Kept", 1)


def test_chunked_body_longer_than_the_body_limit_is_413_and_changes_nothing(chunked_client, user, settings):
    settings.NOTES_MAX_BODY_BYTES = 64
    note = NoteFactory(owner=user, title="Kept")
    body = b'{"title": "%s"}' % (b"x" * 100)

    response = chunked_client.patch(f"/api/notes/{note.pk}/", content=chunks(body))
    fits = chunked_client.patch(f"/api/notes/{note.pk}/", content=chunks(b'{"title": "Short"}'))

    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body too large: the limit is 64 bytes for a body sent without Content-Length (chunked); "
        "send a larger one with its length."
    }
    assert fits.status_code == 200
    note.refresh_from_db()
    assert (note.title, note.version) == ("Short", 2)


def test_chunked_upload_longer_than_the_body_limit_says_to_send_its_length(chunked_client, user, settings):
    settings.NOTES_MAX_BODY_BYTES = 64
    note = NoteFactory(owner=user)
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + b"x" * 200 + b"\r\n--b0undary--\r\n"
    )

    response = chunked_client.post(
        f"/api/notes/{note.pk}/attachments/",
        content=chunks(body, size=50),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )

    assert response.status_code == 413
    assert "without Content-Length" in response.json()["detail"]


def test_anonymous_chunked_request_is_401(chunked_client):
    del chunked_client.headers["Authorization"]

    response = chunked_client.post("/api/notes/", content=chunks(b'{"title": "Nobody"}'))

    assert response.status_code == 401
    assert not Note.objects.exists()


def test_a_body_with_its_length_passes_untouched():
    seen = {}

    def application(environ, start_response):
        seen.update(environ)
        return []

    body = io.BytesIO(b"{}")
    environ = {
        "CONTENT_LENGTH": "2",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": body,
        "wsgi.input_terminated": True,
    }

    ChunkedBodies(application)(environ, None)

    assert seen["wsgi.input"] is body
    assert seen["CONTENT_LENGTH"] == "2"


@pytest.mark.parametrize(
    ("environ", "chunked"),
    [
        ({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}, True),
        ({"HTTP_TRANSFER_ENCODING": "gzip, Chunked", "wsgi.input_terminated": True, "CONTENT_LENGTH": ""}, True),
        # A server that does not end the stream after the last chunk (Django's runserver): left as it is.
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, False),
        ({"wsgi.input_terminated": True}, False),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True, "CONTENT_LENGTH": "5"}, False),
    ],
)
def test_is_chunked(environ, chunked):
    assert is_chunked(environ) is chunked

"""304 answers as RFC 9110 has them: no Content-Length (8.6), no Content-Type the 200 does not have (15.4.5).

Through the project's WSGI application, as gunicorn gets the headers:
Django's test client hides what its middleware adds to a 304.
"""

import pytest

from notes.services import note_trash
from notes.sharing.services import public_link_create
from notes.tests.attachment_helpers import PNG
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/notes/{note}/",
        "/api/trash/{trashed}/",
        "/api/attachments/{attachment}/download/",
        "/s/{link}/attachments/{attachment}/",
    ],
)
def test_a_304_has_no_content_length_and_no_other_content_type(wsgi_client, user, note, path):
    # Uploaded through the same client: a request of Django's test client
    # would connect close_old_connections again (see the wsgi_application fixture).
    attachment = wsgi_client.post(f"/api/notes/{note.pk}/attachments/", files={"file": ("dot.png", PNG)}).json()
    trashed = NoteFactory(owner=user)
    note_trash(note=trashed)
    link = public_link_create(note=note).token
    path = path.format(note=note.pk, trashed=trashed.pk, attachment=attachment["id"], link=link)
    full = wsgi_client.get(path)

    response = wsgi_client.get(path, headers={"If-None-Match": full.headers["ETag"]})

    assert (full.status_code, response.status_code) == (200, 304)
    assert response.headers["ETag"] == full.headers["ETag"]
    assert "Content-Length" not in response.headers
    assert response.headers.get("Content-Type") in (None, full.headers["Content-Type"])
    assert response.content == b""

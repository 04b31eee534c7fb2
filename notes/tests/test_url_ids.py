"""Ids in URLs: ASCII digits name an object, any other spelling names none.

Python's int() also reads "+7", " 7", "0_7" and other scripts' digits as 7,
so routes that handed the URL's text to the database reached note 7 through
them (a POST even shared it); `/api/notes/{id}/` answered 404. Every route
that takes an id now answers such a spelling, and an id past the databases'
largest (2**63 - 1), exactly as it answers an id no object has.
"""

import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuthToken
from notes.models import Attachment, Note, PublicLink, Revision
from notes.services import note_trash
from notes.sharing.services import public_link_create
from notes.tests.attachment_helpers import PNG, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

# (method, path with {id}, the kind of object {id} names)
ROUTES = [
    ("GET", "/api/notes/{id}/", "note"),
    ("PATCH", "/api/notes/{id}/", "note"),
    ("PUT", "/api/notes/{id}/", "note"),
    ("DELETE", "/api/notes/{id}/", "note"),
    ("GET", "/api/notes/{id}/revisions/", "note"),
    ("POST", "/api/notes/{id}/revisions/1/restore/", "note"),
    ("GET", "/api/notes/{id}/attachments/", "note"),
    ("POST", "/api/notes/{id}/attachments/", "note"),
    ("GET", "/api/notes/{id}/share/", "note"),
    ("POST", "/api/notes/{id}/share/", "note"),
    ("DELETE", "/api/notes/{id}/share/", "note"),
    ("GET", "/api/trash/{id}/", "trashed"),
    ("POST", "/api/trash/{id}/restore/", "trashed"),
    ("DELETE", "/api/trash/{id}/", "trashed"),
    ("GET", "/api/attachments/{id}/", "attachment"),
    ("DELETE", "/api/attachments/{id}/", "attachment"),
    ("GET", "/api/attachments/{id}/download/", "attachment"),
    ("DELETE", "/api/auth/tokens/{id}/", "token"),
    ("GET", "/s/{token}/attachments/{id}/", "attachment"),
]


def spellings(pk):
    """Other spellings int() reads as `pk`, and ids no database row can have."""
    return {
        "plus sign": f"+{pk}",
        "leading space": f"%20{pk}",
        "trailing space": f"{pk}%20",
        "underscore": f"0_{pk}",
        "Arabic-Indic digits": quote("".join(chr(0x660 + int(digit)) for digit in str(pk))),
        "fullwidth digits": quote("".join(chr(0xFF10 + int(digit)) for digit in str(pk))),
        "2**63": str(2**63),
        "30 digits": "1" + "0" * 29,
    }


SPELLINGS = list(spellings(7))


@pytest.fixture
def objects(auth_client, user):
    """One object of each kind, a live note with a revision, an image and a public link."""
    note = NoteFactory(owner=user)
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "edited"}, format="json")
    attachment = Attachment.objects.get(pk=upload(auth_client, note, PNG, "dot.png").json()["id"])
    link = public_link_create(note=note)
    trashed = NoteFactory(owner=user)
    note_trash(note=trashed)
    token, _ = AuthToken.objects.create(user=user)
    return {"note": note, "trashed": trashed, "attachment": attachment, "token": token, "link": link}


def send(client, method, path):
    if method == "GET":
        return client.get(path)
    if method == "POST" and path.endswith("/attachments/"):
        return client.post(path, {"file": SimpleUploadedFile("dot.png", PNG)}, format="multipart")
    body = {"title": "changed"} if method in {"PATCH", "PUT"} else {}
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def database():
    """Everything a request could change, to show it changed nothing."""
    return [
        list(model.objects.order_by("pk").values()) for model in (Note, Revision, Attachment, PublicLink, AuthToken)
    ]


def answer(response):
    content_type = response.get("Content-Type", "")
    return response.status_code, content_type, response.json() if "json" in content_type else response.content


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(("method", "template", "kind"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES])
def test_an_id_spelled_otherwise_answers_as_an_id_no_object_has(auth_client, objects, method, template, kind, spelling):
    link = objects["link"].token
    missing = send(auth_client, method, template.format(id=2**63 - 1, token=link))
    before = database()

    response = send(auth_client, method, template.format(id=spellings(objects[kind].pk)[spelling], token=link))

    assert response.status_code == 404
    assert answer(response) == answer(missing)
    assert database() == before


@pytest.mark.parametrize(
    ("method", "template", "kind"),
    [route for route in ROUTES if route[0] == "GET"],
    ids=[f"{m} {t}" for m, t, _ in ROUTES if m == "GET"],
)
@pytest.mark.parametrize("zeros", ["0", "0" * 20])
def test_an_id_with_leading_zeros_names_the_object(auth_client, objects, method, template, kind, zeros):
    response = send(auth_client, method, template.format(id=zeros + str(objects[kind].pk), token=objects["link"].token))

    assert response.status_code == 200

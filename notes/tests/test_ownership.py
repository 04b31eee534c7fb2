"""Another user's note answers exactly as a missing one does, on every method."""

import pytest

from notes.models import Note
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def others_note(other_user):
    return NoteFactory(owner=other_user, title="Secret", content="not yours", tags=["private"])


@pytest.mark.parametrize(
    ("method", "data"),
    [("get", None), ("put", {"title": "mine now"}), ("patch", {"title": "mine now"}), ("delete", None)],
)
def test_other_users_note_is_404_like_a_missing_one(auth_client, others_note, method, data):
    response = getattr(auth_client, method)(f"/api/notes/{others_note.pk}/", data, format="json")
    missing = getattr(auth_client, method)("/api/notes/999999999/", data, format="json")

    assert response.status_code == 404
    assert response.json() == missing.json()
    others_note.refresh_from_db()
    assert (others_note.title, others_note.version, others_note.deleted_at) == ("Secret", 1, None)


def test_other_users_note_is_404_even_with_if_match(auth_client, others_note):
    response = auth_client.patch(f"/api/notes/{others_note.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH='"9"')

    assert response.status_code == 404


def test_list_shows_only_own_notes(auth_client, user, others_note):
    own = NoteFactory(owner=user)

    results = auth_client.get("/api/notes/").json()["results"]

    assert [note["id"] for note in results] == [own.pk]


def test_created_note_belongs_to_the_requester_whatever_the_body_says(auth_client, user, other_user):
    response = auth_client.post("/api/notes/", {"title": "t", "owner": other_user.pk}, format="json")

    assert response.status_code == 400
    assert response.json() == {"owner": ["Unknown field."]}
    assert not Note.objects.filter(owner=other_user).exists()

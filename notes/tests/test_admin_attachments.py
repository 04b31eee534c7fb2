"""The admin shows a note's attachments, and lists public links with a revoke action."""

import pytest

from accounts.tests.factories import UserFactory
from notes.models import PublicLink
from notes.services import note_trash
from notes.sharing.services import public_link_create
from notes.tests.attachment_helpers import PNG, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_a_notes_page_shows_its_attachments(admin_client, auth_client, user):
    note = NoteFactory(owner=user)
    upload(auth_client, note, PNG, "holiday.png")
    upload(auth_client, note, b"x" * 3000, "plan.txt")

    content = admin_client.get(f"/admin/notes/note/{note.pk}/change/").content.decode()

    assert "holiday.png" in content
    assert "image/png" in content
    assert "plan.txt" in content
    assert "2.9\xa0KB" in content
    assert 'name="attachments-0-filename"' not in content  # shown, not editable


def test_the_note_form_still_saves_with_attachments_shown(admin_client, auth_client, user):
    note = NoteFactory(owner=user, title="Old")
    upload(auth_client, note, PNG)

    response = admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"title": "New", "content": "", "tags": "", "seen_version": note.version},
    )

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.title, note.attachments.count()) == ("New", 1)


def test_public_links_are_listed_with_whether_they_work(admin_client, user):
    live = public_link_create(note=NoteFactory(owner=user, title="Shared"))
    trashed = NoteFactory(owner=user, title="Binned")
    public_link_create(note=trashed)
    note_trash(note=trashed)

    content = admin_client.get("/admin/notes/publiclink/").content.decode()

    assert "Shared" in content
    assert "Binned" in content
    assert user.username in content
    assert live.token not in content
    assert content.count('alt="True"') == 1
    assert content.count('alt="False"') == 1


def test_revoking_links_from_the_admin_stops_them(admin_client, api_client, user):
    links = [public_link_create(note=NoteFactory(owner=user)) for _ in range(2)]

    response = admin_client.post(
        "/admin/notes/publiclink/", {"action": "revoke", "_selected_action": [link.pk for link in links]}
    )

    assert response.status_code == 302
    assert not PublicLink.objects.exists()
    assert api_client.get(f"/s/{links[0].token}").status_code == 404


def test_links_cannot_be_made_or_edited_in_the_admin(admin_client, user):
    link = public_link_create(note=NoteFactory(owner=user))

    assert admin_client.get("/admin/notes/publiclink/add/").status_code == 403
    page = admin_client.get(f"/admin/notes/publiclink/{link.pk}/change/")
    assert page.status_code == 200
    assert link.token not in page.content.decode()

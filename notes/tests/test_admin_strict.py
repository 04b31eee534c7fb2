"""The admin answers a URL or form a browser would not send with a clear 4xx, and keeps notes as written."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.tests.factories import UserFactory
from notes.models import Note, PublicLink
from notes.services import note_trash, note_update
from notes.sharing.services import public_link_create
from notes.tests.admin_helpers import confirmation_form
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/notes/note/"


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Groceries", content="milk", tags=["home"])


def viewer_client(*codenames):
    """A staff member who may only view what `codenames` name."""
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(viewer)
    return client


def change(client, note, **fields):
    data = {"title": note.title, "content": note.content, "tags": ", ".join(note.tags), "seen_version": note.version}
    return client.post(f"{CHANGELIST}{note.pk}/change/", {**data, **fields})


@pytest.mark.parametrize("action", ["pin", "unpin", "move_to_trash", "restore_from_trash"])
def test_a_viewer_cannot_run_an_action_that_changes_notes(action, note):
    if action == "restore_from_trash":
        note = note_trash(note=note)
    if action == "unpin":
        note = note_update(note=note, pinned=True)
    client = viewer_client("view_note")

    page = client.get(CHANGELIST, {"trashed": "yes"} if action == "restore_from_trash" else {})
    response = client.post(CHANGELIST, {"action": action, "_selected_action": [note.pk]})

    assert f'value="{action}"' not in page.content.decode()
    assert response.status_code == 200  # the changelist again, with "No action selected."
    assert Note.objects.get(pk=note.pk).version == note.version


def test_a_viewer_cannot_revoke_a_public_link(note):
    link = public_link_create(note=note)
    client = viewer_client("view_publiclink", "view_note")

    response = client.post("/admin/notes/publiclink/", {"action": "revoke", "_selected_action": [link.pk]})

    assert response.status_code == 200
    assert PublicLink.objects.filter(pk=link.pk).exists()


def test_whoever_may_change_notes_pins_them(note):
    client = viewer_client("view_note", "change_note")

    response = client.post(CHANGELIST, {"action": "pin", "_selected_action": [note.pk]})

    assert response.status_code == 302
    assert Note.objects.get(pk=note.pk).pinned is True


@pytest.mark.parametrize(
    "content",
    ["    def f():\n        return 1\n\n", "\n\nhello  \n", "  ", "tabs\tand\ttrailing\t"],
)
def test_content_is_saved_as_written(admin_client, note, content):
    note = note_update(note=note, content=content)

    unchanged = change(admin_client, note)
    retitled = change(admin_client, note, title="Shopping")

    assert (unchanged.status_code, retitled.status_code) == (302, 302)
    note.refresh_from_db()
    assert (note.content, note.title, note.version) == (content, "Shopping", 3)


def test_a_browsers_crlf_line_breaks_keep_the_notes_own(admin_client, note):
    note = note_update(note=note, content="one\ntwo\n")

    untouched = change(admin_client, note, content="one\r\ntwo\r\n")
    note.refresh_from_db()
    assert (untouched.status_code, note.content, note.version) == (302, "one\ntwo\n", 2)

    edited = change(admin_client, note, content="one\r\ntwo\r\nthree")
    note.refresh_from_db()
    assert (edited.status_code, note.content, note.version) == (302, "one\ntwo\nthree", 3)


@pytest.mark.parametrize(
    ("title", "content", "sent_title", "sent_content"),
    [
        # A text box drops line breaks; a text area sends each as CRLF, a lone CR
        # too (the page's HTML parser reads it as a line break).
        ("first\nsecond", "body", "firstsecond", "body"),
        ("first\r\nsecond", "body", "firstsecond", "body"),
        ("cr note", "line one\rline two", "cr note", "line one\r\nline two"),
        ("mixed", "a\r\rb\r\nc\n", "mixed", "a\r\n\r\nb\r\nc\r\n"),
    ],
)
def test_saving_a_change_page_untouched_keeps_the_title_and_content(
    admin_client, note, title, content, sent_title, sent_content
):
    """Issue A4: ticking "pinned" alone changed the title and content a browser sent back."""
    note = note_update(note=note, title=title, content=content)

    response = change(admin_client, note, title=sent_title, content=sent_content, pinned="on")

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.title, note.content, note.pinned, note.version) == (title, content, True, 3)


def test_a_title_edited_on_the_change_page_is_saved_as_sent(admin_client, note):
    note = note_update(note=note, title="first\nsecond")

    response = change(admin_client, note, title="first second")

    assert response.status_code == 302
    assert Note.objects.get().title == "first second"


def test_content_at_the_limit_saves_though_a_browser_sends_its_line_breaks_as_crlf(admin_client, note, settings):
    """Issue A3: the length was checked on the CRLF text, 150,000 characters here."""
    content = "a\n" * (settings.NOTES_MAX_CONTENT_CHARS // 2)
    note = note_update(note=note, content=content)

    response = change(admin_client, note, content=content.replace("\n", "\r\n"), pinned="on")

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.content, note.pinned, note.version) == (content, True, 3)


def test_content_longer_than_the_api_takes_is_a_form_error(admin_client, note, user, settings):
    too_long = "x" * (settings.NOTES_MAX_CONTENT_CHARS + 1)

    edited = change(admin_client, note, content=too_long)
    added = admin_client.post(f"{CHANGELIST}add/", {"owner": user.pk, "title": "t", "content": too_long, "tags": ""})

    for response in (edited, added):
        assert response.status_code == 200
        assert "Ensure this value has at most" in response.content.decode()
    assert Note.objects.get().content == "milk"


def test_saving_over_a_change_made_since_the_page_opened_is_refused(admin_client, note):
    seen = note.version
    note_update(note=note, content="IMPORTANT", tags=["urgent"])  # by the owner, meanwhile

    response = change(admin_client, note, title="Retitled", content="milk", tags="home", seen_version=seen)

    assert response.status_code == 200
    assert "The note was changed while this page was open (it is at version 2 now)" in response.content.decode()
    note.refresh_from_db()
    assert (note.title, note.content, note.tags, note.version) == ("Groceries", "IMPORTANT", ["urgent"], 2)


def test_a_change_form_without_the_version_it_was_drawn_at_is_refused(admin_client, note):
    response = admin_client.post(f"{CHANGELIST}{note.pk}/change/", {"title": "New", "content": "", "tags": ""})

    assert response.status_code == 200
    assert Note.objects.get().version == 1


@pytest.mark.parametrize(
    ("url", "query"),
    [
        ("/admin/notes/publiclink/", {"token__startswith": "a"}),
        (CHANGELIST, {"title": "Groceries"}),
        (CHANGELIST, {"content__regex": "("}),
        (CHANGELIST, {"tags__contains": "x"}),
        (CHANGELIST, {"created_at__year": "99999"}),
        (CHANGELIST, {"updated_at__year__gt": "99999"}),
        (CHANGELIST, {"search_content__startswith": "m"}),
        ("/admin/notes/revision/", {"content__iregex": "["}),
        ("/admin/accounts/user/", {"username": "\x00"}),
        ("/admin/accounts/user/", {"password__startswith": "md5"}),
        ("/admin/accounts/authtoken/", {"digest__startswith": "a"}),
        ("/admin/accounts/authtoken/", {"created__year": "99999"}),
        ("/admin/auth/group/", {"name__regex": "("}),
    ],
)
def test_a_lookup_no_filter_offers_is_refused(admin_client, note, url, query):
    response = admin_client.get(url, query)

    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"updated_at__year": "9999"},
        {"updated_at__year": "9999", "updated_at__month": "12"},
        {"updated_at__year": "9999", "updated_at__month": "12", "updated_at__day": "31"},
        {"updated_at__year": "2026", "updated_at__month": "12", "updated_at__day": "9" * 20},
        {"updated_at__year": "9" * 20},
        {"updated_at__year": "0"},
        {"tag": "\x00"},
        {"tag": "not a tag!"},
        {"owner__id__exact": "abc"},
        {"pinned__exact": "maybe"},
    ],
)
def test_a_filter_value_no_note_can_match_shows_the_whole_list(admin_client, note, query):
    response = admin_client.get(CHANGELIST, query)

    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}?e=1")


def test_the_offered_filters_still_filter(admin_client, note, user):
    other = NoteFactory(owner=user, title="Elsewhere", tags=["work"])
    year = note.updated_at.year

    pages = [
        admin_client.get(CHANGELIST, query).content.decode()
        for query in ({"tag": "Home"}, {"owner__id__exact": user.pk, "updated_at__year": year}, {"pinned__exact": "0"})
    ]

    assert "Groceries" in pages[0]
    assert "Elsewhere" not in pages[0]
    assert all("Groceries" in page and other.title in page for page in pages[1:])


def test_a_search_of_too_many_words_says_so(admin_client, note):
    response = admin_client.get(CHANGELIST, {"q": " ".join(["milk"] * 51)}, follow=True)

    assert response.redirect_chain == [(f"{CHANGELIST}?e=1", 302)]
    assert "Search for at most 50 words at a time." in response.content.decode()
    assert admin_client.get(CHANGELIST, {"q": " ".join(["milk"] * 50)}).status_code == 200


@pytest.mark.parametrize("selected", ["abc", "", "1.5", "1\x00", "9" * 30])
def test_an_action_on_an_id_that_cannot_exist_is_refused(admin_client, note, selected):
    response = admin_client.post(CHANGELIST, {"action": "pin", "_selected_action": [note.pk, selected]})

    assert response.status_code == 400
    assert Note.objects.get().pinned is False


@pytest.mark.parametrize(
    ("url", "action"),
    [
        ("/admin/accounts/user/", "delete_selected"),
        ("/admin/auth/group/", "delete_selected"),
        ("/admin/accounts/authtoken/", "revoke"),
        ("/admin/notes/publiclink/", "revoke"),
    ],
)
def test_every_changelist_refuses_such_ids(admin_client, url, action):
    Group.objects.create(name="editors")

    response = admin_client.post(url, {"action": action, "_selected_action": ["abc"]})

    assert response.status_code == 400
    assert Group.objects.exists()


def test_deleting_a_live_note_says_it_moves_to_the_trash(admin_client, note, settings):
    page = admin_client.get(f"{CHANGELIST}{note.pk}/delete/").content.decode()

    assert "Move the note “Groceries” to the trash? It can be restored from there" in page
    assert f"deleted forever {settings.NOTES_TRASH_DAYS} days later" in page
    assert 'value="Move to the trash"' in page
    assert "All of the following related items will be deleted" not in page


def test_deleting_a_trashed_note_says_it_is_forever(admin_client, note):
    note_trash(note=note)

    page = admin_client.get(f"{CHANGELIST}{note.pk}/delete/").content.decode()

    assert "Delete the note “Groceries” forever?" in page
    assert 'value="Yes, delete it forever"' in page
    assert "<li>Revision: <a href=" in page  # what goes with it


def test_the_owner_filter_is_for_staff_who_may_see_users(note, user):
    viewer = viewer_client("view_note")
    user_viewer = viewer_client("view_note", "view_user")

    hidden = viewer.get(CHANGELIST).content.decode()
    shown = user_viewer.get(CHANGELIST).content.decode()

    assert f"?owner__id__exact={user.pk}" not in hidden
    assert f"?owner__id__exact={user.pk}" in shown
    assert viewer.get(CHANGELIST, {"owner__id__exact": user.pk}).status_code == 400


def test_a_trash_confirmation_posted_twice_leaves_the_note_in_the_trash(admin_client, note):
    """Issue A2: the second post (a double click, a resubmit) deleted the note forever."""
    form = confirmation_form(admin_client, f"{CHANGELIST}{note.pk}/delete/")

    first = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", form)
    second = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", form, follow=True)

    assert first.status_code == 302
    assert second.status_code == 200
    assert "The note “Groceries” is already in the trash: nothing was deleted." in second.content.decode()
    trashed = Note.objects.get(pk=note.pk)
    assert (trashed.is_trashed, trashed.version) == (True, 2)
    assert LogEntry.objects.count() == 1  # the second post's entry went with its transaction


def test_a_trash_confirmation_posted_after_the_owner_trashed_the_note_deletes_nothing(admin_client, auth_client, note):
    form = confirmation_form(admin_client, f"{CHANGELIST}{note.pk}/delete/")
    assert auth_client.delete(f"/api/notes/{note.pk}/").status_code == 204

    response = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", form, follow=True)

    assert response.status_code == 200
    assert "already in the trash: nothing was deleted" in response.content.decode()
    trashed = Note.objects.get(pk=note.pk)
    assert (trashed.is_trashed, trashed.version) == (True, 2)
    assert auth_client.get(f"/api/trash/{note.pk}/").status_code == 200


def test_a_post_that_does_not_ask_for_forever_never_deletes_a_trashed_note(admin_client, note):
    note_trash(note=note)

    response = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert Note.objects.get(pk=note.pk).version == 2


def test_deleting_forever_needs_the_page_drawn_for_the_note_as_it_is(admin_client, auth_client, note):
    note = note_trash(note=note)
    form = confirmation_form(admin_client, f"{CHANGELIST}{note.pk}/delete/")
    # Meanwhile the owner restores it, edits it and trashes it again.
    auth_client.post(f"/api/trash/{note.pk}/restore/")
    auth_client.patch(f"/api/notes/{note.pk}/", {"content": "new, unseen"}, format="json")
    auth_client.delete(f"/api/notes/{note.pk}/")

    stale = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", form, follow=True)
    kept = Note.objects.filter(pk=note.pk).exists()
    fresh = admin_client.post(
        f"{CHANGELIST}{note.pk}/delete/", confirmation_form(admin_client, f"{CHANGELIST}{note.pk}/delete/")
    )

    assert "changed since the page was drawn: nothing was deleted" in stale.content.decode()
    assert kept
    assert fresh.status_code == 302
    assert not Note.objects.filter(pk=note.pk).exists()


def test_saving_a_note_the_owner_trashed_since_the_page_was_drawn_says_nothing_was_saved(note):
    # Django answered a bare 403: a trashed note is not changed (has_change_permission).
    client = viewer_client("view_note", "change_note")
    page = client.get(f"{CHANGELIST}{note.pk}/change/")
    note_trash(note=note)

    response = change(client, note, title="Shopping")

    assert page.status_code == 200
    assert (response.status_code, response["Location"]) == (302, CHANGELIST)
    assert "nothing was saved" in client.get(CHANGELIST).content.decode()
    assert Note.objects.get(pk=note.pk).title == "Groceries"


def test_a_viewer_posting_a_change_form_is_still_refused(note):
    response = change(viewer_client("view_note"), note, title="Shopping")

    assert response.status_code == 403
    assert Note.objects.get(pk=note.pk).title == "Groceries"


def test_moving_a_note_to_the_trash_from_its_delete_page_says_so(note):
    client = viewer_client("view_note", "change_note", "delete_note")

    response = client.post(f"{CHANGELIST}{note.pk}/delete/", {"post": "yes"}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert "The note “Groceries” was moved to the trash: restore it from there within 30 days." in page
    assert "deleted successfully" not in page
    assert Note.objects.get(pk=note.pk).is_trashed


def test_deleting_a_trashed_note_forever_says_it_was_deleted(note):
    note = note_trash(note=note)
    client = viewer_client("view_note", "change_note", "delete_note")
    form = confirmation_form(client, f"{CHANGELIST}{note.pk}/delete/")

    response = client.post(f"{CHANGELIST}{note.pk}/delete/", form, follow=True)

    assert "was deleted successfully" in response.content.decode()
    assert not Note.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize(("codenames", "shown"), [(("view_note",), False), (("view_note", "view_revision"), True)])
def test_a_notes_history_is_shown_to_who_may_view_revisions(note, codenames, shown):
    note_update(note=note, title="Shopping")

    page = viewer_client(*codenames).get(f"{CHANGELIST}{note.pk}/change/").content.decode()

    assert ("/admin/notes/revision/" in page) is shown
    assert ("<td>Groceries</td>" in page) is shown


def test_a_title_with_a_right_to_left_override_cannot_reverse_the_admins_sentences(admin_client, user):
    # "T1 \u202eRTL" turned the rest of "The note “…” was moved to the trash" around in the browser.
    note = NoteFactory(owner=user, title="T1 \u202eRTL\u200bzw")

    response = admin_client.post(f"{CHANGELIST}{note.pk}/delete/", {"post": "yes"}, follow=True)

    assert "The note “\u2068T1 \u202eRTL\u200bzw\u2069” was moved to the trash" in response.content.decode()
    assert Note.objects.get(pk=note.pk).title == "T1 \u202eRTL\u200bzw"  # kept as written
    assert str(NoteFactory(owner=user, title="Groceries")) == "Groceries"

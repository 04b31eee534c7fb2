"""The browsable API's pages answer as the JSON API does: the status of the request made, never a 500."""

import json
import re

import pytest
from django.test import Client

from notes.models import Note
from notes.services import note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def browser(user):
    client = Client(HTTP_ACCEPT=HTML)
    client.force_login(user)
    return client


@pytest.fixture
def note(user):
    return note_update(note=NoteFactory(owner=user, title="Groceries", content="", tags=["home"]), content="milk")


def send(client, method, url, body=None, **headers):
    return getattr(client, method)(url, json.dumps(body or {}), content_type="application/json", **headers)


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_change_with_if_match_answers_its_page(browser, note, method):
    response = send(browser, method, f"/api/notes/{note.pk}/", {"title": "Fresh"}, HTTP_IF_MATCH='"2"')

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    assert "text/html" in response["Content-Type"]
    assert Note.objects.get().title == "Fresh"


def test_restoring_a_revision_with_if_match_answers_its_page(browser, note):
    response = send(browser, "post", f"/api/notes/{note.pk}/revisions/1/restore/", HTTP_IF_MATCH='"2"')

    assert (response.status_code, response["ETag"]) == (200, '"3"')
    assert Note.objects.get().content == ""


def test_restoring_from_the_trash_with_if_match_answers_its_page(browser, note):
    note_trash(note=note)

    response = send(browser, "post", f"/api/trash/{note.pk}/restore/", HTTP_IF_MATCH='"3"')

    assert (response.status_code, response["ETag"]) == (200, '"4"')
    assert Note.objects.get().deleted_at is None


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_read_with_a_stale_if_match_answers_a_412_page(browser, note, method):
    # As the JSON API (RFC 9110, 13.1.1), drawn as a page: it answered 500 once, when the forms were drawn.
    stale = getattr(browser, method)(f"/api/notes/{note.pk}/", HTTP_IF_MATCH='"1"')
    current = getattr(browser, method)(f"/api/notes/{note.pk}/", HTTP_IF_MATCH='"2"')

    assert (stale.status_code, stale["ETag"]) == (412, '"2"')
    assert "text/html" in stale["Content-Type"]
    assert (current.status_code, current["ETag"]) == (200, '"2"')


def test_a_trashed_note_read_with_a_stale_if_match_answers_a_412_page(browser, note):
    note_trash(note=note)

    stale = browser.get(f"/api/trash/{note.pk}/", HTTP_IF_MATCH='"1"')
    current = browser.get(f"/api/trash/{note.pk}/", HTTP_IF_MATCH='"3"')

    assert (stale.status_code, stale["ETag"]) == (412, '"3"')
    assert "text/html" in stale["Content-Type"]
    assert (current.status_code, current["ETag"]) == (200, '"3"')


def test_a_stale_change_is_still_412(browser, note):
    response = send(browser, "patch", f"/api/notes/{note.pk}/", {"title": "Fresh"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    assert Note.objects.get().title == "Groceries"


@pytest.mark.parametrize(
    "body",
    [
        {"expires_at": "2000-01-01T00:00:00Z"},
        {"expires_at": "soon"},
        {"expires_at": 5},
        {"expires_at": ["a"]},
        {"expires_at": "2030-01-01T00:00:00Z", "bogus": 1},
    ],
)
def test_a_bad_share_answers_its_error_on_the_page(browser, note, body):
    response = send(browser, "post", f"/api/notes/{note.pk}/share/", body)

    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]


def test_a_bad_share_sent_from_the_form_answers_its_error(browser, note):
    response = browser.post(f"/api/notes/{note.pk}/share/", {"expires_at": "maybe"})

    assert response.status_code == 400
    # Shown again as it was sent, with its error.
    assert 'value="maybe"' in response.content.decode()


def test_a_body_over_the_limit_from_a_page_is_413(browser, settings):
    response = browser.post("/api/notes/", {"title": "x", "content": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    assert response.status_code == 413
    assert "Request body too large" in response.content.decode()
    assert not Note.objects.exists()


@pytest.mark.parametrize("method", ["options", "post", "delete"])
def test_the_api_docs_page_answers_get_only(client, method):
    response = getattr(client, method)("/api/docs/")

    assert response.status_code == 405
    assert client.get("/api/docs/").status_code == 200


def test_the_share_page_offers_a_form_for_what_a_link_takes(browser, note):
    page = browser.get(f"/api/notes/{note.pk}/share/").content.decode()

    assert 'name="expires_at"' in page


def test_a_notes_form_shows_its_tags_in_one_text_box(browser, note):
    note_update(note=note, tags=["home", "work"])

    page = browser.get(f"/api/notes/{note.pk}/").content.decode()

    assert 'name="tags"' in page
    assert 'value="home, work"' in page
    assert "Lists are not currently supported in HTML input" not in page


def test_a_notes_form_shown_again_after_an_error_keeps_its_tags_as_typed(browser, note):
    response = browser.put(
        f"/api/notes/{note.pk}/", "title=&tags=home%2C+work", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert 'value="home, work"' in response.content.decode()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/password/", "old_password=typed-secret-1&new_password=typed-secret-2"),
        ("/api/auth/token/", "username=nobody&password=typed-secret-1"),
    ],
)
def test_a_form_shown_again_after_an_error_leaves_its_passwords_out(browser, path, body):
    response = browser.post(path, body, content_type="application/x-www-form-urlencoded")
    page = response.content.decode()

    assert response.status_code == 400
    assert re.search(r'<input[^>]*name="(old_)?password"', page)
    assert "typed-secret" not in page


def test_the_import_pages_raw_form_offers_json_first(browser):
    page = browser.get("/api/import/").content.decode()

    offered = re.findall(r'<option value="([^"]+)"', page[page.index('name="_content_type"') :])
    assert offered[:2] == ["application/json", "multipart/form-data"]


def test_saving_a_notes_form_keeps_what_it_showed(browser, note):
    note = note_update(note=note, content="one\ntwo\n", tags=["home", "work"])

    # What a browser sends for the page's PUT form, untouched: CRLF line breaks, tags as shown.
    untouched = browser.put(
        f"/api/notes/{note.pk}/",
        "title=Groceries&content=one%0D%0Atwo%0D%0A&tags=home%2C+work",
        content_type="application/x-www-form-urlencoded",
    )
    retitled = browser.put(
        f"/api/notes/{note.pk}/",
        "title=Shopping&content=one%0D%0Atwo%0D%0A&tags=home%2C+work",
        content_type="application/x-www-form-urlencoded",
    )

    assert (untouched.status_code, retitled.status_code) == (200, 200)
    saved = Note.objects.get()
    assert (saved.title, saved.content, saved.tags, saved.version) == ("Shopping", "one\ntwo\n", ["home", "work"], 4)


def test_saving_a_notes_form_keeps_text_a_browser_cannot_send_back(browser, note):
    """Issue A4: the form's text box drops the title's line breaks; its text area sends a lone CR as CRLF."""
    note = note_update(note=note, title="first\nsecond", content="line one\rline two")

    response = browser.put(
        f"/api/notes/{note.pk}/",
        "title=firstsecond&content=line+one%0D%0Aline+two&tags=home&pinned=true",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    saved = Note.objects.get()
    assert (saved.title, saved.content, saved.pinned) == ("first\nsecond", "line one\rline two", True)


def test_a_notes_form_draws_content_that_starts_with_a_line_break_whole(browser, note):
    """The HTML parser drops one line break right after <textarea>: the page puts one there to be dropped."""
    note_update(note=note, content="\n\nindented")

    page = browser.get(f"/api/notes/{note.pk}/").content.decode()

    assert re.search(r'<textarea name="content"[^>]*>\n\n\nindented</textarea>', page)


def test_content_at_the_limit_saves_from_a_form_though_its_line_breaks_come_as_crlf(auth_client, note, settings):
    """Issue A3: the length was checked on the CRLF text, 150,000 characters here."""
    content = "a\n" * (settings.NOTES_MAX_CONTENT_CHARS // 2)
    note = note_update(note=note, content=content)

    response = auth_client.put(
        f"/api/notes/{note.pk}/",
        {"title": "Groceries", "content": content.replace("\n", "\r\n"), "tags": "home", "pinned": "true"},
        format="multipart",
    )

    assert response.status_code == 200
    saved = Note.objects.get()
    assert (saved.content, saved.pinned) == (content, True)


def test_json_content_is_counted_as_sent(auth_client, settings):
    response = auth_client.post(
        "/api/notes/", {"title": "a", "content": "a\r\n" * (settings.NOTES_MAX_CONTENT_CHARS // 3 + 1)}, format="json"
    )

    assert response.status_code == 400
    assert "content" in response.json()


def test_a_form_sends_tags_comma_separated_or_one_per_field(auth_client):
    comma = auth_client.post("/api/notes/", {"title": "a", "tags": "Home, work,"}, format="multipart")
    repeated = auth_client.post("/api/notes/", {"title": "b", "tags": ["home", "work"]}, format="multipart")
    cleared = auth_client.patch(comma.json()["url"], "tags=", content_type="application/x-www-form-urlencoded")

    assert comma.json()["tags"] == repeated.json()["tags"] == ["home", "work"]
    assert cleared.json()["tags"] == []


def test_json_tags_are_still_a_list_of_names(auth_client):
    response = auth_client.post("/api/notes/", {"title": "a", "tags": ["home, work"]}, format="json")

    assert response.status_code == 400
    assert "tags" in response.json()


def test_json_content_keeps_its_crlf(auth_client):
    response = auth_client.post("/api/notes/", {"title": "a", "content": "one\r\ntwo"}, format="json")

    assert response.json()["content"] == "one\r\ntwo"


def test_restoring_a_revision_offers_a_button_not_fields_it_would_ignore(browser, note):
    page = browser.get(f"/api/notes/{note.pk}/revisions/1/restore/").content.decode()

    assert 'name="title"' not in page
    assert 'name="content"' not in page


@pytest.mark.parametrize(
    ("next_page", "landing"), [("https://evil.example/", "/"), ("/api/notes/", "/api/notes/"), (None, "/")]
)
def test_logging_out_of_the_browsable_api_lands_on_a_page_of_this_site(browser, next_page, landing):
    response = browser.post("/api-auth/logout/" + (f"?next={next_page}" if next_page else ""))

    assert (response.status_code, response["Location"]) == (302, landing)
    assert "_auth_user_id" not in browser.session


def test_a_typed_logout_url_shows_a_page_with_the_button_that_logs_out(browser):
    page = browser.get("/api-auth/logout/?next=/api/notes/")
    html = page.content.decode()

    assert page.status_code == 200
    assert re.search(r'<form action="/api-auth/logout/" method="post">', html)
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="next" value="/api/notes/">' in html
    assert "_auth_user_id" in browser.session  # showing the page logs no one out


def test_a_typed_logout_url_when_logged_out_offers_the_login(client):
    page = client.get("/api-auth/logout/", HTTP_ACCEPT=HTML)

    assert page.status_code == 200
    assert 'href="/api-auth/login/"' in page.content.decode()


def test_an_admin_form_over_the_body_limit_is_413(admin_client, settings):
    response = admin_client.post(
        "/admin/notes/note/add/", {"title": "x", "content": "y" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    )

    assert response.status_code == 413
    assert f"The limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes." in response.content.decode()
    assert not Note.objects.exists()

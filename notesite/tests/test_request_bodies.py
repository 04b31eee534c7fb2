"""Form and multipart bodies hold UTF-8 text, coded bodies are refused, and a malformed multipart body is 400.

Found against real gunicorn: form fields that were no UTF-8 were stored as
U+FFFD (or as Latin-1), a gzip body was parsed as plain bytes, and a
multipart body with no boundary in it was taken as an empty form.
"""

import gzip
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.test import Client

from notes.models import Note
from notes.tests.attachment_helpers import body, upload
from notes.tests.factories import NoteFactory
from notesite.middleware import UNDECODABLE

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=B"
TEXT = "é 日本 😀"
JSON_AS_FORM = (
    "The body is JSON sent as a form (Content-Type: application/x-www-form-urlencoded, "
    "as `curl -d` sends it): send it with Content-Type: application/json."
)


def created_and_patched(client, user, body, content_type):
    """The same body sent as a new note and as a PATCH of a note titled "Kept", then read back."""
    note = NoteFactory(owner=user, title="Kept")
    created = client.post("/api/notes/", body, content_type=content_type)
    patched = client.patch(f"/api/notes/{note.pk}/", body, content_type=content_type)
    note.refresh_from_db()
    return created, patched, note


def multipart(*fields):
    """A multipart body of (name, value bytes) fields, boundary B."""
    parts = [b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % field for field in fields]
    return b"".join(parts) + b"--B--\r\n"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (b"title=%FF%FE", "title"),
        (b"title=ok&content=%ED%A0%80", "content"),  # an encoded surrogate
        (b"title=\xff\xfe", "title"),  # raw bytes, which Django took as Latin-1
        (b"title=ok&%FF=1", "\ufffd"),
    ],
)
def test_a_form_field_that_is_no_utf8_text_is_400_naming_it(auth_client, form, field):
    response = auth_client.post("/api/notes/", form, content_type=FORM)

    assert response.status_code == 400, response.content
    assert response.json() == {field: [UNDECODABLE]}
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param(((b"title", b"\xff\xfe"),), "title", id="raw-bytes"),
        pytest.param(((b"title", b"ok"), (b"content", b"\xed\xa0\x80")), "content", id="encoded-surrogate"),
    ],
)
def test_a_multipart_field_that_is_no_utf8_text_is_400_naming_it(auth_client, fields, field):
    response = auth_client.post("/api/notes/", multipart(*fields), content_type=MULTIPART)

    assert response.status_code == 400, response.content
    assert response.json() == {field: [UNDECODABLE]}
    assert not Note.objects.exists()


def test_a_form_patch_that_is_no_utf8_text_changes_nothing(auth_client, user):
    note = NoteFactory(owner=user, title="Kept")

    response = auth_client.patch(f"/api/notes/{note.pk}/", b"title=%FF", content_type=FORM)

    note.refresh_from_db()
    assert response.status_code == 400
    assert (note.title, note.version) == ("Kept", 1)


def test_a_form_nul_is_refused_as_the_query_strings_is(auth_client):
    response = auth_client.post("/api/notes/", b"title=a%00b", content_type=FORM)

    assert response.status_code == 400
    assert response.json() == {"title": ["Null characters are not allowed."]}


@pytest.mark.parametrize("body", [b'{"title": "From curl"}', b'  [{"title": "x"}]', b'{"title":'])
def test_json_sent_as_a_form_is_400_saying_to_send_json(auth_client, user, body):
    # What `curl -d '{...}'` sends without -H 'Content-Type: application/json'.
    created, patched, note = created_and_patched(auth_client, user, body, FORM)

    assert (created.status_code, patched.status_code) == (400, 400)
    assert created.json() == patched.json() == {"detail": JSON_AS_FORM}
    assert (Note.objects.count(), note.title, note.version) == (1, "Kept", 1)


def test_a_form_whose_field_starts_with_an_encoded_brace_is_a_form(auth_client):
    response = auth_client.post("/api/notes/", b"title=%7Bbraces%7D", content_type=FORM)

    assert response.status_code == 201
    assert response.json()["title"] == "{braces}"


def test_non_ascii_text_arrives_whole_from_forms(auth_client):
    encoded = TEXT.encode()

    form = auth_client.post("/api/notes/", b"title=" + encoded + b"&content=%C3%A9", content_type=FORM)
    fields = multipart((b"title", encoded), (b"content", encoded))
    parts = auth_client.post("/api/notes/", fields, content_type=MULTIPART)

    assert (form.status_code, parts.status_code) == (201, 201)
    assert (form.json()["title"], form.json()["content"]) == (TEXT, "é")
    assert (parts.json()["title"], parts.json()["content"]) == (TEXT, TEXT)


def test_the_browsable_apis_forms_send_non_ascii_text(user):
    browser = Client(HTTP_ACCEPT="text/html", enforce_csrf_checks=True)
    browser.force_login(user)
    token = browser.get("/api/notes/").cookies["csrftoken"].value

    # What the page's forms send: a multipart POST, and a form-encoded PUT (with the token in a header).
    created = browser.post("/api/notes/", {"title": TEXT, "content": TEXT, "csrfmiddlewaretoken": token})
    note = Note.objects.get()
    edited = browser.put(
        f"/api/notes/{note.pk}/", f"title={TEXT}&content=x".encode(), content_type=FORM, HTTP_X_CSRFTOKEN=token
    )

    assert (created.status_code, edited.status_code) == (201, 200)
    note.refresh_from_db()
    assert (note.title, note.content) == (TEXT, "x")


def test_the_admin_saves_non_ascii_text(client, user):
    client.force_login(type(user).objects.create_superuser("root", password="x"))

    response = client.post("/admin/notes/note/add/", {"owner": user.pk, "title": TEXT, "content": TEXT, "tags": "日本"})

    assert response.status_code == 302
    assert Note.objects.values_list("title", "content", "tags").get() == (TEXT, TEXT, ["日本"])


def test_an_uploaded_files_bytes_and_name_are_kept_as_sent(auth_client, user):
    note = NoteFactory(owner=user)
    data = b"\xff\xfe\xed\xa0\x80 not text \x00"

    response = upload(auth_client, note, data, "日本 😀.bin")

    assert response.status_code == 201, response.content
    assert response.json()["filename"] == "日本 😀.bin"
    assert body(auth_client.get(response.json()["download_url"])) == data


def test_a_multipart_import_is_checked_the_same_way(auth_client):
    file = SimpleUploadedFile("notes.json", json.dumps([{"title": TEXT}]).encode(), "application/json")

    response = auth_client.post("/api/import/", {"file": file}, format="multipart")

    assert response.status_code == 201, response.content
    assert Note.objects.get().title == TEXT


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        pytest.param("gzip", gzip.compress(b'{"title": "gz"}'), id="gzip"),
        pytest.param("br", b'{"title": "plain bytes"}', id="br-over-plain-bytes"),
        pytest.param("x-bogus", b'{"title": "plain bytes"}', id="unknown-coding"),
        pytest.param("identity, gzip", gzip.compress(b'{"title": "gz"}'), id="identity-then-gzip"),
    ],
)
def test_a_coded_body_is_415_saying_what_is_accepted(auth_client, coding, data):
    response = auth_client.post("/api/notes/", data, content_type="application/json", HTTP_CONTENT_ENCODING=coding)

    assert response.status_code == 415, response.content
    assert "identity" in response.json()["detail"]
    assert response["Accept-Encoding"] == "identity"
    assert not Note.objects.exists()


def test_an_identity_body_is_read_as_any_other(auth_client):
    response = auth_client.post(
        "/api/notes/", b'{"title": "plain"}', content_type="application/json", HTTP_CONTENT_ENCODING="identity"
    )

    assert response.status_code == 201


def test_a_coded_upload_or_import_is_415(auth_client, user):
    note = NoteFactory(owner=user)
    file = SimpleUploadedFile("a.txt", gzip.compress(b"hello"))
    coded = {"HTTP_CONTENT_ENCODING": "gzip"}

    uploaded = auth_client.post(f"/api/notes/{note.pk}/attachments/", {"file": file}, format="multipart", **coded)
    raw_import = auth_client.post("/api/import/", gzip.compress(b"[]"), content_type="application/json", **coded)
    form_patch = auth_client.patch(f"/api/notes/{note.pk}/", b"title=x", content_type=FORM, **coded)

    assert (uploaded.status_code, raw_import.status_code, form_patch.status_code) == (415, 415, 415)
    assert not note.attachments.exists()


def test_a_json_body_that_is_no_utf8_is_400_saying_json_is_utf8(auth_client):
    latin1 = '{"title": "café"}'.encode("latin-1")

    response = auth_client.post("/api/notes/", latin1, content_type="application/json; charset=latin-1")

    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the body is not UTF-8 text: JSON must be UTF-8."}


def test_an_escaped_lone_surrogate_in_json_is_still_refused_as_before(auth_client):
    response = auth_client.post("/api/notes/", b'{"title": "\\ud800"}', content_type="application/json")

    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"garbage", id="no-boundary"),
        pytest.param(b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\ncut short', id="cut-short"),
        pytest.param(
            b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nno close\r\n--B\r\n', id="no-close-delimiter"
        ),
    ],
)
def test_a_malformed_multipart_body_is_400_saying_so(auth_client, user, data):
    created, patched, note = created_and_patched(auth_client, user, data, MULTIPART)

    assert (created.status_code, patched.status_code) == (400, 400)
    assert "malformed" in created.json()["detail"]
    assert "malformed" in patched.json()["detail"]
    assert (Note.objects.count(), note.title, note.version) == (1, "Kept", 1)


def test_a_malformed_upload_is_400_and_stores_nothing(auth_client, user):
    note = NoteFactory(owner=user)
    cut = b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhalf a fi'

    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", cut, content_type=MULTIPART)

    assert response.status_code == 400
    assert "malformed" in response.json()["detail"]
    assert not note.attachments.exists()


def test_a_well_formed_multipart_body_of_no_fields_is_an_empty_form(auth_client):
    response = auth_client.post("/api/notes/", b"--B--\r\n", content_type=MULTIPART)

    assert response.status_code == 400
    assert response.json() == {"title": ["This field is required."]}


def test_a_closing_boundary_split_between_reads_is_found(auth_client, settings):
    # Django reads a multipart body in chunks of its upload handlers' size.
    settings.FILE_UPLOAD_HANDLERS = ["notesite.tests.test_request_bodies.TinyChunks"]

    response = auth_client.post("/api/notes/", multipart((b"title", TEXT.encode())), content_type=MULTIPART)

    assert response.status_code == 201, response.content
    assert response.json()["title"] == TEXT


class TinyChunks(MemoryFileUploadHandler):
    chunk_size = 4

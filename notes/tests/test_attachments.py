"""Attachments (SPEC 3, "Attachments and public links"): upload, list, detail, delete."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from notes.models import Attachment, StoredFile
from notes.services import note_trash
from notes.tests.attachment_helpers import GIF, PNG, body, sha256, stored_files, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

FIELDS = {"id", "url", "download_url", "filename", "content_type", "size", "sha256", "created_at"}


@pytest.fixture
def others_attachment(other_user, other_client):
    note = NoteFactory(owner=other_user)
    return Attachment.objects.get(pk=upload(other_client, note, PNG, "secret.png").json()["id"])


def test_upload_answers_201_with_the_attachment(auth_client, note):
    response = upload(auth_client, note, PNG, "dot.png", "image/png")

    assert response.status_code == 201
    data = response.json()
    assert set(data) == FIELDS
    assert data["url"] == f"http://testserver/api/attachments/{data['id']}/"
    assert data["download_url"] == f"http://testserver/api/attachments/{data['id']}/download/"
    assert response["Location"] == data["url"]
    assert (data["filename"], data["content_type"], data["size"]) == ("dot.png", "image/png", len(PNG))
    assert data["sha256"] == sha256(PNG)
    assert data["created_at"].endswith("Z")
    assert Attachment.objects.get(pk=data["id"]).note == note


def test_upload_stores_the_bytes_in_the_attachments_folder(auth_client, note, attachments_dir):
    upload(auth_client, note, PNG)

    [path] = stored_files(attachments_dir)
    assert path.read_bytes() == PNG


def test_content_type_comes_from_the_bytes_not_the_client(auth_client, note):
    response = upload(auth_client, note, PNG, "notes.txt", "text/html")

    assert response.json()["content_type"] == "image/png"


def test_an_html_file_claiming_to_be_an_image_is_stored_as_html(auth_client, note):
    page = b"<html><body><script>alert(document.cookie)</script></body></html>"

    response = upload(auth_client, note, page, "cat.png", "image/png")

    assert response.status_code == 201
    assert response.json()["content_type"] == "text/html; charset=utf-8"
    download = auth_client.get(response.json()["download_url"])
    assert download["Content-Type"] == "text/html; charset=utf-8"
    assert download["Content-Disposition"] == 'attachment; filename="cat.png"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]


def test_a_gif_that_is_also_a_script_is_served_as_an_image_that_cannot_run(auth_client, note):
    polyglot = GIF + b"=1;alert(1)//<script>alert(2)</script>"

    response = upload(auth_client, note, polyglot, "x.html", "text/html")
    download = auth_client.get(response.json()["download_url"])

    assert response.json()["content_type"] == "image/gif"
    assert download["Content-Type"] == "image/gif"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert body(download) == polyglot


def test_an_html_page_carrying_binary_is_neither_an_image_nor_a_page(auth_client, note):
    polyglot = b"<html><script>alert(1)</script>" + PNG

    response = upload(auth_client, note, polyglot, "x.png", "image/png")
    download = auth_client.get(response.json()["download_url"])

    assert response.json()["content_type"] == "application/octet-stream"
    assert download["Content-Disposition"] == 'attachment; filename="x.png"'


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.exe", "evil.exe"),
        ("re\x1bport\x07\u202e.pdf", "report.pdf"),
        ("  spaced   out .txt ", "spaced out .txt"),
    ],
)
def test_file_names_lose_their_directories_and_control_characters(auth_client, note, sent, kept):
    response = upload(auth_client, note, b"words", sent)

    assert response.status_code == 201
    assert response.json()["filename"] == kept


def test_a_file_name_of_only_dots_becomes_attachment(auth_client, note):
    from notes.attachments.services import safe_filename

    assert safe_filename("..") == safe_filename("/../") == safe_filename("\x00") == "attachment"
    assert len(safe_filename("a" * 300 + ".png")) == 255
    assert safe_filename("a" * 300 + ".png").endswith("a.png")


def test_a_zero_byte_file_is_400(auth_client, note):
    response = upload(auth_client, note, b"")

    assert response.status_code == 400
    assert response.json() == {"file": ["The submitted file is empty."]}
    assert not Attachment.objects.exists()


def test_no_file_is_400(auth_client, note):
    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", {}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["No file was submitted."]}


def test_two_files_in_one_upload_are_400_not_one_kept_silently(auth_client, note, attachments_dir):
    files = [SimpleUploadedFile("first.txt", b"first"), SimpleUploadedFile("second.txt", b"second")]

    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", {"file": files}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["Send one file per request; this one had 2."]}
    assert not Attachment.objects.exists()
    assert stored_files(attachments_dir) == []


def test_a_text_field_instead_of_a_file_is_400(auth_client, note):
    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", {"file": "just text"}, format="multipart")

    assert response.status_code == 400
    assert "file" in response.json()


def test_an_unknown_field_is_400(auth_client, note):
    file = SimpleUploadedFile("a.txt", b"a")
    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", {"file": file, "name": "x"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"name": ["Unknown field."]}


def test_json_is_415(auth_client, note):
    response = auth_client.post(f"/api/notes/{note.pk}/attachments/", {"file": "x"}, format="json")

    assert response.status_code == 415


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(auth_client, note, settings, attachments_dir):
    settings.NOTES_ATTACHMENT_MAX_BYTES = 1000

    response = upload(auth_client, note, b"x" * 1001)

    assert response.status_code == 413
    assert response.json() == {
        "detail": "File too large: the limit is 1000 bytes (NOTES_ATTACHMENT_MAX_BYTES).",
    }
    assert not Attachment.objects.exists()
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_a_file_at_the_limit_is_accepted(auth_client, note, settings):
    settings.NOTES_ATTACHMENT_MAX_BYTES = 1000

    assert upload(auth_client, note, b"x" * 1000).status_code == 201


def test_a_body_declared_over_the_limit_is_413_before_it_is_read(auth_client, note, settings):
    settings.NOTES_ATTACHMENT_MAX_BYTES = 1000

    response = auth_client.generic(
        "POST",
        f"/api/notes/{note.pk}/attachments/",
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10**9),
    )

    assert response.status_code == 413
    assert response.json()["detail"].startswith("File too large: the limit is 1000 bytes")


def test_uploads_are_not_bound_by_the_json_body_limit(auth_client, note, settings):
    settings.NOTES_MAX_BODY_BYTES = 1024
    data = bytes(range(256)) * 20  # 5 KiB

    response = upload(auth_client, note, data)

    assert response.status_code == 201
    assert response.json()["size"] == len(data)


def test_over_the_quota_is_413_and_nothing_is_stored(auth_client, note, settings, attachments_dir):
    settings.NOTES_USER_QUOTA_BYTES = 100
    upload(auth_client, note, b"a" * 60)

    response = upload(auth_client, note, b"b" * 41)

    assert response.status_code == 413
    assert response.json() == {
        "detail": "Storage quota exceeded: 60 of 100 bytes are used and this needs 41 more. "
        "Delete attachments (and empty the trash) to make room."
    }
    assert StoredFile.objects.count() == 1
    assert len(stored_files(attachments_dir)) == 1


def test_the_quota_counts_the_trash(auth_client, user, note, settings):
    settings.NOTES_USER_QUOTA_BYTES = 100
    upload(auth_client, note, b"a" * 60)
    note_trash(note=note)

    response = upload(auth_client, NoteFactory(owner=user), b"b" * 41)

    assert response.status_code == 413


def test_bytes_the_user_has_already_cost_no_quota(auth_client, user, note, settings):
    settings.NOTES_USER_QUOTA_BYTES = 100
    upload(auth_client, note, b"a" * 100)

    response = upload(auth_client, NoteFactory(owner=user), b"a" * 100, "again.txt")

    assert response.status_code == 201
    assert StoredFile.objects.count() == 1


def test_the_quota_is_per_user(auth_client, other_client, other_user, note, settings):
    settings.NOTES_USER_QUOTA_BYTES = 100
    upload(auth_client, note, b"a" * 100)

    response = upload(other_client, NoteFactory(owner=other_user), b"b" * 100)

    assert response.status_code == 201


def test_the_same_file_twice_is_stored_once(auth_client, user, note, attachments_dir):
    first = upload(auth_client, note, PNG, "one.png").json()
    second = upload(auth_client, NoteFactory(owner=user), PNG, "two.png").json()

    assert first["id"] != second["id"]
    assert first["sha256"] == second["sha256"]
    assert StoredFile.objects.count() == 1
    assert len(stored_files(attachments_dir)) == 1


def test_the_same_file_of_two_users_is_stored_for_each(auth_client, other_client, other_user, note):
    upload(auth_client, note, PNG)
    upload(other_client, NoteFactory(owner=other_user), PNG)

    assert StoredFile.objects.count() == 2


def test_list_is_the_envelope_oldest_first(auth_client, user, note):
    ids = [upload(auth_client, note, f"file {n}".encode(), f"{n}.txt").json()["id"] for n in range(3)]
    upload(auth_client, NoteFactory(owner=user), b"elsewhere")

    response = auth_client.get(f"/api/notes/{note.pk}/attachments/")

    assert response.status_code == 200
    data = response.json()
    assert (data["next"], data["previous"]) == (None, None)
    assert [item["id"] for item in data["results"]] == ids
    assert set(data["results"][0]) == FIELDS


def test_list_pages(auth_client, note):
    ids = [upload(auth_client, note, f"file {n}".encode()).json()["id"] for n in range(5)]

    first = auth_client.get(f"/api/notes/{note.pk}/attachments/", {"limit": 3}).json()
    second = auth_client.get(first["next"]).json()

    assert [item["id"] for item in first["results"] + second["results"]] == ids
    assert second["next"] is None


def test_list_costs_three_queries(auth_client, note, django_assert_num_queries):
    for n in range(5):
        upload(auth_client, note, f"file {n}".encode())

    with django_assert_num_queries(3):  # the token with its user, the note, the page with its files
        auth_client.get(f"/api/notes/{note.pk}/attachments/")


def test_detail_answers_the_attachment(auth_client, note, django_assert_num_queries):
    created = upload(auth_client, note, PNG, "dot.png").json()

    with django_assert_num_queries(2):  # the token with its user, the attachment with its file
        response = auth_client.get(created["url"])

    assert response.status_code == 200
    assert response.json() == created


def test_delete_removes_the_attachment_and_its_file(
    auth_client, note, attachments_dir, django_capture_on_commit_callbacks
):
    created = upload(auth_client, note, PNG).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(created["url"])

    assert response.status_code == 204
    assert auth_client.get(created["url"]).status_code == 404
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_a_file_is_kept_while_another_attachment_shows_it(
    auth_client, user, note, attachments_dir, django_capture_on_commit_callbacks
):
    first = upload(auth_client, note, PNG).json()
    second = upload(auth_client, NoteFactory(owner=user), PNG).json()

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(first["url"])

    assert len(stored_files(attachments_dir)) == 1
    assert body(auth_client.get(second["download_url"])) == PNG
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(second["url"])
    assert stored_files(attachments_dir) == []


def test_the_bytes_of_a_deleted_file_go_only_after_the_commit(
    auth_client, note, attachments_dir, django_capture_on_commit_callbacks
):
    created = upload(auth_client, note, PNG).json()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        auth_client.delete(created["url"])

    assert len(stored_files(attachments_dir)) == 1  # the transaction might still roll back
    callbacks[0]()
    assert stored_files(attachments_dir) == []


def test_the_database_refuses_to_drop_a_file_an_attachment_shows(auth_client, note):
    from django.db.models import RestrictedError

    upload(auth_client, note, PNG)

    with pytest.raises(RestrictedError):
        StoredFile.objects.all().delete()


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("delete", ""), ("get", "download/"), ("head", "download/")]
)
def test_another_users_attachment_is_404_like_a_missing_one(auth_client, others_attachment, method, suffix):
    response = getattr(auth_client, method)(f"/api/attachments/{others_attachment.pk}/{suffix}")
    missing = getattr(auth_client, method)(f"/api/attachments/999999999/{suffix}")

    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    assert Attachment.objects.filter(pk=others_attachment.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_note_has_no_attachments_to_show_or_take(auth_client, other_user, method):
    others = NoteFactory(owner=other_user)

    if method == "get":
        response = auth_client.get(f"/api/notes/{others.pk}/attachments/")
    else:
        response = upload(auth_client, others, PNG)

    assert response.status_code == 404
    assert not Attachment.objects.exists()


@pytest.mark.parametrize("pk", ["999999999", "abc", "99999999999999999999"])
def test_attachments_of_a_missing_note_are_404(auth_client, pk):
    assert auth_client.get(f"/api/notes/{pk}/attachments/").status_code == 404


def test_without_a_token_it_is_401(api_client, note):
    assert api_client.get(f"/api/notes/{note.pk}/attachments/").status_code == 401
    assert api_client.get("/api/attachments/1/download/").status_code == 401


def test_attachments_cannot_be_changed_in_place(auth_client, note):
    created = upload(auth_client, note, PNG).json()

    assert auth_client.put(created["url"], {"filename": "x"}, format="json").status_code == 405
    assert auth_client.patch(created["url"], {"filename": "x"}, format="json").status_code == 405


def test_adding_and_removing_attachments_is_recorded_for_the_note(auth_client, note, monkeypatch):
    from django.db import connection

    from notes.attachments import services

    recorded = []
    monkeypatch.setattr(
        services, "note_attachments_changed", lambda *, note: recorded.append((note.pk, connection.in_atomic_block))
    )

    created = upload(auth_client, note, PNG).json()
    auth_client.delete(created["url"])

    assert recorded == [(note.pk, True), (note.pk, True)]


def test_a_refused_upload_records_nothing(auth_client, note, monkeypatch, settings):
    from notes.attachments import services

    recorded = []
    monkeypatch.setattr(services, "note_attachments_changed", lambda *, note: recorded.append(note.pk))
    settings.NOTES_USER_QUOTA_BYTES = 1

    upload(auth_client, note, PNG)

    assert recorded == []


def test_attachments_do_not_change_the_note(auth_client, note):
    created = upload(auth_client, note, PNG).json()
    auth_client.delete(created["url"])

    note.refresh_from_db()
    assert (note.version, note.revisions.count()) == (1, 0)


def test_note_attachments_changed_leaves_the_note_as_it_was(note):
    from notes.services import note_attachments_changed

    before = (note.version, note.updated_at)

    note_attachments_changed(note=note)

    note.refresh_from_db()
    assert (note.version, note.updated_at) == before


def test_the_browsable_api_offers_a_file_input_and_its_form_uploads(user, note):
    browser = Client(HTTP_ACCEPT="text/html", enforce_csrf_checks=True)
    browser.force_login(user)
    path = f"/api/notes/{note.pk}/attachments/"

    file_box = rb'<input[^>]*type="file"[^>]*name="file"|<input[^>]*name="file"[^>]*type="file"'

    page = browser.get(path)
    token = page.cookies["csrftoken"].value
    # What the page's form sends: multipart, the file and the CSRF token.
    posted = browser.post(path, {"file": SimpleUploadedFile("dot.png", PNG), "csrfmiddlewaretoken": token})

    assert page.status_code == 200
    assert re.search(file_box, page.content)
    assert b'enctype="multipart/form-data"' in page.content
    assert posted.status_code == 201
    # The page answering the upload offers the form again, for the next file.
    assert re.search(file_box, posted.content)
    [attachment] = Attachment.objects.filter(note=note)
    assert (attachment.filename, attachment.file.sha256) == ("dot.png", sha256(PNG))

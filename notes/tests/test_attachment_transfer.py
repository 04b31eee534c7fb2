"""Export and import carry attachments (SPEC 3): base64 in JSON, files beside the Markdown in the zip."""

import base64
import errno
import hashlib
import io
import json
import logging
import os
import tracemalloc
import zipfile
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from notes.attachments.storage import attachment_storage
from notes.models import Attachment, Note, StoredFile
from notes.tests.attachment_helpers import GIF, PNG, body, fill_the_disk, sha256, stored_files, upload
from notes.tests.factories import NoteFactory
from notes.transfer import markdown
from notes.transfer.attached import ExportInterrupted

pytestmark = pytest.mark.django_db

DATA = os.urandom(300_000)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def exported(client, export_format):
    response = client.get("/api/export/", {"format": export_format})
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def import_into(user, data, export_format, **params):
    content_type = "application/json" if export_format == "json" else "application/zip"
    query = "?dry_run=true" if params.get("dry_run") else ""
    return client_for(user).post(f"/api/import/{query}", data=data, content_type=content_type)


@pytest.fixture
def source(user, auth_client):
    """Notes with files: two share the same bytes; one has none."""
    first = NoteFactory(owner=user, title="Trip", content="See the map.")
    second = NoteFactory(owner=user, title="Trip", content="Same title, other note.")
    NoteFactory(owner=user, title="Plain")
    upload(auth_client, first, PNG, "map.png")
    upload(auth_client, first, DATA, "../tickets?.bin")
    upload(auth_client, first, b"notes in text\n", "notes.txt")
    upload(auth_client, second, PNG, "map.png")
    upload(auth_client, second, GIF, "map.png")
    return user


def files_of(user):
    """(note title, filename, content type, SHA-256 of the bytes served) for every attachment of the user."""
    client = client_for(user)
    return sorted(
        (a.note.title, a.filename, a.file.content_type, sha256(body(client.get(f"/api/attachments/{a.pk}/download/"))))
        for a in Attachment.objects.filter(note__owner=user).select_related("note", "file")
    )


def test_the_json_export_carries_files_in_base64(source, auth_client):
    document = json.loads(exported(auth_client, "json"))

    by_content = {note["content"]: note for note in document["notes"]}
    first = by_content["See the map."]
    assert [item["filename"] for item in first["attachments"]] == ["map.png", "tickets?.bin", "notes.txt"]
    item = first["attachments"][1]
    assert set(item) == {"filename", "content_type", "size", "sha256", "created_at", "data"}
    assert base64.b64decode(item["data"]) == DATA
    assert (item["size"], item["sha256"], item["content_type"]) == (len(DATA), sha256(DATA), "application/octet-stream")
    assert "attachments" not in by_content[Note.objects.get(title="Plain").content]


def test_the_zip_export_puts_files_beside_the_markdown(source, auth_client):
    archive = zipfile.ZipFile(io.BytesIO(exported(auth_client, "markdown")))

    names = set(archive.namelist())
    assert {"Trip.md", "Trip (2).md", "Plain.md", "manifest.json"} <= names
    metadata, _ = markdown.parse(archive.read("Trip.md").decode())
    assert [item["file"] for item in metadata["attachments"]] == ["Trip/map.png", "Trip/tickets-.bin", "Trip/notes.txt"]
    assert metadata["attachments"][1]["filename"] == "tickets?.bin"
    assert archive.read("Trip/tickets-.bin") == DATA
    second, _ = markdown.parse(archive.read("Trip (2).md").decode())
    assert [item["file"] for item in second["attachments"]] == ["Trip (2)/map.png", "Trip (2)/map (2).png"]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["count"] == 3
    assert manifest["attachments"]["Trip/tickets-.bin"] == sha256(DATA)
    assert manifest["files"]["Trip.md"] == hashlib.sha256(archive.read("Trip.md")).hexdigest()
    assert "attachments" not in yaml.safe_load(archive.read("Plain.md").decode().split("---")[1])


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_the_round_trip_is_byte_exact(source, auth_client, export_format, attachments_dir):
    target = UserFactory()

    response = import_into(target, exported(auth_client, export_format), export_format)

    assert response.status_code == 201, response.json()
    assert files_of(target) == files_of(source)
    # The same bytes on two notes are stored once for the new owner too.
    assert StoredFile.objects.filter(owner=target).count() == 4


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_a_dry_run_checks_the_files_and_writes_nothing(source, auth_client, export_format, attachments_dir):
    before = stored_files(attachments_dir)
    target = UserFactory()

    response = import_into(target, exported(auth_client, export_format), export_format, dry_run=True)

    assert response.status_code == 200
    assert response.json()["imported"] == 3
    assert not Note.objects.filter(owner=target).exists()
    assert stored_files(attachments_dir) == before


def note_with(attachments, title="With a file"):
    return json.dumps({"format": "notes-export", "version": 1, "notes": [{"title": title, "attachments": attachments}]})


def an_attachment(data=PNG, **overrides):
    return {"filename": "a.png", "sha256": sha256(data), "data": base64.b64encode(data).decode(), **overrides}


NOT_BASE64 = {**an_attachment(), "data": "not base64!"}


@pytest.mark.parametrize(
    ("attachment", "message"),
    [
        (an_attachment(sha256="0" * 64), "attachments[0]: the bytes do not match their SHA-256"),
        (NOT_BASE64, "attachments[0]: data is not valid base64."),
        (an_attachment(b""), "attachments[0]: the file is empty."),
        (an_attachment(filename=""), "attachments[0]: filename must be a non-empty string."),
        (an_attachment(sha256="abc"), "attachments[0]: sha256 must be 64 lower-case hex digits."),
        ("a string", "attachments[0]: expected an object with filename, sha256 and data."),
        (an_attachment(created_at="2024-02-30T00:00:00Z"), "attachments[0]: created_at: Datetime has wrong format."),
        (an_attachment(created_at="yesterday"), "attachments[0]: created_at: Datetime has wrong format."),
        (an_attachment(created_at=20240101), "attachments[0]: created_at: Datetime has wrong format."),
        # Before year 1 in UTC: PostgreSQL kept it (as 1 BC), then failed every read of the note's files.
        (an_attachment(created_at="0001-01-01T00:00:00+05:00"), "attachments[0]: created_at: Datetime value out of"),
    ],
)
def test_a_bad_file_in_a_json_import_rejects_it_all(user, attachments_dir, attachment, message):
    response = import_into(user, note_with([attachment]), "json")

    assert response.status_code == 400
    [rejected] = response.json()["rejected"]
    assert rejected["entry"] == "notes[0]"
    assert rejected["errors"]["attachments"][0].startswith(message)
    assert not Note.objects.exists()
    assert stored_files(attachments_dir) == []


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_dates_of_any_year_survive_the_round_trip(user, auth_client, export_format, attachments_dir):
    """A year before 1000 is written with four digits (strftime wrote "999"), so it reads back."""
    old = {"created_at": "0999-05-05T10:00:00.000000Z", "updated_at": "0999-05-06T10:00:00.000000Z"}
    document = json.loads(note_with([an_attachment(created_at="0001-01-01T00:00:00Z")]))
    document["notes"][0].update(old)
    assert import_into(user, json.dumps(document), "json").status_code == 201
    note = Note.objects.get(owner=user)
    assert {key: auth_client.get(f"/api/notes/{note.pk}/").json()[key] for key in old} == old
    assert auth_client.patch(f"/api/notes/{note.pk}/", {"pinned": True}).json()["created_at"] == old["created_at"]
    [listed] = auth_client.get(f"/api/notes/{note.pk}/attachments/").json()["results"]
    assert listed["created_at"] == "0001-01-01T00:00:00.000000Z"
    target = UserFactory()

    response = import_into(target, exported(auth_client, export_format), export_format)

    assert response.status_code == 201, response.json()
    copy = Note.objects.get(owner=target)
    assert (copy.created_at, copy.attachments.get().created_at) == (note.created_at, note.attachments.get().created_at)


def test_a_note_with_many_files_survives_the_markdown_round_trip(user, auth_client, attachments_dir):
    """Each file is a line of the note's front matter: 100 with long names are past 64 KiB of it."""
    files = [an_attachment(f"file {i}\n".encode(), filename=f"{i:03d}-{'n' * 240}.txt") for i in range(100)]
    assert import_into(user, note_with(files, title="T" * 180), "json").status_code == 201
    target = UserFactory()

    response = import_into(target, exported(auth_client, "markdown"), "markdown")

    assert response.status_code == 201, response.json()
    assert files_of(target) == files_of(user)


def test_a_json_file_over_the_attachment_limit_is_rejected(user, settings):
    settings.NOTES_ATTACHMENT_MAX_BYTES = 10

    response = import_into(user, note_with([an_attachment(b"x" * 11)]), "json")

    assert response.status_code == 400
    assert "over the limit of 10 bytes" in response.json()["rejected"][0]["errors"]["attachments"][0]


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_import_over_the_quota_is_413_and_writes_nothing(user, settings, attachments_dir, dry_run):
    settings.NOTES_USER_QUOTA_BYTES = 10

    response = import_into(user, note_with([an_attachment(b"x" * 11)]), "json", dry_run=dry_run)

    assert response.status_code == 413
    assert response.json()["detail"].startswith("Storage quota exceeded: 0 of 10 bytes are used")
    assert not Note.objects.exists()
    assert stored_files(attachments_dir) == []


def test_an_import_onto_a_full_disk_is_507_and_writes_nothing(user, attachments_dir, monkeypatch):
    fill_the_disk(monkeypatch, attachment_storage())

    response = import_into(user, note_with([an_attachment()]), "json")

    assert response.status_code == 507
    assert response.json() == {"detail": "The file storage is full: nothing was stored."}
    assert not Note.objects.exists()
    assert stored_files(attachments_dir) == []


def test_import_notes_onto_a_full_disk_stops_with_a_message(user, tmp_path, attachments_dir, monkeypatch):
    path = tmp_path / "export.json"
    path.write_text(note_with([an_attachment()]))
    fill_the_disk(monkeypatch, attachment_storage())

    with pytest.raises(
        CommandError, match=r"Stopped after 0 of 1 note\(s\), which were kept: The file storage is full"
    ):
        call_command("import_notes", str(path), "--user", user.username, stdout=StringIO(), stderr=StringIO())

    assert not Note.objects.exists()
    assert stored_files(attachments_dir) == []


def test_import_notes_in_one_transaction_onto_a_full_disk_says_nothing_was_imported(
    user, tmp_path, attachments_dir, monkeypatch
):
    path = tmp_path / "export.json"
    path.write_text(note_with([an_attachment()]))
    fill_the_disk(monkeypatch, attachment_storage())

    arguments = [str(path), "--user", user.username, "--single-transaction"]
    with pytest.raises(CommandError) as stopped:
        call_command("import_notes", *arguments, stdout=StringIO(), stderr=StringIO())

    assert str(stopped.value) == "Stopped: The file storage is full: nothing was stored. Nothing was imported."
    assert not Note.objects.exists()


def test_an_imported_note_with_files_is_one_entry_of_the_change_feed(user):
    from conftest import client_with_token

    import_into(user, note_with([an_attachment(), an_attachment(GIF, filename="b.gif")]), "json")

    changes = client_with_token(user).get("/api/changes/").json()["changes"]
    assert [change["title"] for change in changes] == ["With a file"]


def rezip(data, change):
    """The archive with `change(name, bytes)` applied to each member (None drops it)."""
    original = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in original.infolist():
            content = change(info.filename, original.read(info))
            if content is not None:
                archive.writestr(info.filename, content)
    return buffer.getvalue()


def test_a_changed_file_in_the_zip_rejects_the_import(source, auth_client, user):
    data = rezip(
        exported(auth_client, "markdown"), lambda name, content: b"tampered" if name.endswith(".bin") else content
    )

    response = import_into(UserFactory(), data, "markdown")

    assert response.status_code == 400
    [rejected] = response.json()["rejected"]
    assert rejected["entry"] == "Trip.md"
    assert "do not match their SHA-256" in rejected["errors"]["attachments"][0]


def test_a_file_missing_from_the_zip_rejects_the_import(source, auth_client):
    data = rezip(exported(auth_client, "markdown"), lambda name, content: None if name.endswith(".bin") else content)

    response = import_into(UserFactory(), data, "markdown")

    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {"entry": "Trip/tickets-.bin", "errors": {"non_field_errors": ["Missing from the archive."]}}
    ]


def test_a_front_matter_pointing_outside_the_export_rejects_the_import(user):
    note = (
        '---\ntitle: "x"\nattachments:\n  - {file: "../../etc/passwd", filename: "p", sha256: ' + "a" * 64 + "}\n---\n"
    )
    manifest = {
        "format": "notes-export",
        "version": 1,
        "count": 1,
        "files": {"x.md": hashlib.sha256(note.encode()).hexdigest()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.md", note)
        archive.writestr("manifest.json", json.dumps(manifest))

    response = import_into(user, buffer.getvalue(), "markdown")

    assert response.status_code == 400
    assert "a path inside the export is expected" in response.json()["rejected"][0]["errors"]["attachments"][0]


def test_the_commands_carry_files_both_ways(source, tmp_path):
    path = tmp_path / "notes.zip"
    target = UserFactory()

    call_command("export_notes", str(path), "--user", source.username, stderr=StringIO())
    call_command(
        "import_notes", str(path), "--user", target.username, "--batch-size", "1", stdout=StringIO(), stderr=StringIO()
    )

    assert files_of(target) == files_of(source)


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_exporting_a_large_file_streams_it(user, auth_client, export_format):
    data = os.urandom(10 * 1024 * 1024)
    upload(auth_client, NoteFactory(owner=user), data)

    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in auth_client.get("/api/export/", {"format": export_format}).streaming_content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size > len(data)
    assert peak < 3 * 1024 * 1024  # chunks, never the 10 MiB file (or its 13 MiB of base64)


# Bytes storage cannot give back: 503 before the export starts, never a 200 cut short.


def export_errors(caplog):
    return [record for record in caplog.records if record.name.startswith("notes.transfer.")]


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_an_export_reaching_a_file_missing_from_storage_answers_503_before_streaming(
    auth_client, attached, attachments_dir, caplog, export_format
):
    [lost] = stored_files(attachments_dir)
    lost.unlink()
    name = StoredFile.objects.get().name

    response = auth_client.get("/api/export/", {"format": export_format})

    assert response.status_code == 503
    assert not response.streaming
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "The file storage failed: try again later."}
    [record] = export_errors(caplog)
    assert record.levelno == logging.ERROR
    assert f"{attached['id']} ({name})" in record.getMessage()


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_an_export_reaching_a_file_cut_short_in_storage_answers_503_before_streaming(
    auth_client, attached, attachments_dir, caplog, export_format
):
    [damaged] = stored_files(attachments_dir)
    damaged.write_bytes(damaged.read_bytes()[:10])

    response = auth_client.get("/api/export/", {"format": export_format})

    assert response.status_code == 503
    assert not response.streaming
    [record] = export_errors(caplog)
    assert f"{attached['id']} ({StoredFile.objects.get().name})" in record.getMessage()


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_a_storage_failing_during_an_export_is_logged_naming_the_attachment(
    auth_client, attached, caplog, monkeypatch, export_format
):
    failure = OSError(errno.EIO, "Input/output error")

    def fail(*args, **kwargs):
        raise failure

    response = auth_client.get("/api/export/", {"format": export_format})
    monkeypatch.setattr(attachment_storage(), "open_range", fail)  # after the check: storage dies midway

    with pytest.raises(ExportInterrupted) as interrupted:
        b"".join(response.streaming_content)

    assert not isinstance(interrupted.value, OSError)  # neither a write error nor the client's socket
    [record] = export_errors(caplog)
    assert record.levelno == logging.ERROR
    assert f"attachment {attached['id']} ({StoredFile.objects.get().name})" in record.getMessage()
    assert record.exc_info[1] is failure


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_an_attachment_deleted_during_the_export_is_left_out_not_a_cut_short_file(
    source, auth_client, monkeypatch, django_capture_on_commit_callbacks, caplog, export_format
):
    # The bytes were deleted once the deletion committed, after the notes' batch was read: the export
    # answered 200 and then broke off (invalid JSON, an invalid zip).
    from notes.attachments.services import attachment_delete
    from notes.transfer import attached

    tickets = Attachment.objects.get(filename="tickets?.bin")  # bytes no other attachment shows
    real_open_range = attached.open_range

    def open_range(name, *args):
        if name == tickets.file.name:
            with django_capture_on_commit_callbacks(execute=True):
                attachment_delete(attachment=Attachment.objects.get(pk=tickets.pk))
        return real_open_range(name, *args)

    monkeypatch.setattr(attached, "open_range", open_range)
    response = auth_client.get("/api/export/", {"format": export_format})
    data = b"".join(response.streaming_content)
    target = UserFactory()

    assert response.status_code == 200
    assert export_errors(caplog) == []
    assert import_into(target, data, export_format).status_code == 201
    assert files_of(target) == files_of(source)  # as the notes are now: without the deleted file
    assert ("Trip", "tickets?.bin") not in {(title, filename) for title, filename, *_ in files_of(target)}
    assert len(files_of(target)) == 4


def test_export_notes_names_the_attachments_storage_lost_and_writes_nothing(user, attached, attachments_dir, tmp_path):
    [lost] = stored_files(attachments_dir)
    lost.unlink()
    (folder := tmp_path / "out").mkdir()
    path = folder / "notes.zip"

    with pytest.raises(CommandError) as refused:
        call_command("export_notes", str(path), "--user", user.username, stderr=StringIO())

    assert f"attachment(s) {attached['id']} ({StoredFile.objects.get().name})" in str(refused.value)
    assert "Cannot write" not in str(refused.value)
    assert list(folder.iterdir()) == []


def test_export_notes_says_storage_failed_midway_not_that_it_cannot_write(user, attached, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(attachment_storage(), "open_range", fail)
    (folder := tmp_path / "out").mkdir()
    path = folder / "notes.zip"

    with pytest.raises(CommandError) as stopped:
        call_command("export_notes", str(path), "--user", user.username, stderr=StringIO())

    assert str(stopped.value).startswith(f"The export stopped, and {path} was not written: attachment {attached['id']}")
    assert list(folder.iterdir()) == []

"""A data folder that fails: a clear 503 (507 when full), logged, never a 500.

The S3 side of the same failures is in test_attachment_storage.py.
"""

import base64
import errno
import json
import logging
import os
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from notes.attachments.files import SWEEP_GRACE, StagedFiles, files_sweep
from notes.attachments.storage import SizeDiffers, attachment_storage
from notes.models import Attachment, Note, StoredFile
from notes.services import note_trash
from notes.tests.attachment_helpers import PNG, body, fill_the_disk, sha256, stored_files, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def storage_errors(caplog):
    """The storage failures logged at ERROR, each with its traceback."""
    return [record for record in caplog.records if record.name.startswith("notes.attachments.") and record.exc_info]


def raising(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


# Downloads


@pytest.mark.parametrize("headers", [{}, {"HTTP_RANGE": "bytes=0-3"}], ids=["whole", "range"])
def test_a_file_missing_from_the_folder_answers_503_and_is_logged(
    auth_client, attached, attachments_dir, caplog, headers
):
    [path] = stored_files(attachments_dir)
    path.unlink()

    response = auth_client.get(attached["download_url"], **headers)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert response.json() == {"detail": "The file storage failed: try again later."}
    [record] = storage_errors(caplog)
    assert record.levelno == logging.ERROR
    assert isinstance(record.exc_info[1], FileNotFoundError)


def test_head_of_a_file_missing_from_the_folder_answers_503_as_get_does(auth_client, attached, attachments_dir, caplog):
    [path] = stored_files(attachments_dir)
    path.unlink()

    response = auth_client.head(attached["download_url"])

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert [type(record.exc_info[1]) for record in storage_errors(caplog)] == [FileNotFoundError]


@pytest.mark.parametrize("method", ["get", "head"])
@pytest.mark.parametrize("headers", [{}, {"HTTP_RANGE": "bytes=0-3"}], ids=["whole", "range"])
def test_a_file_cut_short_in_the_folder_answers_503_not_a_short_body(
    auth_client, attached, attachments_dir, caplog, method, headers
):
    # A 200 promising the recorded Content-Length with fewer bytes left clients waiting for the rest.
    [path] = stored_files(attachments_dir)
    path.write_bytes(PNG[:10])

    response = getattr(auth_client, method)(attached["download_url"], **headers)

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    [record] = storage_errors(caplog)
    assert isinstance(record.exc_info[1], SizeDiffers)
    assert f"holds 10 bytes, not the {len(PNG)} recorded" in str(record.exc_info[1])


def test_a_file_cut_short_while_it_is_read_ends_the_download_with_an_error(auth_client, attached, attachments_dir):
    response = auth_client.get(attached["download_url"])
    [path] = stored_files(attachments_dir)
    path.write_bytes(PNG[:10])  # after the answer's headers, before its bytes

    with pytest.raises(OSError, match=f"ended {len(PNG) - 10} bytes before the length recorded"):
        b"".join(response.streaming_content)


def test_an_unreadable_file_answers_503(auth_client, attached, caplog, monkeypatch):
    denied = PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(attachment_storage(), "open_range", raising(denied))

    response = auth_client.get(attached["download_url"])

    assert response.status_code == 503
    assert [record.exc_info[1] for record in storage_errors(caplog)] == [denied]


def test_a_public_links_image_missing_from_the_folder_answers_a_plain_503(
    auth_client, api_client, note, attached, attachments_dir, caplog
):
    token = auth_client.post(f"/api/notes/{note.pk}/share/", {}, format="json").json()["token"]
    [path] = stored_files(attachments_dir)
    path.unlink()

    response = api_client.get(f"/s/{token}/attachments/{attached['id']}")

    assert response.status_code == 503
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"try again later" in response.content
    assert response["Cache-Control"] == "no-store"
    assert len(storage_errors(caplog)) == 1


def deleted_once_looked_up(monkeypatch, attached, django_capture_on_commit_callbacks):
    """The attachment is deleted (its bytes too) between the download's lookup and its read."""
    from notes.attachments import downloads
    from notes.attachments.services import attachment_delete

    def deleted_first(read):
        def reading(*args):
            with django_capture_on_commit_callbacks(execute=True):
                attachment_delete(attachment=Attachment.objects.get(pk=attached["id"]))
            return read(*args)

        return reading

    monkeypatch.setattr(downloads, "open_range", deleted_first(downloads.open_range))
    monkeypatch.setattr(downloads, "check_size", deleted_first(downloads.check_size))  # what HEAD asks


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_download_racing_its_attachments_deletion_is_404_not_a_storage_failure(
    auth_client, attached, caplog, monkeypatch, django_capture_on_commit_callbacks, method
):
    deleted_once_looked_up(monkeypatch, attached, django_capture_on_commit_callbacks)

    response = getattr(auth_client, method)(attached["download_url"])

    assert response.status_code == 404
    if method == "get":
        assert response.json() == {"detail": "No Attachment matches the given query."}
    assert storage_errors(caplog) == []  # no false alarm for the operator


def test_a_public_links_image_racing_its_deletion_is_the_links_404(
    auth_client, api_client, note, attached, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    token = auth_client.post(f"/api/notes/{note.pk}/share/", {}, format="json").json()["token"]
    unknown = api_client.get(f"/s/{token}/attachments/999999")
    deleted_once_looked_up(monkeypatch, attached, django_capture_on_commit_callbacks)

    response = api_client.get(f"/s/{token}/attachments/{attached['id']}")

    assert response.status_code == unknown.status_code == 404
    assert response.content == unknown.content
    assert storage_errors(caplog) == []


# Deleting bytes once the rows are gone


def failing_first_delete(monkeypatch, exc):
    """The storage refuses to delete the first name it is asked to (an immutable file); the names refused."""
    storage = attachment_storage()
    real_delete = storage.delete
    refused = []

    def delete(name):
        if not refused:
            refused.append(name)
            raise exc
        real_delete(name)

    monkeypatch.setattr(storage, "delete", delete)
    return refused


def with_files(auth_client, user, count):
    notes = [NoteFactory(owner=user) for _ in range(count)]
    for n, note in enumerate(notes):
        upload(auth_client, note, f"file {n}".encode())
    return notes


@pytest.mark.django_db(transaction=True)
def test_an_account_deletion_whose_bytes_cannot_all_be_deleted_answers_204(
    auth_client, user, password, attachments_dir, caplog, monkeypatch
):
    with_files(auth_client, user, 3)
    refused = failing_first_delete(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))

    response = auth_client.delete("/api/auth/me/", {"password": password}, format="json")

    assert response.status_code == 204
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not StoredFile.objects.exists()
    # Each name is tried on its own: only the refused one is left, for files_sweep.
    assert [path.relative_to(attachments_dir).as_posix() for path in stored_files(attachments_dir)] == refused
    assert len(storage_errors(caplog)) == 1


@pytest.mark.django_db(transaction=True)
def test_emptying_the_trash_when_bytes_cannot_be_deleted_answers_204(
    auth_client, user, attachments_dir, caplog, monkeypatch
):
    for note in with_files(auth_client, user, 3):
        note_trash(note=note)
    failing_first_delete(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))

    response = auth_client.delete("/api/trash/")

    assert response.status_code == 204
    assert not Note.objects.exists()
    assert len(stored_files(attachments_dir)) == 1
    assert len(storage_errors(caplog)) == 1


@pytest.mark.django_db(transaction=True)
def test_deleting_a_note_forever_when_its_bytes_cannot_be_deleted_answers_204(
    auth_client, user, attachments_dir, caplog, monkeypatch
):
    [note] = with_files(auth_client, user, 1)
    note_trash(note=note)
    failing_first_delete(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))

    response = auth_client.delete(f"/api/trash/{note.pk}/")

    assert response.status_code == 204
    assert not Note.objects.exists()
    assert not StoredFile.objects.exists()
    assert len(storage_errors(caplog)) == 1


def test_an_upload_over_the_quota_stays_413_when_its_staged_bytes_cannot_be_deleted(
    auth_client, user, note, settings, attachments_dir, caplog, monkeypatch
):
    settings.NOTES_USER_QUOTA_BYTES = len(PNG)
    real_lock = StagedFiles.lock

    def another_upload_first(self, **kwargs):
        # Another request of the user's took the last of the quota meanwhile.
        StoredFile.objects.create(owner=user, sha256="0" * 64, size=1, content_type="text/plain", name="elsewhere")
        real_lock(self, **kwargs)

    monkeypatch.setattr(StagedFiles, "lock", another_upload_first)
    refused = failing_first_delete(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))

    response = upload(auth_client, note, PNG)

    assert response.status_code == 413
    assert response.json()["detail"].startswith("Storage quota exceeded")
    assert not Attachment.objects.exists()
    assert len(refused) == 1
    assert len(storage_errors(caplog)) == 1


# Uploads


@pytest.mark.parametrize("error_number", [errno.ENOSPC, errno.EDQUOT], ids=["disk full", "quota"])
def test_an_upload_to_a_full_disk_answers_507_and_leaves_no_partial_file(
    auth_client, note, attachments_dir, caplog, monkeypatch, error_number
):
    fill_the_disk(monkeypatch, attachment_storage(), error_number)

    response = upload(auth_client, note, PNG)

    assert response.status_code == 507
    assert "Retry-After" not in response  # not until someone makes room
    assert response.json() == {"detail": "The file storage is full: nothing was stored."}
    assert stored_files(attachments_dir) == []
    assert not StoredFile.objects.exists()
    assert not Attachment.objects.exists()
    [record] = storage_errors(caplog)
    assert record.exc_info[1].errno == error_number


def test_an_upload_to_a_read_only_folder_answers_503(auth_client, note, attachments_dir, caplog, monkeypatch):
    denied = PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(attachment_storage(), "_save", raising(denied))

    response = upload(auth_client, note, PNG)

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage failed: try again later."}
    assert not StoredFile.objects.exists()
    assert [record.exc_info[1] for record in storage_errors(caplog)] == [denied]


# Bytes lost: a database restored without its files. Uploading them again repairs the attachments.


def test_uploading_a_file_again_after_its_bytes_were_lost_makes_it_downloadable(
    auth_client, note, attached, attachments_dir
):
    [lost] = stored_files(attachments_dir)
    lost.unlink()

    again = upload(auth_client, note, PNG, "dot.png")

    assert again.status_code == 201
    assert body(auth_client.get(again.json()["download_url"])) == PNG
    assert body(auth_client.get(attached["download_url"])) == PNG  # the same stored file, repaired
    [stored] = StoredFile.objects.all()
    assert [path.relative_to(attachments_dir).as_posix() for path in stored_files(attachments_dir)] == [stored.name]


def test_importing_a_file_whose_bytes_were_lost_makes_it_downloadable(auth_client, attached, attachments_dir):
    [lost] = stored_files(attachments_dir)
    lost.unlink()
    carried = {"filename": "dot.png", "sha256": sha256(PNG), "data": base64.b64encode(PNG).decode()}

    response = auth_client.post(
        "/api/import/", json.dumps([{"title": "Again", "attachments": [carried]}]), content_type="application/json"
    )

    assert response.status_code == 201
    assert body(auth_client.get(attached["download_url"])) == PNG
    assert len(stored_files(attachments_dir)) == 1


def test_uploading_a_file_again_after_its_bytes_were_cut_short_makes_it_downloadable(
    auth_client, note, attached, attachments_dir, django_capture_on_commit_callbacks
):
    [damaged] = stored_files(attachments_dir)
    damaged.write_bytes(PNG[:10])

    with django_capture_on_commit_callbacks(execute=True):
        again = upload(auth_client, note, PNG, "dot.png")

    assert again.status_code == 201
    assert body(auth_client.get(attached["download_url"])) == PNG
    [stored] = StoredFile.objects.all()
    # The damaged copy is deleted: only the one the row names is left.
    assert [path.relative_to(attachments_dir).as_posix() for path in stored_files(attachments_dir)] == [stored.name]


def test_uploading_a_file_whose_bytes_are_kept_writes_them_no_second_time(auth_client, note, attached, monkeypatch):
    writes = []
    real_save = attachment_storage()._save
    monkeypatch.setattr(attachment_storage(), "_save", lambda *args: writes.append(args) or real_save(*args))

    response = upload(auth_client, note, PNG)

    assert response.status_code == 201
    assert writes == []


def test_the_sweep_goes_on_past_a_file_it_cannot_delete(attachments_dir, caplog, monkeypatch):
    storage = attachment_storage()
    orphans = [storage.save(f"7/ab/left-by-a-crash-{n}", ContentFile(b"orphan")) for n in range(3)]
    long_ago = time.time() - SWEEP_GRACE.total_seconds() - 60
    for name in orphans:
        os.utime(storage.path(name), (long_ago, long_ago))
    refused = failing_first_delete(monkeypatch, PermissionError(errno.EPERM, "Operation not permitted"))

    swept = files_sweep()

    assert swept == 2
    assert [path.relative_to(attachments_dir).as_posix() for path in stored_files(attachments_dir)] == refused
    assert len(storage_errors(caplog)) == 1

"""Attachments follow their note: into the trash and back, and out with it for good."""

import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from accounts.services import user_delete
from notes.attachments.files import SWEEP_GRACE, files_sweep
from notes.attachments.storage import attachment_storage
from notes.models import Attachment, Note, StoredFile
from notes.services import note_delete_forever, note_restore, note_trash, notes_purge
from notes.tests.attachment_helpers import PNG, body, stored_files, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def test_a_trashed_notes_attachments_are_404_like_the_note(auth_client, note, attached):
    note_trash(note=note)

    assert auth_client.get(attached["url"]).status_code == 404
    assert auth_client.get(attached["download_url"]).status_code == 404
    assert auth_client.delete(attached["url"]).status_code == 404
    assert auth_client.get(f"/api/notes/{note.pk}/attachments/").status_code == 404
    assert upload(auth_client, note, b"more").status_code == 404
    assert Attachment.objects.filter(pk=attached["id"]).exists()


def test_restoring_the_note_brings_its_attachments_back(auth_client, note, attached, attachments_dir):
    note_restore(note=note_trash(note=note))

    assert auth_client.get(attached["url"]).json() == attached
    assert body(auth_client.get(attached["download_url"])) == PNG
    assert len(stored_files(attachments_dir)) == 1


def test_the_trash_keeps_the_files_on_disk(auth_client, note, attached, attachments_dir):
    note_trash(note=note)

    assert [path.read_bytes() for path in stored_files(attachments_dir)] == [PNG]


def test_deleting_a_note_forever_deletes_its_files(
    auth_client, note, attached, attachments_dir, django_capture_on_commit_callbacks
):
    note = note_trash(note=note)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"/api/trash/{note.pk}/")

    assert response.status_code == 204
    assert not Attachment.objects.exists()
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_deleting_a_note_forever_keeps_files_another_note_shows(
    auth_client, user, note, attached, attachments_dir, django_capture_on_commit_callbacks
):
    other = NoteFactory(owner=user)
    upload(auth_client, other, PNG)

    with django_capture_on_commit_callbacks(execute=True):
        note_delete_forever(note=note_trash(note=note))

    assert StoredFile.objects.count() == 1
    assert len(stored_files(attachments_dir)) == 1
    assert body(auth_client.get(f"/api/attachments/{other.attachments.get().pk}/download/")) == PNG


def test_emptying_the_trash_deletes_the_files(auth_client, user, attachments_dir, django_capture_on_commit_callbacks):
    notes = [NoteFactory(owner=user) for _ in range(3)]
    for n, note in enumerate(notes):
        upload(auth_client, note, f"file {n}".encode())
        note_trash(note=note)

    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete("/api/trash/")

    assert response.status_code == 204
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_purging_in_batches_releases_every_file(auth_client, user, attachments_dir, django_capture_on_commit_callbacks):
    for n in range(5):
        note = NoteFactory(owner=user)
        upload(auth_client, note, f"file {n}".encode())
        note_trash(note=note)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = notes_purge(notes=Note.objects.all(), batch_size=2)

    assert deleted == 5
    assert stored_files(attachments_dir) == []


def test_purge_trash_deletes_old_notes_files_and_keeps_recent_ones(
    auth_client, user, attachments_dir, django_capture_on_commit_callbacks
):
    old, recent = NoteFactory(owner=user), NoteFactory(owner=user)
    upload(auth_client, old, b"old file")
    upload(auth_client, recent, b"recent file")
    note_trash(note=old)
    note_trash(note=recent)
    Note.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=31))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_trash", stdout=StringIO())

    assert [path.read_bytes() for path in stored_files(attachments_dir)] == [b"recent file"]
    assert list(StoredFile.objects.values_list("size", flat=True)) == [len(b"recent file")]


def test_purge_trash_sweeps_bytes_no_row_names_once_they_are_old(auth_client, note, attached, attachments_dir):
    storage = attachment_storage()
    old = storage.save("7/ab/left-by-a-crash", ContentFile(b"orphan"))
    fresh = storage.save("7/ab/upload-in-progress", ContentFile(b"in flight"))
    long_ago = time.time() - SWEEP_GRACE.total_seconds() - 60
    os.utime(storage.path(old), (long_ago, long_ago))
    out = StringIO()

    call_command("purge_trash", stdout=out)

    assert not storage.exists(old)
    assert storage.exists(fresh)
    assert len(stored_files(attachments_dir)) == 2  # the attachment's file and the fresh one
    assert "Deleted 1 stored file(s) no attachment refers to." in out.getvalue()


def test_the_sweep_deletes_a_row_no_attachment_refers_to(
    auth_client, note, attachments_dir, django_capture_on_commit_callbacks
):
    created = upload(auth_client, note, PNG).json()
    Attachment.objects.filter(pk=created["id"]).delete()  # as a crash between two steps might leave it

    with django_capture_on_commit_callbacks(execute=True):
        swept = files_sweep()

    assert swept == 1
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_the_sweep_with_nothing_ever_stored_does_nothing(attachments_dir):
    assert not attachments_dir.exists()

    assert files_sweep() == 0


def test_account_deletion_deletes_the_users_files_and_no_one_elses(
    auth_client, other_client, user, other_user, note, attached, attachments_dir, django_capture_on_commit_callbacks
):
    upload(auth_client, NoteFactory(owner=user), b"second file")
    note_trash(note=NoteFactory(owner=user))
    trashed = NoteFactory(owner=user)
    upload(auth_client, trashed, b"in the trash")
    note_trash(note=trashed)
    upload(other_client, NoteFactory(owner=other_user), PNG)

    with django_capture_on_commit_callbacks(execute=True):
        user_delete(user=user)

    assert list(StoredFile.objects.values_list("owner_id", flat=True)) == [other_user.pk]
    assert [path.read_bytes() for path in stored_files(attachments_dir)] == [PNG]


def test_account_deletion_through_the_api_deletes_the_files(
    auth_client, password, note, attached, attachments_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete("/api/auth/me/", {"password": password}, format="json")

    assert response.status_code == 204
    assert stored_files(attachments_dir) == []


def test_a_rolled_back_upload_leaves_no_bytes(auth_client, note, attachments_dir, monkeypatch):
    from notes.attachments import services

    def fail(*, note):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "note_attachments_changed", fail)

    with pytest.raises(RuntimeError):
        upload(auth_client, note, PNG)

    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_an_upload_to_a_note_trashed_meanwhile_is_404_and_leaves_no_bytes(
    auth_client, note, attachments_dir, monkeypatch
):
    from notes.attachments import files

    real_write = files.StagedFiles._write

    def write_then_trash(self, sha256):
        real_write(self, sha256)
        note_trash(note=Note.objects.get(pk=note.pk))

    monkeypatch.setattr(files.StagedFiles, "_write", write_then_trash)

    response = upload(auth_client, note, PNG)

    assert response.status_code == 404
    assert not StoredFile.objects.exists()
    assert stored_files(attachments_dir) == []


def test_bytes_deleted_between_the_check_and_the_lock_are_written_again(auth_client, user, note, monkeypatch):
    from notes.attachments import files

    other = NoteFactory(owner=user)
    first = upload(auth_client, other, PNG).json()
    real_lock = files.StagedFiles.lock

    def delete_then_lock(self, **kwargs):
        # Another request removes the only attachment showing the bytes.
        Attachment.objects.filter(pk=first["id"]).delete()
        StoredFile.objects.all().delete()
        real_lock(self, **kwargs)

    monkeypatch.setattr(files.StagedFiles, "lock", delete_then_lock)

    created = upload(auth_client, note, PNG).json()

    assert body(auth_client.get(created["download_url"])) == PNG

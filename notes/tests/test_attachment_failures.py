"""A data folder that fails: a clear 503 (507 when full), logged, never a 500.

The S3 side of the same failures is in test_attachment_storage.py.
"""

import errno
import logging

import pytest

from notes.attachments.storage import attachment_storage
from notes.tests.attachment_helpers import PNG, stored_files, upload
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(user):
    return NoteFactory(owner=user)


@pytest.fixture
def attached(auth_client, note):
    return upload(auth_client, note, PNG, "dot.png").json()


def storage_errors(caplog):
    """The storage failures logged at ERROR, each with its traceback."""
    return [record for record in caplog.records if record.name == "notes.attachments.storage" and record.exc_info]


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
    assert response.json() == {"detail": "The file storage failed: try again later."}
    [record] = storage_errors(caplog)
    assert record.levelno == logging.ERROR
    assert isinstance(record.exc_info[1], FileNotFoundError)


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

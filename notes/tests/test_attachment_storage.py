"""Attachments in S3-compatible storage (django-storages), faked in process by moto.

The file system is what every other attachment test uses.
"""

import contextlib
import json
import os
import runpy
import socket
import threading
import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from django.core.exceptions import ImproperlyConfigured
from moto import mock_aws

from notes.attachments.storage import LimitedReader, SizeDiffers, attachment_storage, open_range
from notes.models import Attachment, StoredFile
from notes.tests.attachment_helpers import PNG, body, sha256, upload
from notes.tests.factories import NoteFactory
from notesite.tests.servers import BASE_DIR

pytestmark = pytest.mark.django_db

BUCKET = "notes-attachments"
DATA = os.urandom(1024 * 1024 + 3)


@pytest.fixture
def s3(settings, monkeypatch):
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {**settings.STORAGES, "attachments": s3_storage()}
        yield client


def s3_storage(**options):
    """STORAGES["attachments"] for the test bucket, with these options besides."""
    return {
        "BACKEND": "notes.attachments.storage.S3AttachmentStorage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
            "location": "attachments",
            "default_acl": None,
            "file_overwrite": True,
            **options,
        },
    }


def keys(client):
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def s3_answers(operation, status, code):
    """Have the bucket answer `operation` with an error, as a failing S3 does (botocore raises ClientError)."""

    def answer(**kwargs):
        error = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://s3.invalid/", status, {}, None), error

    attachment_storage().connection.meta.client.meta.events.register(f"before-call.s3.{operation}", answer)


@pytest.fixture
def s3_at(settings, monkeypatch):
    """Point the attachments storage at an S3 endpoint of the test's own (no moto), with this client config."""
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)

    def configure(endpoint_url, client_config):
        settings.STORAGES = {
            **settings.STORAGES,
            "attachments": s3_storage(endpoint_url=endpoint_url, client_config=client_config),
        }

    return configure


def closed_port():
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def attachment_of(user, data=DATA, content_type="application/octet-stream"):
    """An attachment whose row names bytes in storage, without uploading them."""
    note = NoteFactory(owner=user)
    digest = sha256(data)
    stored = StoredFile.objects.create(
        owner=user, sha256=digest, size=len(data), content_type=content_type, name=f"{user.pk}/{digest}"
    )
    return Attachment.objects.create(note=note, file=stored, filename="file.bin")


def storage_errors(caplog):
    return [record.exc_info[1] for record in caplog.records if record.name.startswith("notes.attachments.")]


def test_uploads_go_to_the_bucket(s3, auth_client, user):
    created = upload(auth_client, NoteFactory(owner=user), DATA).json()

    [key] = keys(s3)
    assert key == f"attachments/{StoredFile.objects.get().name}"
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == DATA
    assert created["size"] == len(DATA)


def test_downloads_and_ranges_come_from_the_bucket(s3, auth_client, user):
    url = upload(auth_client, NoteFactory(owner=user), DATA).json()["download_url"]

    whole = auth_client.get(url)
    part = auth_client.get(url, HTTP_RANGE="bytes=1000-1999")

    assert body(whole) == DATA
    assert part.status_code == 206
    assert body(part) == DATA[1000:2000]


def test_a_range_is_fetched_with_a_ranged_get_not_the_whole_object(s3, auth_client, user):
    upload(auth_client, NoteFactory(owner=user), DATA)
    requested = []

    def record(params, **kwargs):
        requested.append(params.get("Range"))

    storage = attachment_storage()
    storage.connection.meta.client.meta.events.register("before-parameter-build.s3.GetObject", record)
    stored = StoredFile.objects.get()
    reader = open_range(stored.name, 10, 5, stored.size)

    assert reader.read() == DATA[10:15]
    assert requested == ["bytes=10-14"]


def test_deleting_the_last_attachment_deletes_the_object(s3, auth_client, user, django_capture_on_commit_callbacks):
    created = upload(auth_client, NoteFactory(owner=user), DATA).json()

    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(created["url"])

    assert keys(s3) == []


@pytest.mark.parametrize("headers", [{}, {"HTTP_RANGE": "bytes=0-3"}], ids=["whole", "range"])
def test_an_object_missing_from_the_bucket_answers_503_and_is_logged(s3, auth_client, user, caplog, headers):
    url = upload(auth_client, NoteFactory(owner=user), DATA).json()["download_url"]
    [key] = keys(s3)
    s3.delete_object(Bucket=BUCKET, Key=key)

    response = auth_client.get(url, **headers)

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage failed: try again later."}
    [error] = storage_errors(caplog)
    assert isinstance(error, ClientError)
    assert error.response["Error"]["Code"] == "NoSuchKey"


@pytest.mark.parametrize("headers", [{}, {"HTTP_RANGE": "bytes=0-3"}], ids=["whole", "range"])
def test_an_object_cut_short_in_the_bucket_answers_503_and_is_logged(s3, auth_client, user, caplog, headers):
    url = upload(auth_client, NoteFactory(owner=user), DATA).json()["download_url"]
    [key] = keys(s3)
    s3.put_object(Bucket=BUCKET, Key=key, Body=DATA[:100])

    response = auth_client.get(url, **headers)

    assert response.status_code == 503
    [error] = storage_errors(caplog)
    assert isinstance(error, SizeDiffers)
    assert f"holds 100 bytes, not the {len(DATA)} recorded" in str(error)


def test_an_export_reaching_an_object_cut_short_answers_503_and_a_new_upload_repairs_it(s3, auth_client, user):
    note = NoteFactory(owner=user)
    first = upload(auth_client, note, DATA).json()
    [key] = keys(s3)
    s3.put_object(Bucket=BUCKET, Key=key, Body=DATA[:100])

    refused = auth_client.get("/api/export/", {"format": "json"})
    again = upload(auth_client, note, DATA)

    assert refused.status_code == 503
    assert again.status_code == 201
    assert body(auth_client.get(first["download_url"])) == DATA
    assert auth_client.get("/api/export/", {"format": "json"}).status_code == 200


def test_uploading_a_file_again_after_its_object_was_lost_makes_it_downloadable(s3, auth_client, user):
    note = NoteFactory(owner=user)
    first = upload(auth_client, note, DATA).json()
    [lost] = keys(s3)
    s3.delete_object(Bucket=BUCKET, Key=lost)

    again = upload(auth_client, note, DATA)

    assert again.status_code == 201
    assert body(auth_client.get(first["download_url"])) == DATA
    assert keys(s3) == [f"attachments/{StoredFile.objects.get().name}"]


def test_an_export_checks_the_bucket_with_a_listing_then_streams(s3, auth_client, user):
    for n in range(3):
        upload(auth_client, NoteFactory(owner=user), DATA + bytes([n]))
    calls = []
    client = attachment_storage().connection.meta.client
    client.meta.events.register("before-call.s3", lambda model, **kwargs: calls.append(model.name))

    response = auth_client.get("/api/export/", {"format": "json"})
    document = json.loads(body(response))

    assert response.status_code == 200
    assert len(document["notes"]) == 3
    assert calls.count("ListObjects") + calls.count("ListObjectsV2") == 1
    assert "HeadObject" not in calls


def test_an_export_reaching_an_object_missing_from_the_bucket_answers_503(s3, auth_client, user):
    upload(auth_client, NoteFactory(owner=user), DATA)
    s3.delete_object(Bucket=BUCKET, Key=keys(s3)[0])

    response = auth_client.get("/api/export/", {"format": "markdown"})

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage failed: try again later."}


def test_a_bucket_answering_500_to_a_download_answers_503(s3, auth_client, user, caplog):
    url = upload(auth_client, NoteFactory(owner=user), DATA).json()["download_url"]
    s3_answers("GetObject", 500, "InternalError")

    response = auth_client.get(url)

    assert response.status_code == 503
    assert [error.response["Error"]["Code"] for error in storage_errors(caplog)] == ["InternalError"]


def test_a_bucket_refusing_connections_answers_503_on_download_and_public_image(
    s3_at, auth_client, api_client, user, caplog
):
    attachment = attachment_of(user, PNG, "image/png")
    token = auth_client.post(f"/api/notes/{attachment.note_id}/share/", {}, format="json").json()["token"]
    s3_at(f"http://127.0.0.1:{closed_port()}", Config(retries={"mode": "standard", "max_attempts": 1}))

    download = auth_client.get(f"/api/attachments/{attachment.pk}/download/")
    image = api_client.get(f"/s/{token}/attachments/{attachment.pk}")

    assert download.status_code == 503
    assert download.json() == {"detail": "The file storage failed: try again later."}
    assert image.status_code == 503
    assert download["Retry-After"] == image["Retry-After"] == "30"
    assert b"try again later" in image.content
    assert [type(error) for error in storage_errors(caplog)] == [EndpointConnectionError] * 2


@pytest.mark.django_db(transaction=True)
def test_an_attachment_whose_object_cannot_be_deleted_is_deleted_with_204(s3, auth_client, user, caplog):
    created = upload(auth_client, NoteFactory(owner=user), DATA).json()
    s3_answers("DeleteObject", 500, "InternalError")

    response = auth_client.delete(created["url"])

    assert response.status_code == 204
    assert not Attachment.objects.exists()
    assert not StoredFile.objects.exists()
    # Left for files_sweep (purge_trash): no row names it any more.
    assert len(keys(s3)) == 1
    assert [error.response["Error"]["Code"] for error in storage_errors(caplog)] == ["InternalError"]


def test_a_bucket_answering_500_to_an_upload_answers_503_and_keeps_nothing(s3, auth_client, user, caplog):
    s3_answers("PutObject", 500, "InternalError")

    response = upload(auth_client, NoteFactory(owner=user), DATA)

    assert response.status_code == 503
    assert response.json() == {"detail": "The file storage failed: try again later."}
    assert not StoredFile.objects.exists()
    assert keys(s3) == []
    assert len(storage_errors(caplog)) == 1


def test_a_bucket_refusing_connections_answers_503_on_upload(s3_at, auth_client, user, caplog):
    s3_at(f"http://127.0.0.1:{closed_port()}", Config(retries={"mode": "standard", "max_attempts": 1}))

    response = upload(auth_client, NoteFactory(owner=user), DATA)

    assert response.status_code == 503
    assert not StoredFile.objects.exists()
    assert type(storage_errors(caplog)[0]) is EndpointConnectionError


@pytest.fixture
def silent_endpoint():
    """An S3 endpoint that accepts connections and never answers; each is dropped after 5 s.

    Dropping them bounds a regression (a client that waits longer) to a
    failing test instead of one that hangs for minutes.
    """
    server = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()
    accepted = []

    def hold():
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append((server.accept()[0], time.monotonic()))
                accepted.append(held[-1][1])
            for connection, since in list(held):
                if time.monotonic() - since > 5:
                    connection.close()
                    held.remove((connection, since))

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.getsockname()[1]}", accepted=accepted)
    stop.set()
    thread.join()
    for connection, _ in held:
        connection.close()
    server.close()


def attachments_storage_from_env(monkeypatch, tmp_path, **variables):
    """STORAGES["attachments"] as notesite/settings.py builds it from these environment variables."""
    monkeypatch.setenv("NOTES_DATA_DIR", str(tmp_path))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(BASE_DIR / "notesite" / "settings.py"))["STORAGES"]["attachments"]


def test_a_bucket_that_never_answers_answers_503_within_the_timeout(
    settings, silent_endpoint, auth_client, user, caplog, monkeypatch, tmp_path
):
    attachment = attachment_of(user)
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": attachments_storage_from_env(
            monkeypatch,
            tmp_path,
            NOTES_S3_BUCKET=BUCKET,
            NOTES_S3_ENDPOINT_URL=silent_endpoint.url,
            NOTES_S3_REGION="us-east-1",
            NOTES_S3_ACCESS_KEY_ID="testing",
            NOTES_S3_SECRET_ACCESS_KEY="testing",
            NOTES_S3_TIMEOUT="1",
        ),
    }

    started = time.monotonic()
    response = auth_client.get(f"/api/attachments/{attachment.pk}/download/")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert len(silent_endpoint.accepted) == 2  # two attempts in all: one retry
    # Two attempts of a second each, and the backoff between them (under a second).
    assert elapsed < 4
    assert {type(error).__name__ for error in storage_errors(caplog)} == {"ReadTimeoutError"}


def test_the_settings_choose_s3_when_a_bucket_is_named(tmp_path):
    import subprocess
    import sys

    from notesite.tests.servers import BASE_DIR

    script = (
        "import django; django.setup(); from notes.attachments.storage import attachment_storage as s; "
        "st = s(); print(type(st).__name__, st.bucket_name, st.endpoint_url, st.location, st.addressing_style)"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "notesite.settings",
        "NOTES_DATA_DIR": str(tmp_path),
        "NOTES_S3_BUCKET": "my-notes",
        "NOTES_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "NOTES_S3_PREFIX": "files",
        "NOTES_S3_ADDRESSING_STYLE": "path",
    }

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["S3AttachmentStorage", "my-notes", "http://127.0.0.1:9000", "files", "path"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, [5, 20, {"mode": "standard", "total_max_attempts": 2}, {"addressing_style": None}]),
        (
            {"NOTES_S3_TIMEOUT": "3", "NOTES_S3_ADDRESSING_STYLE": "path"},
            [3, 3, {"mode": "standard", "total_max_attempts": 2}, {"addressing_style": "path"}],
        ),
    ],
    ids=["default", "set"],
)
def test_the_s3_client_waits_at_most_notes_s3_timeout(monkeypatch, tmp_path, variables, expected):
    storage = attachments_storage_from_env(monkeypatch, tmp_path, NOTES_S3_BUCKET="my-notes", **variables)

    config = storage["OPTIONS"]["client_config"]

    assert [config.connect_timeout, config.read_timeout, config.retries, config.s3] == expected


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_notes_s3_timeout_is_refused_at_start(monkeypatch, tmp_path, value):
    with pytest.raises(ImproperlyConfigured, match="NOTES_S3_TIMEOUT"):
        attachments_storage_from_env(monkeypatch, tmp_path, NOTES_S3_BUCKET="my-notes", NOTES_S3_TIMEOUT=value)


def test_without_a_bucket_files_stay_in_the_data_folder(tmp_path):
    import subprocess
    import sys

    from notesite.tests.servers import BASE_DIR

    script = (
        "import django; django.setup(); from notes.attachments.storage import attachment_storage as s; "
        "st = s(); print(type(st).__name__, st.location)"
    )
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "notesite.settings", "NOTES_DATA_DIR": str(tmp_path)}

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["FileSystemAttachmentStorage", str(tmp_path / "attachments")]


def test_limited_reader_stops_at_its_length():
    import io

    reader = LimitedReader(io.BytesIO(b"0123456789"), 4, "a/b")

    assert [reader.read(3), reader.read(3), reader.read(3)] == [b"012", b"3", b""]


def test_limited_reader_over_a_file_that_ends_early_raises():
    import io

    reader = LimitedReader(io.BytesIO(b"012"), 5, "a/b")

    assert reader.read(2) == b"01"
    with pytest.raises(OSError, match="a/b ended 2 bytes before the length recorded"):
        [reader.read(2), reader.read(2)]

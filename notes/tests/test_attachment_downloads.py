"""Downloading an attachment: byte-exact, streamed, with ranges and the headers that keep it inert."""

import hashlib
import os
import tracemalloc

import pytest

from conftest import CORS_ORIGIN
from notes.attachments.downloads import Unsatisfiable, parse_range
from notes.tests.attachment_helpers import PNG, body, sha256, upload

pytestmark = pytest.mark.django_db

DATA = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def download_url(auth_client, note):
    return upload(auth_client, note, DATA, "random.bin").json()["download_url"]


def test_download_is_byte_exact_with_its_headers(auth_client, download_url):
    response = auth_client.get(download_url)

    assert response.status_code == 200
    assert response.streaming
    content = body(response)
    assert content == DATA
    assert sha256(content) == sha256(DATA)
    assert response["ETag"] == f'"{sha256(DATA)}"'
    assert response["Content-Length"] == str(len(DATA))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="random.bin"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize(
    ("content_type_bytes", "disposition"),
    [
        (PNG, "inline"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "inline"),
        (b"GIF87a\x01\x00", "inline"),
        (b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "inline"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "attachment"),
        (b"%PDF-1.7\n", "attachment"),
        (b"plain words", "attachment"),
    ],
)
def test_only_plain_images_are_shown_inline(auth_client, note, content_type_bytes, disposition):
    created = upload(auth_client, note, content_type_bytes, "file").json()

    response = auth_client.get(created["download_url"])

    assert response["Content-Disposition"] == f'{disposition}; filename="file"'
    assert response["Content-Type"] == created["content_type"]


def test_a_name_beyond_ascii_is_sent_encoded(auth_client, note):
    created = upload(auth_client, note, b"x", "résumé 2026.txt").json()

    response = auth_client.get(created["download_url"])

    assert response["Content-Disposition"] == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202026.txt"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
        ("bytes=3000000-", 3000000, len(DATA) - 1),
        ("bytes=10-99999999999", 10, len(DATA) - 1),
        ("bytes=-99999999999", 0, len(DATA) - 1),
        # Past any file's end, however many digits (RFC 9110 14.1.2: the rest of the file).
        ("bytes=10-" + "9" * 20, 10, len(DATA) - 1),
        ("bytes=0-" + "9" * 5000, 0, len(DATA) - 1),
        ("bytes=-" + "9" * 5000, 0, len(DATA) - 1),
        ("BYTES = 5 - 9", 5, 9),
    ],
)
def test_a_range_answers_206_with_exactly_those_bytes(auth_client, download_url, header, start, end):
    response = auth_client.get(download_url, HTTP_RANGE=header)

    assert response.status_code == 206
    assert body(response) == DATA[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["ETag"] == f'"{sha256(DATA)}"'


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={len(DATA)}-",
        f"bytes={len(DATA) + 10}-{len(DATA) + 20}",
        "bytes=9-5",
        "bytes=-0",
        "bytes=-",
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=" + "9" * 5000 + "-",
        "bytes=" + "9" * 20 + "-" + "9" * 30,
        "bytes=\uff11-\uff12",  # digits, but not ASCII ones (fullwidth)
        # Spaces a regular expression backtracked on for minutes (a header may be 8 KB).
        "bytes=" + " " * 4000 + "-" + " " * 4000 + "x",
        "bytes=\x00-1",
    ],
)
def test_a_bad_range_is_416(auth_client, download_url, header):
    response = auth_client.get(download_url, HTTP_RANGE=header)

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert response["Content-Type"] == "application/json"
    assert "Content-Disposition" not in response
    assert response.json() == {"detail": f"The range is malformed or outside the file's {len(DATA)} bytes."}


@pytest.mark.parametrize("header", ["items=0-5", "bytes=0-1,5-9", "nonsense"])
def test_a_range_in_another_unit_or_several_ranges_answer_the_whole_file(auth_client, download_url, header):
    response = auth_client.get(download_url, HTTP_RANGE=header)

    assert response.status_code == 200
    assert body(response) == DATA


def test_if_range_with_another_etag_answers_the_whole_file(auth_client, download_url):
    stale = auth_client.get(download_url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"somethingelse"')
    current = auth_client.get(download_url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=f'"{sha256(DATA)}"')

    assert stale.status_code == 200
    assert current.status_code == 206


@pytest.mark.parametrize("header", ['"{sha}"', 'W/"{sha}"', '"other", "{sha}"', "*"])
def test_if_none_match_with_the_etag_is_304(auth_client, download_url, header):
    response = auth_client.get(download_url, HTTP_IF_NONE_MATCH=header.format(sha=sha256(DATA)))

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{sha256(DATA)}"'
    assert response["Cache-Control"] == "private, no-cache"
    # The sandbox stays: a cache updates its copy's headers with the 304's.
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    # Not the representation's own headers (RFC 9110 15.4.5).
    assert not {"Content-Disposition", "Accept-Ranges", "Content-Type", "Content-Length"} & set(response.headers)


def test_head_answers_the_headers_only(auth_client, download_url):
    response = auth_client.head(download_url)

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""


def test_any_accept_header_gets_the_file(auth_client, download_url):
    response = auth_client.get(download_url, HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert body(response) == DATA


def test_a_download_costs_two_queries(auth_client, download_url, django_assert_num_queries):
    with django_assert_num_queries(2):  # the token with its user, the attachment with its file
        body(auth_client.get(download_url))


def test_a_25_mib_download_streams_without_holding_the_file(auth_client, note, settings):
    data = os.urandom(settings.NOTES_ATTACHMENT_MAX_BYTES)
    url = upload(auth_client, note, data).json()["download_url"]

    tracemalloc.start()
    try:
        response = auth_client.get(url)
        received, size = hashlib.sha256(), 0
        for chunk in response.streaming_content:
            received.update(chunk)
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (size, received.hexdigest()) == (len(data), sha256(data))
    assert peak < 2 * 1024 * 1024  # a few chunks of 64 KiB, never the 25 MiB


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=95-", (95, 5)),
        ("bytes=-10", (90, 10)),
        ("bytes=0-1000", (0, 100)),
        ("bytes=0-" + "1" * 19, (0, 100)),
        ("bytes=90-" + "1" * 20, (90, 10)),
        ("bytes=-" + "1" * 20, (0, 100)),
        ("pages=1-2", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=100-",
        "bytes=5-4",
        "bytes=-0",
        "bytes=x-1",
        "bytes=",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=²-3",
        "bytes=" + " " * 4000 + "-" + " " * 4000 + "x",
    ],
)
def test_parse_range_refuses(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


def test_a_browser_app_may_ask_for_ranges_and_read_the_download_headers(cors, api_client, auth_client, download_url):
    preflight = api_client.options(
        download_url,
        HTTP_ORIGIN=CORS_ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, range, if-range",
    )
    response = auth_client.get(download_url, HTTP_ORIGIN=CORS_ORIGIN, HTTP_RANGE="bytes=0-0")

    assert {"range", "if-range"} <= set(preflight["Access-Control-Allow-Headers"].split(", "))
    exposed = set(response["Access-Control-Expose-Headers"].split(", "))
    assert {"etag", "content-range", "content-disposition", "accept-ranges"} <= exposed

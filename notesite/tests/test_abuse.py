"""Hostile input answers a clear 4xx, never a 5xx, and throttles hold across processes.

Two halves: every operation of the schema is sent hostile bodies and query
parameters in-process (so a new endpoint is covered as soon as it exists),
and raw, malformed HTTP goes to real gunicorn, whose own limits answer what
never reaches Django (request line, header size and count). Slow clients
are covered by test_slow_clients.py.
"""

import json
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from django.conf import settings as django_settings
from drf_spectacular.generators import SchemaGenerator

from notes.tests.factories import NoteFactory
from notesite.tests.servers import Server, manage, seed_users, served_database, server_env

NUL, LONE_SURROGATE = "a\x00b", "\\ud800"


def schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation, schema


def body_properties(operation, schema):
    """The string properties of an operation's JSON request body."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], content["schema"])
    return [name for name, spec in component.get("properties", {}).items() if spec.get("type") == "string"]


BODY_OPERATIONS = [
    (method, path, body_properties(operation, schema))
    for method, path, operation, schema in schema_operations()
    if body_properties(operation, schema) is not None
]
QUERY_PARAMETERS = [
    (method, path, parameter["name"])
    for method, path, operation, _ in schema_operations()
    for parameter in operation.get("parameters", [])
    if parameter["in"] == "query"
]


def label(case):
    return " ".join(str(part) for part in case)


@pytest.fixture
def target(user, auth_client, settings):
    """Fill a path's parameters with an object of the user's own, so the body gets read."""
    settings.NOTES_ALLOW_SIGNUP = True
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "1000/min", "register": "1000/min", "password": "1000/min"},
    }
    note = NoteFactory(owner=user)

    def fill(path):
        return path.replace("{id}", str(note.pk)).replace("{pk}", str(note.pk))

    return fill


HOSTILE_BODIES = {
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "invalid UTF-8": b'{"title": "\xff\xfe\xfd"}',
    "a raw NUL byte": b'{"title": "a\x00b"}',
    "not JSON at all": b"\x00\x01\x02\x03",
    "truncated": b'{"title": "unfinished',
    "NaN": b'{"title": NaN}',
    "a number too big": b'{"title": 1' + b"0" * 5000 + b"}",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "_"), BODY_OPERATIONS, ids=[label(case[:2]) for case in BODY_OPERATIONS])
@pytest.mark.parametrize("kind", HOSTILE_BODIES)
def test_hostile_bodies_answer_400(auth_client, target, method, path, _, kind):
    response = auth_client.generic(method, target(path), HOSTILE_BODIES[kind], content_type="application/json")

    assert response.status_code == 400, response.content
    if path == "/api/import/":  # an import answers its own report, naming the rejected file
        assert response.json()["rejected"][0]["errors"]
    else:
        assert "detail" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "_"), BODY_OPERATIONS, ids=[label(case[:2]) for case in BODY_OPERATIONS])
def test_oversized_bodies_answer_413(auth_client, target, method, path, _, settings):
    # An import has a limit of its own, made small here to keep the test light.
    settings.NOTES_IMPORT_MAX_BYTES = 64 * 1024
    limit = settings.NOTES_IMPORT_MAX_BYTES if path == "/api/import/" else settings.NOTES_MAX_BODY_BYTES
    body = json.dumps({"title": "x" * (limit + 10)})

    response = auth_client.generic(method, target(path), body, content_type="application/json")

    assert response.status_code == 413, response.content
    assert str(limit) in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "fields"), BODY_OPERATIONS, ids=[label(case[:2]) for case in BODY_OPERATIONS]
)
@pytest.mark.parametrize("text", [NUL, LONE_SURROGATE], ids=["NUL", "unpaired surrogate"])
def test_nul_and_unpaired_surrogates_in_every_text_field_answer_400(auth_client, target, method, path, fields, text):
    if not fields:
        pytest.skip(f"{method} {path} takes no text")  # only ever for a body of no strings
    quoted = json.dumps(text) if text == NUL else f'"{text}"'
    body = "{" + ", ".join(f'"{field}": {quoted}' for field in fields) + "}"

    response = auth_client.generic(method, target(path), body, content_type="application/json")

    assert response.status_code == 400, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "name"), QUERY_PARAMETERS, ids=[label(case) for case in QUERY_PARAMETERS])
def test_nul_in_every_query_parameter_answers_400_naming_it(auth_client, target, method, path, name):
    response = auth_client.generic(method, f"{target(path)}?{name}=a%00b")

    assert response.status_code == 400, response.content
    assert name in response.json()


@pytest.mark.django_db
def test_a_nul_after_a_valid_date_time_is_refused_too(auth_client, user):
    """Python's date-time parser drops a trailing NUL: the text is checked first."""
    note = auth_client.post("/api/notes/", {"title": "t"}, format="json").json()
    late = "2030-01-01T00:00:00\u0000"

    listed = auth_client.get("/api/notes/?updated_since=2030-01-01T00:00:00%00")
    shared = auth_client.post(f"/api/notes/{note['id']}/share/", {"expires_at": late}, format="json")
    imported = auth_client.post("/api/import/", [{"title": "t", "created_at": late}], format="json")

    assert (listed.status_code, listed.json()) == (400, {"updated_since": ["Null characters are not allowed."]})
    assert (shared.status_code, shared.json()) == (400, {"expires_at": ["Null characters are not allowed."]})
    assert imported.status_code == 400
    assert imported.json()["rejected"][0]["errors"] == {"created_at": ["Null characters are not allowed."]}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "name"), QUERY_PARAMETERS, ids=[label(case) for case in QUERY_PARAMETERS])
@pytest.mark.parametrize(
    "value",
    ["\ud800".encode("utf-8", "surrogatepass"), b"ok\xff\xfe"],
    ids=["encoded surrogate", "invalid UTF-8"],
)
def test_a_query_parameter_that_is_no_utf8_text_answers_400_naming_it(auth_client, target, method, path, name, value):
    response = auth_client.generic(method, f"{target(path)}?{name}={quote_from_bytes(value, safe='')}")

    assert response.status_code == 400, response.content
    assert name in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "name"), QUERY_PARAMETERS, ids=[label(case) for case in QUERY_PARAMETERS])
@pytest.mark.parametrize("value", [b"x" * 5000, "\ufffd".encode()], ids=["long", "a replacement character, sent"])
def test_odd_query_parameters_are_a_clear_answer_never_a_server_error(auth_client, target, method, path, name, value):
    response = auth_client.generic(method, f"{target(path)}?{name}={quote_from_bytes(value, safe='')}")

    assert response.status_code < 500, response.content
    assert response.status_code in (200, 400), response.content


@pytest.mark.django_db
def test_invalid_utf8_in_the_path_and_query_string_is_not_a_server_error(auth_client):
    path_answer = auth_client.get("/api/notes/%ff%fe/")
    query_answer = auth_client.get("/api/notes/?limit=%ff")
    search_answer = auth_client.get("/api/notes/?search=milk%ED%A0%80&pinned=true")

    assert path_answer.status_code == 404
    assert query_answer.status_code == 400
    assert (search_answer.status_code, list(search_answer.json())) == (400, ["search"])


# Real gunicorn: what never reaches Django.


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("abuse")
    with served_database(data_dir, "abuse") as database_url:
        env = server_env(data_dir, DATABASE_URL=database_url)
        manage(env, "migrate", "--noinput", "-v", "0")
        with Server(env) as server:
            yield server


def raw(server, request_bytes):
    """Send bytes as they are; answer the status code and the body."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    ("case", "request_bytes"),
    [
        ("huge request line", b"GET /api/notes/?q=" + b"x" * 10_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
        ("huge header", b"GET /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"y" * 10_000 + b"\r\n\r\n"),
        (
            "too many headers",
            b"GET /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-%d: 1\r\n" % n for n in range(200))
            + b"\r\n",
        ),
        (
            "invalid UTF-8 in the request line",
            b"GET /api/\xff\xfe/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        ),
        ("NUL in a header", b"GET /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Nul: a\x00b\r\n\r\n"),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n"),
    ],
)
def test_malformed_http_answers_a_clear_4xx(served, case, request_bytes):
    status, _ = raw(served, request_bytes)

    assert 400 <= status < 500, case


def test_a_search_of_500_four_byte_characters_reaches_the_api(served):
    search = quote("\U00020000" * 500)  # 6,000 bytes percent-encoded

    request = f"GET /api/notes/?search={search} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, body = raw(served, request.encode())

    assert status == 401  # the API's answer (no token), not gunicorn's 414
    assert json.loads(body)["detail"] == "Authentication credentials were not provided."


def test_body_over_the_limit_is_413_before_it_is_read(served):
    big = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part) for part in [big[i : i + 65536] for i in range(0, len(big), 65536)]
    )

    declared = httpx.post(f"{served.url}/api/notes/", content=big, headers={"Content-Type": "application/json"})
    status, _ = raw(
        served,
        b"POST /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Token nope\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + chunked
        + b"0\r\n\r\n",
    )

    # Anonymous: refused at once (401) or for its size (413), never a 5xx; a declared body is never
    # read, a chunked one no further than the limit (notesite.chunked).
    assert declared.status_code in (401, 413)
    assert status in (401, 413)


def chunked_request(method, path, token, body):
    """Raw HTTP/1.1 with the body in chunks of 5 bytes and no Content-Length."""
    head = (
        b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token %s\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ) % (method, path, token.encode())
    pieces = [body[i : i + 5] for i in range(0, len(body), 5)]
    return head + b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def test_chunked_bodies_are_read_not_taken_as_empty(served):
    """Django takes a body without Content-Length as empty: a chunked PATCH answered 200 and changed nothing."""
    [user] = seed_users(served.env, 1, prefix="chunked")
    token = user["token"]

    created_status, created = raw(served, chunked_request(b"POST", b"/api/notes/", token, b'{"title": "Streamed"}'))
    path = b"/api/notes/%d/" % json.loads(created)["id"]
    patched_status, patched = raw(served, chunked_request(b"PATCH", path, token, b'{"title": "Streamed again"}'))
    # A chunk size that is not hex, before a well-formed last chunk.
    malformed = chunked_request(b"PATCH", path, token, b"").removesuffix(b"0\r\n\r\n") + b"zz\r\nabc\r\n0\r\n\r\n"
    malformed_status, _ = raw(served, malformed)
    fetched = httpx.get(f"{served.url}{path.decode()}", headers={"Authorization": f"Token {token}"})

    assert (created_status, json.loads(created)["title"]) == (201, "Streamed")
    assert (patched_status, json.loads(patched)["title"]) == (200, "Streamed again")
    assert malformed_status == 400  # gunicorn's answer to a chunk size that is not hex
    assert (fetched.json()["title"], fetched.json()["version"]) == ("Streamed again", 2)


def test_chunked_body_over_the_limit_is_413(served):
    [user] = seed_users(served.env, 1, prefix="chunkedlong")
    long_body = b'{"title": "' + b"x" * (django_settings.NOTES_MAX_BODY_BYTES + 1) + b'"}'

    status, body = raw(served, chunked_request(b"POST", b"/api/notes/", user["token"], long_body))
    listed = httpx.get(f"{served.url}/api/notes/", headers={"Authorization": f"Token {user['token']}"})

    assert status == 413
    assert "Content-Length" in json.loads(body)["detail"]
    assert listed.json()["results"] == []


def test_authorization_header_of_invalid_bytes_is_401(served):
    status, body = raw(
        served,
        b"GET /api/notes/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token \xff\xfe\xfd\r\n"
        b"Connection: close\r\n\r\n",
    )

    assert status == 401
    assert json.loads(body)["detail"]


# Throttling of login and registration, counted across processes.


@pytest.fixture
def two_instances(tmp_path):
    with served_database(tmp_path, "throttle") as database_url:
        env = server_env(
            tmp_path,
            DATABASE_URL=database_url,
            # Per hour: a window's end (the counts start again) seldom falls within a test.
            NOTES_LOGIN_RATE="3/hour",
            NOTES_REGISTER_RATE="3/hour",
            NOTES_ALLOW_SIGNUP="true",
            WEB_CONCURRENCY=2,
        )
        manage(env, "migrate", "--noinput", "-v", "0")
        with Server(env) as first, Server(env) as second:
            yield [first, second]


def alternate(instances, path, bodies):
    """One request each, alternating between the instances, each on a new connection."""
    return [
        httpx.post(f"{instances[n % 2].url}{path}", json=body, headers={"Connection": "close"}, timeout=30)
        for n, body in enumerate(bodies)
    ]


@pytest.mark.stress
def test_login_and_register_throttles_hold_across_gunicorn_instances_and_workers(two_instances):
    logins = alternate(two_instances, "/api/auth/token/", [{"username": "nobody", "password": "wrong"}] * 6)
    registrations = alternate(
        two_instances,
        "/api/auth/register/",
        [{"username": f"user-{uuid.uuid4().hex[:8]}", "password": "a long enough passphrase 42"} for _ in range(6)],
    )

    assert [response.status_code for response in logins] == [400] * 3 + [429] * 3
    assert [response.status_code for response in registrations] == [201] * 3 + [429] * 3
    for response in logins[3:] + registrations[3:]:
        assert int(response.headers["Retry-After"]) > 0
        assert "throttled" in response.json()["detail"].lower()


@pytest.mark.stress
def test_a_concurrent_burst_of_logins_is_counted_request_by_request(two_instances):
    """Sixteen clients at once on two instances: DRF's throttles read and wrote back a list of
    timestamps, and a burst overwrote its own counts (8 clients got 14-17 logins past 10)."""
    wrong = {"username": "nobody", "password": "wrong"}

    def login(n):
        return httpx.post(f"{two_instances[n % 2].url}/api/auth/token/", json=wrong, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(login, range(32)))

    assert statuses == [400] * 3 + [429] * 29


def test_body_limit_setting_is_what_the_tests_assume():
    assert django_settings.NOTES_MAX_BODY_BYTES < 2 * 1024 * 1024


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "limit=500&limit=5",
        "pinned=maybe&pinned=true",
        "cursor=abc&cursor=def",
        "search=milk&search=eggs",
        "updated_since=bogus&updated_since=2020-01-01",
        "ordering=title&ordering=-title",
        "lim%69t=5&limit=5",
    ],
)
def test_a_parameter_given_twice_answers_400_naming_it(auth_client, query):
    response = auth_client.get(f"/api/notes/?{query}")

    assert response.status_code == 400
    assert list(response.json().values()) == [["Give this parameter once."]]


@pytest.mark.django_db
def test_tags_repeat_and_the_feed_takes_limit_once(auth_client):
    assert auth_client.get("/api/notes/?tag=home&tag=work&limit=5").status_code == 200
    assert auth_client.get("/api/changes/?limit=9999&limit=1").json() == {"limit": ["Give this parameter once."]}

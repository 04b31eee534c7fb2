"""The production configuration, served by real gunicorn as `make run` serves it."""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types

import httpx
import pytest

from notesite.tests.servers import BASE_DIR, Server, manage, redis_url_for_tests, server_env, unused_port


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    env = server_env(data_dir)
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    with Server(env) as server:
        yield server


def test_banner_says_where_everything_is(served):
    output = served.output()

    for line in ["/api/", "/api/docs/", "/admin/", "manage.py createsuperuser"]:
        assert line in output


def test_banners_create_user_command_works_in_the_servers_environment(served):
    command = re.search(r"Create a user: +(.+ createsuperuser)\n", served.output()).group(1)
    env = {**served.env, "DJANGO_SUPERUSER_PASSWORD": "banner-secret-42"}

    subprocess.run(
        [*command.split(), "--noinput", "--username", "banner", "--email", "banner@example.com"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )

    login = httpx.post(f"{served.url}/api/auth/token/", json={"username": "banner", "password": "banner-secret-42"})
    assert login.status_code == 200
    assert "this server's environment" in served.output()


# What when_ready reads of gunicorn's arbiter: its first listener's address.
ARBITER = types.SimpleNamespace(
    LISTENERS=[types.SimpleNamespace(sock=types.SimpleNamespace(getsockname=lambda: ("0.0.0.0", 8000)))]
)


def banner_user_command(monkeypatch, capsys, *, executable, path):
    from notesite import gunicorn as gunicorn_config

    monkeypatch.setattr(sys, "executable", str(executable))
    monkeypatch.setenv("PATH", str(path))
    monkeypatch.chdir(BASE_DIR)
    gunicorn_config.when_ready(ARBITER)
    return re.search(r"Create a user: +(.+)\n", capsys.readouterr().err).group(1)


def test_banner_names_python_when_path_finds_the_servers_own(monkeypatch, capsys, tmp_path):
    # The Docker image: /usr/local/bin/python, and no .venv.
    (tmp_path / "python").write_text("")
    (tmp_path / "python").chmod(0o755)

    command = banner_user_command(monkeypatch, capsys, executable=tmp_path / "python", path=tmp_path)

    assert command == "python manage.py createsuperuser"


def test_banner_names_the_virtualenvs_python_by_its_path(monkeypatch, capsys, tmp_path):
    # make run: gunicorn from .venv/bin, which is not on PATH.
    command = banner_user_command(monkeypatch, capsys, executable=BASE_DIR / ".venv/bin/python3", path=tmp_path)

    assert command == ".venv/bin/python3 manage.py createsuperuser"


def test_static_files_are_served_with_debug_off(served):
    admin_css = httpx.get(f"{served.url}/static/admin/css/base.css")
    swagger_page = httpx.get(f"{served.url}/api/docs/")

    assert admin_css.status_code == 200
    assert admin_css.headers["content-type"].startswith("text/css")
    assert swagger_page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', swagger_page.text)
    assert len(assets) >= 3
    for asset in assets:
        assert httpx.get(f"{served.url}{asset}").status_code == 200, asset


def test_health_checks_answer(served):
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{served.url}/readyz").json() == {"status": "ok"}


def test_unknown_api_path_is_json_404_under_gunicorn(served):
    response = httpx.get(f"{served.url}/api/nothing/here")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_requests_are_logged_as_json_lines(served):
    httpx.get(f"{served.url}/api/auth/me/")

    entries = [json.loads(line) for line in served.output().splitlines() if line.startswith("{")]
    requests = [entry for entry in entries if entry.get("path") == "/api/auth/me/"]
    assert requests
    assert requests[-1]["logger"] == "notes.request"
    assert requests[-1]["method"] == "GET"
    assert requests[-1]["status"] == 401
    assert isinstance(requests[-1]["duration_ms"], float)
    assert requests[-1]["time"].endswith("+0000")


def answers_on_one_connection(server, request, count):
    """The status line and headers of `count` answers to `request` (bytes), sent that many times on one connection."""
    host, port = server.url.removeprefix("http://").split(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        for _ in range(count):
            sock.sendall(request)
            received = b""
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536)
            head, body = received.split(b"\r\n\r\n", 1)
            answers.append(head.decode().lower().splitlines())
            length = int(next(line for line in answers[-1] if line.startswith("content-length:")).split(":")[1])
            while len(body) < length:
                body += sock.recv(65536)
    return answers


def post_without_token(body, *headers):
    return b"\r\n".join(
        [b"POST /api/notes/ HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json", *headers, b"", body]
    )


def test_a_large_body_answered_before_it_was_read_is_drained_and_the_connection_kept(served):
    # As nginx (deploy/nginx.conf) sends it: whole, on a kept-alive connection.
    body = b'{"title": "x", "content": "' + b"a" * 2_000_000 + b'"}'

    answers = answers_on_one_connection(served, post_without_token(body, b"Content-Length: %d" % len(body)), 3)

    assert [answer[0] for answer in answers] == ["http/1.1 401 unauthorized"] * 3
    assert all("connection: keep-alive" in answer for answer in answers)


def test_a_client_reusing_its_connection_after_a_refused_large_body_gets_every_answer(served):
    body = b'{"title": "x", "content": "' + b"a" * 2_000_000 + b'"}'

    with httpx.Client(base_url=served.url) as client:
        statuses = [client.post("/api/notes/", content=body).status_code for _ in range(3)]

    assert statuses == [401, 401, 401]


def test_a_body_too_large_to_drain_closes_the_connection_and_says_so(served):
    from notesite.gunicorn import DRAINED_BEFORE_NEXT_REQUEST

    # The headers and the first bytes of a body larger than gunicorn will drain.
    request = post_without_token(b"{", b"Content-Length: %d" % DRAINED_BEFORE_NEXT_REQUEST)

    (answer,) = answers_on_one_connection(served, request, 1)

    assert answer[0] == "http/1.1 401 unauthorized"
    assert "connection: close" in answer


def test_a_chunked_body_over_the_limit_closes_the_connection_and_says_so(served):
    chunk = b"a" * 100_000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(12)) + b"0\r\n\r\n"

    (answer,) = answers_on_one_connection(served, post_without_token(body, b"Transfer-Encoding: chunked"), 1)

    assert answer[0] == "http/1.1 413 request entity too large"
    assert "connection: close" in answer


def test_sigterm_stops_the_server_cleanly(tmp_path):
    env = server_env(tmp_path)
    manage(env, "migrate", "--noinput")
    server = Server(env)

    returncode = server.stop(signal.SIGTERM, timeout=30)

    assert returncode == 0
    assert "Shutting down: Master" in server.output()


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path):
    dead = f"postgres://postgres@127.0.0.1:{unused_port()}/notes"
    with Server(server_env(tmp_path, DATABASE_URL=dead)) as server:
        response = httpx.get(f"{server.url}/readyz")
        health = httpx.get(f"{server.url}/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reason": "database unavailable"}
    assert health.status_code == 200
    assert "Connection refused" in server.output()


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_requests_answer_503_logged_in_one_line_each_when_the_database_does_not_answer(tmp_path, database):
    dead = {
        "postgresql": f"postgres://postgres@127.0.0.1:{unused_port()}/notes",
        "sqlite": f"sqlite:///{tmp_path / 'no-such-folder' / 'notes.sqlite3'}",
    }[database]
    with Server(server_env(tmp_path, DATABASE_URL=dead)) as server:
        answers = [
            httpx.post(f"{server.url}/api/auth/token/", json={"username": "someone", "password": "a password"}),
            httpx.get(f"{server.url}/api/notes/", headers={"Authorization": "Token not-checked-yet"}),
            httpx.get(f"{server.url}/s/some-link/"),
            # A session cookie: the session is read from the database.
            httpx.get(f"{server.url}/admin/", cookies={"sessionid": "a-session"}),
        ]

    assert [answer.status_code for answer in answers] == [503] * 4
    assert all(answer.headers["Retry-After"] == "5" for answer in answers)
    entries = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    errors = [entry for entry in entries if entry["level"] == "ERROR"]
    assert [entry["logger"] for entry in errors] == ["notesite.database"] * 4
    assert "Traceback" not in server.output()


@contextlib.contextmanager
def made_to_run(env, port, log_path):
    """`make run` in `env`, once it answers on `port`: its /readyz answer. SIGTERM to make on leaving."""
    with open(log_path, "w") as log:
        make = subprocess.Popen(["make", "run"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield wait_for(f"http://127.0.0.1:{port}/readyz", timeout=120)
        finally:
            make.send_signal(signal.SIGTERM)
            make.wait(timeout=30)


def test_make_run_serves_with_zero_configuration_and_stops_on_sigterm(tmp_path):
    port = unused_port()
    log_path = tmp_path / "make-run.log"
    with made_to_run(server_env(tmp_path, PORT=port), port, log_path) as ready:
        pass

    assert ready.status_code == 200
    assert (tmp_path / "notes.sqlite3").exists()
    assert (tmp_path / "secret_key").exists()
    # gunicorn's master finishes shortly after make has gone.
    deadline = time.monotonic() + 30
    while "Shutting down: Master" not in log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "Shutting down: Master" in log_path.read_text()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def test_make_run_listens_where_gunicorn_bind_says(tmp_path):
    port, other_port = unused_port(), unused_port()
    env = server_env(tmp_path, PORT=other_port, GUNICORN_BIND=f"127.0.0.1:{port}")
    with made_to_run(env, port, tmp_path / "make-run.log") as ready:
        pass

    assert ready.status_code == 200
    assert f"Notes is serving on http://127.0.0.1:{port}" in (tmp_path / "make-run.log").read_text()


def wait_for(url, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_gunicorn(env):
    """gunicorn as `make run` starts it, for a start that is refused: its exit status and output."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "python:notesite.gunicorn"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group: should it start after all, its workers go down with it.
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, stderr = process.communicate()
    return types.SimpleNamespace(returncode=process.returncode, stderr=stderr)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PORT": "99999"}, "Error: PORT must be from 0 to 65535, not 99999."),
        ({"PORT": "eighty"}, "Error: PORT must be an integer, not 'eighty'."),
        ({"GUNICORN_THREADS": "four"}, "Error: GUNICORN_THREADS must be an integer, not 'four'."),
        ({"WEB_CONCURRENCY": "0"}, "Error: WEB_CONCURRENCY must be at least 1, not 0."),
        (
            {"GUNICORN_BIND": "127.0.0.1:99999"},
            "Error: the port to bind must be from 0 to 65535, not 99999 (127.0.0.1:99999).",
        ),
        (
            {"DATABASE_URL": "postgress://notes:hunter2-secret@db/notes"},
            "Error: DATABASE_URL must start with postgres:// or sqlite:// "
            "(e.g. postgres://user:password@host:5432/notes), not postgress://.",
        ),
        (
            {"ALLOWED_HOSTS": "https://notes.example.com"},
            "Error: ALLOWED_HOSTS lists host names as a request names them (notes.example.com, .example.com for it "
            "and its subdomains, 127.0.0.1, [::1] or *), with no scheme, port, path or trailing dot, "
            "not 'https://notes.example.com'.",
        ),
    ],
)
def test_a_mistake_in_the_environment_stops_gunicorn_with_one_line(tmp_path, overrides, message):
    # These printed a traceback (from bind(), dj-database-url, or every worker's boot) instead.
    # Any free port, unless the port is what the case is about.
    if not {"PORT", "GUNICORN_BIND"} & overrides.keys():
        overrides = {**overrides, "GUNICORN_BIND": "127.0.0.1:0"}

    result = start_gunicorn(server_env(tmp_path, **overrides))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == message
    assert "hunter2-secret" not in result.stderr


def test_gunicorn_on_postgresql_without_secret_key_stops_with_one_line(tmp_path):
    env = server_env(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused", GUNICORN_BIND="127.0.0.1:0")
    env.pop("SECRET_KEY")

    result = start_gunicorn(env)

    last_line = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert last_line.startswith("Error: SECRET_KEY must be set when DATABASE_URL is not SQLite")


def redis_start_refusal(tmp_path, url):
    """The last line of a gunicorn start refused for REDIS_URL=url, checked to be one line without the password."""
    result = start_gunicorn(server_env(tmp_path, REDIS_URL=url, GUNICORN_BIND="127.0.0.1:0"))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "hunter2-secret" not in result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_gunicorn_refuses_to_start_on_a_redis_port_nothing_listens_on(tmp_path):
    # Started fine, then every throttle let requests by uncounted, silently, for good.
    last_line = redis_start_refusal(tmp_path, "redis://:hunter2-secret@127.0.0.1:6390/1")

    assert last_line.startswith("Error: REDIS_URL names Redis at 127.0.0.1:6390/1, which does not answer (Error 111")


def test_gunicorn_refuses_to_start_on_a_redis_database_out_of_range(tmp_path):
    # The test Redis's own server, with a database it does not have (0 to 15 unless configured otherwise).
    server = redis_url_for_tests(3).rsplit("/", 1)[0]

    last_line = redis_start_refusal(tmp_path, f"{server}/99?password=hunter2-secret")

    assert last_line.startswith("Error: REDIS_URL names Redis at ")
    assert "/99, which does not answer (DB index is out of range)" in last_line


def test_gunicorn_starts_on_a_redis_that_answers(tmp_path):
    env = server_env(tmp_path, REDIS_URL=redis_url_for_tests(2))
    manage(env, "migrate", "--noinput")

    with Server(env) as server:
        response = httpx.get(f"{server.url}/readyz")

    assert response.status_code == 200


@pytest.fixture(scope="module")
def https_data(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("https")
    manage(server_env(data_dir), "migrate", "--noinput")
    return data_dir


def https_server(data_dir, forwarded_allow_ips):
    env = server_env(
        data_dir, NOTES_HTTPS="true", ALLOWED_HOSTS="notes.example.com", FORWARDED_ALLOW_IPS=forwarded_allow_ips
    )
    return Server(env)


def test_a_direct_clients_x_forwarded_proto_is_not_trusted(https_data):
    # This client (127.0.0.1) is not the proxy gunicorn trusts: its claim of HTTPS is ignored, and the
    # request is redirected to HTTPS as any plain HTTP one is. Django believed the header from anyone.
    with https_server(https_data, forwarded_allow_ips="192.0.2.10") as server:
        response = httpx.get(
            f"{server.url}/api/notes/", headers={"Host": "notes.example.com", "X-Forwarded-Proto": "https"}
        )

    assert response.status_code == 301
    assert response.headers["Location"] == "https://notes.example.com/api/notes/"


def test_the_trusted_proxys_x_forwarded_proto_gives_https_and_secure_cookies(https_data):
    with https_server(https_data, forwarded_allow_ips="127.0.0.1") as server:
        api = httpx.get(f"{server.url}/api/notes/", headers={"Host": "notes.example.com", "X-Forwarded-Proto": "https"})
        login = httpx.get(
            f"{server.url}/admin/login/", headers={"Host": "notes.example.com", "X-Forwarded-Proto": "https"}
        )
        plain = httpx.get(f"{server.url}/api/notes/", headers={"Host": "notes.example.com"})

    assert api.status_code == 401
    assert api.headers["Strict-Transport-Security"].startswith("max-age=")
    assert login.status_code == 200
    assert "csrftoken=" in login.headers["Set-Cookie"]
    assert "Secure" in login.headers["Set-Cookie"]
    assert plain.status_code == 301

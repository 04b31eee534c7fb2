"""The shipped nginx configuration (deploy/nginx.conf) in front of real gunicorn, as compose.yaml runs it.

Only the upstream's address and the port nginx listens on are changed: the
rest of the file is what the proxy container reads.
"""

import getpass
import os
import shutil
import signal
import subprocess
import time

import httpx
import pytest

from notesite.tests.servers import BASE_DIR, Server, manage, seed_users, server_env, unused_port

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")


def shipped_config(upstream, port, workdir):
    """deploy/nginx.conf pointed at `upstream`, listening on `port`, inside a main configuration of its own."""
    server = (BASE_DIR / "deploy" / "nginx.conf").read_text()
    assert "server app:8000 " in server
    assert "listen 80;" in server
    server = server.replace("server app:8000 ", f"server {upstream} ").replace(
        "listen 80;", f"listen 127.0.0.1:{port};"
    )
    (workdir / "notes.conf").write_text(server)
    main = workdir / "nginx.conf"
    main.write_text(
        # Workers as this user, not nobody: they write request bodies under the test's own folder.
        f"user {getpass.getuser()};\ndaemon off;\npid {workdir}/nginx.pid;\n"
        f"error_log {workdir}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {workdir}/body;\n  proxy_temp_path {workdir}/proxy;\n"
        f"  include {workdir}/notes.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """(the proxy's URL, a token): nginx on a port of its own before one gunicorn."""
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian's nginx-light)")
    data_dir = tmp_path_factory.mktemp("proxied")
    env = server_env(data_dir, NOTES_NUM_PROXIES=1, ALLOWED_HOSTS="localhost,127.0.0.1")
    manage(env, "migrate", "--noinput", "-v", "0")
    token = seed_users(env, 1, prefix="proxied")[0]["token"]
    with Server(env) as server:
        port = unused_port()
        config = shipped_config(server.url.removeprefix("http://"), port, tmp_path_factory.mktemp("nginx"))
        nginx = subprocess.Popen([NGINX, "-c", str(config), "-e", str(config.parent / "error.log")])
        url = f"http://localhost:{port}"
        try:
            wait_until_answering(url, nginx)
            yield url, token
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=30)


def wait_until_answering(url, nginx, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise RuntimeError(f"nginx exited with {nginx.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nginx did not answer")


def test_urls_the_api_builds_behind_the_proxy_keep_the_port_the_client_used(proxied):
    url, token = proxied
    with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}) as client:
        created = client.post("/api/notes/", json={"title": "Behind nginx"})
        client.post("/api/notes/", json={"title": "Another"})
        page = client.get("/api/notes/", params={"limit": 1}).json()

    note_url = f"{url}/api/notes/{created.json()['id']}/"
    assert created.status_code == 201
    assert created.headers["Location"] == note_url
    assert created.json()["url"] == note_url
    assert page["next"].startswith(f"{url}/api/notes/?")


def test_the_proxy_passes_a_large_import_and_the_apps_own_413(proxied):
    url, token = proxied
    too_long = {"title": "x", "content": "a" * 2_000_000}

    response = httpx.post(f"{url}/api/notes/", json=too_long, headers={"Authorization": f"Token {token}"})

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"

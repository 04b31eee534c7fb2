"""Two app instances on one PostgreSQL and one Redis behave as one service.

Nothing an instance keeps in memory may matter to another: a note written
through one is read and edited through the other and found by search
through the first; a throttle limit is
counted for both together; a token revoked through one is refused by the
other at once.
"""

import httpx
import pytest

from notesite.tests.servers import Server, manage, redis_url_for_tests, served_database, server_env

pytestmark = pytest.mark.postgresql

RATE = 12


@pytest.fixture
def two_instances(tmp_path, db):
    with served_database(tmp_path, "instances") as database_url:
        env = server_env(
            tmp_path,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url_for_tests(5),
            NOTES_USER_RATE=f"{RATE}/day",
            WEB_CONCURRENCY=1,
        )
        manage(env, "migrate", "--noinput")
        manage(
            env,
            "shell",
            "-c",
            "from accounts.models import User; User.objects.create_user('shared', password='instances-password-42')",
        )
        with Server(env) as first, Server(env) as second:
            yield first, second


def login(server):
    response = httpx.post(
        f"{server.url}/api/auth/token/", json={"username": "shared", "password": "instances-password-42"}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Token {response.json()['token']}"}


def test_two_instances_serve_one_set_of_notes(two_instances):
    first, second = two_instances
    auth = login(first)

    created = httpx.post(
        f"{first.url}/api/notes/", json={"title": "Shared", "content": "written through one"}, headers=auth
    )
    url = f"/api/notes/{created.json()['id']}/"
    read = httpx.get(f"{second.url}{url}", headers=auth)
    edited = httpx.patch(
        f"{second.url}{url}", json={"content": "edited through two"}, headers={**auth, "If-Match": read.headers["ETag"]}
    )
    stale = httpx.patch(f"{first.url}{url}", json={"content": "stale"}, headers={**auth, "If-Match": '"1"'})
    final = httpx.get(f"{first.url}{url}", headers=auth)
    found = httpx.get(f"{first.url}/api/notes/", params={"search": "edited through"}, headers=auth)

    assert created.status_code == 201
    assert read.json()["content"] == "written through one"
    assert edited.status_code == 200
    assert stale.status_code == 412
    assert final.json()["content"] == "edited through two"
    assert final.headers["ETag"] == '"2"'
    assert [note["id"] for note in found.json()["results"]] == [created.json()["id"]]


def test_a_token_revoked_on_one_instance_is_refused_by_the_other_at_once(two_instances):
    first, second = two_instances
    auth = login(first)
    assert httpx.get(f"{second.url}/api/auth/me/", headers=auth).status_code == 200

    revoked = httpx.post(f"{first.url}/api/auth/logout/", headers=auth)
    refused = httpx.get(f"{second.url}/api/auth/me/", headers=auth)

    assert revoked.status_code == 204
    assert refused.status_code == 401


def test_the_per_user_limit_is_counted_across_instances(two_instances):
    first, second = two_instances
    auth = login(first)

    statuses = [httpx.get(f"{(first, second)[n % 2].url}/api/auth/me/", headers=auth).status_code for n in range(RATE)]

    assert statuses == [200] * RATE
    assert httpx.get(f"{first.url}/api/auth/me/", headers=auth).status_code == 429
    assert httpx.get(f"{second.url}/api/auth/me/", headers=auth).status_code == 429

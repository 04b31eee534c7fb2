"""NOTES_USER_RATE counts are shared: two gunicorn instances count one user's requests together.

Each instance is its own process with its own memory, so a count kept per
process would let the user through twice as often. The database cache
(the default) and Redis both hold one count for all of them.
"""

import httpx
import pytest

from notesite.tests.servers import Server, manage, redis_url_for_tests, served_database, server_env

RATE = 4


@pytest.fixture
def redis_url():
    return redis_url_for_tests(6)


@pytest.fixture
def site_env(tmp_path, db):
    """The environment of a served site on a database of its own, of the suite's kind, migrated."""
    with served_database(tmp_path, "servers") as url:
        env = server_env(tmp_path, DATABASE_URL=url, NOTES_USER_RATE=f"{RATE}/day", WEB_CONCURRENCY=1)
        manage(env, "migrate", "--noinput", "-v", "0")
        yield env


def a_token(env):
    output = manage(
        env,
        "shell",
        "-v",
        "0",
        "-c",
        "from accounts.models import AuthToken, User;"
        "user = User.objects.create_user('shared-throttle', password='unused but long enough');"
        "print(AuthToken.objects.create(user=user)[1])",
    )
    return output.stdout.strip().splitlines()[-1]


def requests_alternating_between_two_instances(env):
    headers = {"Authorization": f"Token {a_token(env)}"}
    with Server(env) as first, Server(env) as second:
        return [
            httpx.get(f"{(first, second)[n % 2].url}/api/notes/", headers=headers, timeout=30) for n in range(RATE + 2)
        ]


def test_two_instances_share_the_count_in_the_database_cache(site_env):
    responses = requests_alternating_between_two_instances(site_env)

    assert [response.status_code for response in responses] == [200] * RATE + [429, 429]
    assert all(int(response.headers["Retry-After"]) > 0 for response in responses[RATE:])


def test_two_instances_share_the_count_in_redis(site_env, redis_url):
    site_env["REDIS_URL"] = redis_url

    responses = requests_alternating_between_two_instances(site_env)

    assert [response.status_code for response in responses] == [200] * RATE + [429, 429]
    assert all(int(response.headers["Retry-After"]) > 0 for response in responses[RATE:])

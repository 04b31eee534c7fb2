"""The service with its shared cache down: the limits it counts let requests by, nothing answers 500.

The cache is a real Redis client pointed at a port nothing listens on, so
every call raises what a Redis outage raises (redis.exceptions.ConnectionError).
"""

import pytest
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts.models import User
from notes.sharing.rendering import KEEP_FROM_CHARS
from notes.sharing.services import public_link_create
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def cache_down(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with pytest.raises(RedisConnectionError):
        cache.get("anything")


def test_logins_are_let_by_and_logged(api_client, user, password, caplog):
    wrong = api_client.post("/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    right = api_client.post("/api/auth/token/", {"username": user.username, "password": password}, format="json")

    assert wrong.status_code == 400
    assert right.status_code == 200
    assert "The cache cannot count login requests" in caplog.text


def test_registration_is_let_by(api_client, settings, password):
    settings.NOTES_ALLOW_SIGNUP = True

    response = api_client.post("/api/auth/register/", {"username": "newcomer", "password": password}, format="json")

    assert response.status_code == 201
    assert User.objects.filter(username="newcomer").exists()


def test_the_per_user_rate_lets_requests_by(auth_client, settings):
    settings.NOTES_USER_RATE = "1/min"

    assert [auth_client.get("/api/notes/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("length", [100, KEEP_FROM_CHARS])
def test_public_pages_answer_short_and_long_notes(client, user, length):
    note = NoteFactory(owner=user, content="word " * (length // 5))
    link = public_link_create(note=note, expires_at=None)

    responses = [client.get(f"/s/{link.token}") for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert b"word word" in responses[0].content


def test_deleting_an_account_is_not_failed_by_the_cache(auth_client, user, password, settings):
    settings.NOTES_USER_RATE = "1000/day"  # so there are counts to forget

    response = auth_client.delete("/api/auth/me/", {"password": password}, format="json")

    assert response.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()

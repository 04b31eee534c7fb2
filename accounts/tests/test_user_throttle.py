"""NOTES_USER_RATE: a per-user limit over the whole API, counted in the shared cache."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from accounts.throttles import UserRateThrottle
from notesite.settings import env_rate

pytestmark = pytest.mark.django_db


@pytest.fixture
def rate(settings):
    """Set NOTES_USER_RATE on a clean cache."""
    cache.clear()

    def set_rate(value):
        settings.NOTES_USER_RATE = value

    return set_rate


@pytest.fixture
def clock(monkeypatch):
    """A controllable clock for the throttle (the cache keeps real time)."""

    class Clock:
        now = time.time()

        def __call__(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr(UserRateThrottle, "timer", clock)
    return clock


def cache_keys():
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM notes_cache")
        return [row[0] for row in cursor.fetchall()]


def test_off_by_default_and_then_counts_nothing(auth_client, settings):
    cache.clear()

    statuses = {auth_client.get("/api/notes/").status_code for _ in range(20)}

    assert settings.NOTES_USER_RATE is None
    assert statuses == {200}
    assert cache_keys() == []


def test_past_the_rate_a_user_gets_429_with_retry_after(auth_client, rate):
    rate("3/day")

    statuses = [auth_client.get("/api/notes/").status_code for _ in range(3)]
    response = auth_client.get("/api/notes/")

    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert response.json()["detail"].startswith("Request was throttled.")


def test_every_endpoint_counts_against_the_one_rate(auth_client, rate):
    rate("3/day")

    auth_client.get("/api/notes/")
    auth_client.post("/api/notes/", {"title": "t"}, format="json")
    auth_client.get("/api/auth/tokens/")

    assert auth_client.get("/api/auth/me/").status_code == 429
    assert auth_client.post("/api/notes/", {"title": "t"}, format="json").status_code == 429


def test_each_user_has_their_own_count(auth_client, other_client, rate):
    rate("2/day")
    for _ in range(2):
        auth_client.get("/api/notes/")

    assert auth_client.get("/api/notes/").status_code == 429
    assert other_client.get("/api/notes/").status_code == 200


def test_anonymous_requests_are_not_counted_as_anyone(api_client, auth_client, user, password, rate):
    rate("1/day")

    for _ in range(3):
        api_client.get("/api/notes/")
        api_client.post("/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json")

    assert auth_client.get("/api/notes/").status_code == 200


def test_retry_after_is_the_time_left_in_the_window_and_then_requests_pass(auth_client, user, rate, clock):
    rate("2/min")
    _, remaining = UserRateThrottle.window(user.pk, 60)
    clock.now += remaining - 10.5  # 10.5 seconds before the user's window ends
    auth_client.get("/api/notes/")
    auth_client.get("/api/notes/")

    throttled = auth_client.get("/api/notes/")
    clock.now += 11
    after = auth_client.get("/api/notes/")

    assert throttled.status_code == 429
    assert throttled["Retry-After"] == "11"
    assert after.status_code == 200


def test_a_long_window_outlives_the_caches_default_timeout(auth_client, user, rate, clock):
    """The database cache's incr() stores with the default 300 s; an hour's count must last the hour."""
    rate("5/hour")
    clock.now += UserRateThrottle.window(user.pk, 3600)[1] + 1  # the start of the user's next window

    auth_client.get("/api/notes/")
    auth_client.get("/api/notes/")

    key, remaining = UserRateThrottle.window(user.pk, 3600)
    assert cache.get(key) == 2
    window_end = connection.ops.adapt_datetimefield_value(timezone.now() + timedelta(seconds=remaining - 1))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM notes_cache WHERE cache_key LIKE %s AND expires >= %s", [f"%{key}", window_end]
        )
        assert cursor.fetchone() == (1,)


def test_counts_live_in_the_shared_cache_not_in_the_process(auth_client, user, rate):
    rate("10/day")

    auth_client.get("/api/notes/")

    key, _ = UserRateThrottle.window(user.pk, 86400)
    assert any(stored.endswith(key) for stored in cache_keys())


@pytest.mark.parametrize("value", ["600/min", "1/s", "10/second", "5/hour", "100/day", " 600/min "])
def test_rates_are_read_from_the_environment(monkeypatch, value):
    monkeypatch.setenv("NOTES_USER_RATE", value)

    assert env_rate("NOTES_USER_RATE") == value.strip()


def test_an_unset_or_empty_rate_is_off(monkeypatch):
    monkeypatch.setenv("NOTES_USER_RATE", "")

    assert env_rate("NOTES_USER_RATE") is None


@pytest.mark.parametrize("value", ["600", "0/min", "-1/min", "ten/min", "600/minutes!", "600/5min", "600/week"])
def test_a_malformed_rate_is_refused_at_start(monkeypatch, value):
    monkeypatch.setenv("NOTES_USER_RATE", value)

    with pytest.raises(ImproperlyConfigured, match="NOTES_USER_RATE must be a rate such as 600/min"):
        env_rate("NOTES_USER_RATE")

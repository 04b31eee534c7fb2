"""notesite.cache.DatabaseCache: Django's database cache with an atomic incr()."""

import threading

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db


def expiry_of(key):
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM notes_cache WHERE cache_key = %s", [cache.make_key(key)])
        return cursor.fetchone()[0]


def test_incr_adds_and_keeps_the_expiry():
    cache.add("count", 1, timeout=3600)
    before = expiry_of("count")

    assert cache.incr("count") == 2
    assert cache.incr("count", 5) == 7
    assert cache.get("count") == 7
    assert expiry_of("count") == before  # Django's incr set it again, with the default timeout


def test_incr_of_a_missing_or_expired_key_is_a_value_error():
    cache.set("gone", 1, timeout=-1)

    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    with pytest.raises(ValueError, match="not found"):
        cache.incr("gone")


@pytest.mark.django_db(transaction=True)
def test_concurrent_increments_are_each_counted():
    """Each thread on a connection of its own, as gunicorn's are."""
    cache.add("burst", 0, timeout=3600)
    start = threading.Barrier(8)

    def increment():
        start.wait()
        for _ in range(25):
            cache.incr("burst")
        connection.close()

    threads = [threading.Thread(target=increment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert cache.get("burst") == 200


@pytest.mark.django_db(transaction=True)
def test_migrate_puts_back_a_missing_cache_table():
    # A database migrated while REDIS_URL was set has none (migration 0002 ran
    # without creating it), and served without Redis no limit could count.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE notes_cache")

    call_command("migrate", verbosity=0)

    assert "notes_cache" in connection.introspection.table_names()
    assert cache.add("counted", 1) is True

"""Django's database cache, with an incr() that two requests cannot both read before either writes."""

import base64
import pickle
import re
import sys
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache.backends import db
from django.db import DatabaseError, connections, models, router, transaction
from django.utils import timezone
from redis.exceptions import RedisError

# What a cache raises when it cannot answer: Redis down or timing out, the
# database cache's table locked or gone. Django's cache API does not wrap them.
CACHE_ERRORS = (RedisError, DatabaseError)


class DatabaseCache(db.DatabaseCache):
    """The default cache when no Redis is configured: it holds the throttle counts.

    Django's incr() is BaseCache's get() then set(): concurrent requests read
    the same count and each write it plus one, so a burst of them counts as
    few (eight clients at once went past every limit). Here the row is read
    locked (FOR UPDATE on PostgreSQL; on SQLite the IMMEDIATE transaction
    holds the write lock from its start) and written in the same transaction,
    keeping its expiry, as Redis's INCR does.
    """

    def incr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote_name = connection.ops.quote_name
        table, cache_key, value_column = quote_name(self._table), quote_name("cache_key"), quote_name("value")
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {value_column}, {quote_name('expires')} FROM {table} WHERE {cache_key} = %s{lock}", [key]
            )
            row = cursor.fetchone()
            if row is None or _read_expiry(connection, row[1]) < timezone.now():
                raise ValueError(f"Key '{key}' not found")
            value = pickle.loads(base64.b64decode(connection.ops.process_clob(row[0]).encode())) + delta
            stored = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
            cursor.execute(f"UPDATE {table} SET {value_column} = %s WHERE {cache_key} = %s", [stored, key])
        return value


def _read_expiry(connection, expires):
    # As DatabaseCache.get_many converts it: aware or naive by the backend.
    expression = models.Expression(output_field=models.DateTimeField())
    for converter in connection.ops.get_db_converters(expression) + expression.get_db_converters(connection):
        expires = converter(expires, expression, connection)
    return expires


# Seconds gunicorn's master waits for each Redis server at start.
REDIS_START_TIMEOUT = 3


def exit_if_redis_does_not_answer(timeout=REDIS_START_TIMEOUT):
    """Ask each Redis server of the cache once; the first that does not answer ends the process, named.

    After the start a Redis outage lets requests by uncounted (README,
    "Decisions"): a REDIS_URL wrong from the start would do so silently,
    for good, while every health check said ok.
    """
    cache = settings.CACHES["default"]
    if cache["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return
    # Django's RedisCache reads LOCATION as this list: writes go to the first, reads to any.
    for server in re.split("[;,]", cache["LOCATION"]):
        client = redis.Redis.from_url(server, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()  # a database out of range fails here too: the connection selects it first
        except redis.RedisError as error:
            sys.exit(
                f"Error: REDIS_URL names Redis at {redis_server_name(server)}, which does not answer ({error}); "
                "the service counts login attempts there. Fix REDIS_URL or start Redis."
            )
        finally:
            client.close()


def redis_server_name(server):
    """Where a Redis URL points, without its password (in the user part or the query)."""
    parts = urlsplit(server)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"

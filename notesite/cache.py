"""Django's database cache, with an incr() that two requests cannot both read before either writes."""

import base64
import pickle

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

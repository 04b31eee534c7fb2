"""Request limits, counted in the shared cache so every worker and instance counts together.

Each limit is a fixed window per key (a user, a client address), counted
with add() and incr(): exact under any concurrency, since incr is atomic on
Redis and on the database cache (notesite.cache). DRF's own throttles keep
a list of timestamps they read and write back, which concurrent requests
overwrite: eight clients at once went past every limit with them.
"""

import hashlib
import ipaddress
import logging
import math
import time
import zlib

from django.conf import settings
from django.core.cache import cache as default_cache
from django.db import transaction
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from notesite.cache import CACHE_ERRORS
from notesite.database import database_unavailable

logger = logging.getLogger(__name__)

# Longer idents (an address is at most 45 characters) are keyed by their digest.
MAX_IDENT_CHARS = 64


class CannotCount(Exception):
    """The cache neither counted the request nor raised: the database cache's add() swallows its errors."""


class WindowRateThrottle(BaseThrottle):
    """At most `rate` requests per key in each window of the rate's period.

    Each key's windows start at an offset of their own, so not every client
    is let back at the same instant. A burst may take up to twice the rate
    across the end of one window and the start of the next.
    """

    scope = None
    cache = default_cache
    timer = time.time
    periods = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def get_rate(self, view):
        """The rate ("10/min"), or None for no limit."""
        raise NotImplementedError

    def counted_as(self, request, view):
        """Who the request counts for (a user id, an address), or None when it is not counted."""
        raise NotImplementedError

    def allow_request(self, request, view):
        rate = self.get_rate(view)
        if not rate:
            return True
        ident = self.counted_as(request, view)
        if ident is None:
            return True
        limit, period = self.parse_rate(rate)
        key, self.remaining = self.window(ident, period, scope=self.scope)
        try:
            # A second past a whole window, so its key never expires while in use.
            return self.count(key, timeout=period + 1) <= limit
        except (CannotCount, *CACHE_ERRORS) as error:
            if database_unavailable(error):
                # The database cache's database is down, for the view too: the
                # request answers 503, logged once (notesite.exceptions).
                raise
            # A cache that cannot count lets the request by (README, "Decisions").
            logger.error("The cache cannot count %s requests: %r", self.scope, error)
            return True

    def wait(self):
        return max(1, math.ceil(self.remaining))

    def get_ident(self, request):
        return client_network(super().get_ident(request))

    @classmethod
    def parse_rate(cls, rate):
        count, period = rate.split("/")
        return int(count), cls.periods[period[0]]

    @classmethod
    def window(cls, ident, period, scope=None):
        """The cache key of the current window for `ident`, and the seconds left in it."""
        offset = ident if isinstance(ident, int) else zlib.crc32(str(ident).encode())
        window, elapsed = divmod(cls.timer() - offset % period, period)
        if len(name := str(ident)) > MAX_IDENT_CHARS:
            # An address from X-Forwarded-For may be any text: the key must fit the cache's 250 characters.
            name = hashlib.sha256(name.encode()).hexdigest()
        return f"throttle_{scope or cls.scope}_{name}_{period}_{int(window)}", period - elapsed

    def count(self, key, timeout):
        """Add this request to the window's count and answer the count."""
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first request
            if self.cache.add(key, 1, timeout):
                return 1
            try:
                return self.cache.incr(key)  # another worker's came first
            except ValueError:
                raise CannotCount(key) from None


def client_network(address):
    """Who an address counts as: an IPv6 address by its /64, an IPv4 one (or other text) as it is.

    One client is given a whole /64 and may take a new address in it for
    every request: counted by address, it had unlimited login attempts.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # from X-Forwarded-For: any text
    if parsed.version == 4:
        return address
    if parsed.ipv4_mapped:
        return str(parsed.ipv4_mapped)
    return f"{ipaddress.IPv6Network((parsed, 64), strict=False).network_address}/64"


class UserRateThrottle(WindowRateThrottle):
    """At most NOTES_USER_RATE requests per user over the whole API.

    Requests without a user are not counted: they are refused with 401, and
    login and registration count per address.
    """

    scope = "user"

    def get_rate(self, view):
        return settings.NOTES_USER_RATE

    def counted_as(self, request, view):
        return request.user.pk if request.user.is_authenticated else None


class AddressRateThrottle(WindowRateThrottle):
    """Count a view's requests per client address, at the rate of its `throttle_scope`.

    For the views that come before a login (token, register): every caller
    is anonymous there, so the address is all there is to count by. Only a
    POST checks a password or makes an account: reading the form (GET,
    OPTIONS in the browsable API, a CORS preflight) must not use up the
    attempts.
    """

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        self.scope = view.throttle_scope  # "login", "register": as DRF's ScopedRateThrottle reads it
        return super().allow_request(request, view)

    def get_rate(self, view):
        # Read the rates now, not at import, so changed settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def counted_as(self, request, view):
        return self.get_ident(request)


class PasswordCheckThrottle(WindowRateThrottle):
    """Count a user's password checks (password change, the admin's too; account deletion).

    A stolen token must not become a way to guess the password behind it:
    these checks are limited like logins, counted per user.
    """

    scope = "password"

    def get_rate(self, view):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def counted_as(self, request, view):
        return request.user.pk


def forget_user(user_id):
    """Drop the counts kept for a user whose account is gone."""
    keys = []
    for throttle, rate in (
        (PasswordCheckThrottle, api_settings.DEFAULT_THROTTLE_RATES.get(PasswordCheckThrottle.scope)),
        (UserRateThrottle, settings.NOTES_USER_RATE),
    ):
        if rate:
            keys.append(throttle.window(user_id, throttle.parse_rate(rate)[1])[0])
    try:
        # A savepoint: the caller's transaction (the account's deletion)
        # must survive a database cache that fails, as PostgreSQL aborts it.
        with transaction.atomic():
            default_cache.delete_many(keys)
    except CACHE_ERRORS as error:
        # Never a reason to keep the account: the counts expire with their window.
        logger.error("The cache cannot forget user %s's counts: %r", user_id, error)

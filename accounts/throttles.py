import math
import time

from django.conf import settings
from django.core.cache import cache as default_cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle


class AddressRateThrottle(ScopedRateThrottle):
    """Count a view's requests per client address, in the shared cache.

    For the views that come before a login (token, register): every caller
    is anonymous there, so the address is all there is to count by.
    """

    def get_rate(self):
        # Read the rates now, not at import, so changed settings apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordCheckThrottle(SimpleRateThrottle):
    """Count a user's password checks (password change, account deletion).

    A stolen token must not become a way to guess the password behind it:
    these checks are limited like logins, counted per user.
    """

    scope = "password"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return self.key_for(request.user.pk)

    @classmethod
    def key_for(cls, user_id):
        return cls.cache_format % {"scope": cls.scope, "ident": user_id}


class UserRateThrottle(BaseThrottle):
    """At most NOTES_USER_RATE requests per user over the whole API.

    A fixed window per user, counted in the shared cache with add() and
    incr(): one small counter per user and window, exact under concurrency
    where incr is atomic (Redis). Each user's windows start at an offset of
    their own, so not every client is let through at the same instant.
    """

    cache = default_cache
    timer = time.time
    periods = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def allow_request(self, request, view):
        rate = settings.NOTES_USER_RATE
        if not rate or not request.user.is_authenticated:
            return True
        limit, period = self.parse_rate(rate)
        key, self.remaining = self.window(request.user.pk, period)
        # A second past the window, so its key never expires while in use.
        return self.count(key, timeout=math.ceil(self.remaining) + 1) <= limit

    def wait(self):
        return max(1, math.ceil(self.remaining))

    @classmethod
    def parse_rate(cls, rate):
        count, period = rate.split("/")
        return int(count), cls.periods[period[0]]

    @classmethod
    def window(cls, user_id, period):
        """The cache key of the user's current window, and the seconds left in it."""
        window, elapsed = divmod(cls.timer() - user_id % period, period)
        return f"throttle_user_{user_id}_{period}_{int(window)}", period - elapsed

    def count(self, key, timeout):
        """Add this request to the window's count and answer the count."""
        try:
            count = self.cache.incr(key)
        except ValueError:  # the window's first request
            if self.cache.add(key, 1, timeout):
                return 1
            count = self.cache.incr(key)  # another worker's came first
        if self.cache.default_timeout is not None and timeout > self.cache.default_timeout:
            # BaseCache.incr (the database cache's) stores the new count with
            # the default timeout; a longer window must outlive it.
            self.cache.touch(key, timeout)
        return count


def forget_user(user_id):
    """Drop the counts kept for a user whose account is gone."""
    keys = [PasswordCheckThrottle.key_for(user_id)]
    if settings.NOTES_USER_RATE:
        _, period = UserRateThrottle.parse_rate(settings.NOTES_USER_RATE)
        keys.append(UserRateThrottle.window(user_id, period)[0])
    default_cache.delete_many(keys)

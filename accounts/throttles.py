from django.core.cache import cache as default_cache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


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


def forget_user(user_id):
    """Drop the counts kept for a user whose account is gone."""
    default_cache.delete_many([PasswordCheckThrottle.key_for(user_id)])

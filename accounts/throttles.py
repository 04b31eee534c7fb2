from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle


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

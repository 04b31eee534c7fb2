"""Django's login forms (the admin's, the browsable API's), limited like the API's login."""

import math
from types import SimpleNamespace

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.throttles import AddressRateThrottle

# What AddressRateThrottle reads of a view: POST /api/auth/token/'s scope.
LOGIN_VIEW = SimpleNamespace(throttle_scope="login")


class LoginRateLimited:
    """Each login attempt counts against NOTES_LOGIN_RATE per client address.

    The same count as `POST /api/auth/token/`'s, so a password cannot be
    guessed faster by turning from the API to a login page.
    """

    def clean(self):
        throttle = AddressRateThrottle()
        if not throttle.allow_request(self.request, LOGIN_VIEW):
            raise ValidationError(
                "Too many login attempts from your address: try again in %(seconds)s seconds.",
                code="throttled",
                params={"seconds": math.ceil(throttle.wait())},
            )
        return super().clean()


class LoginForm(LoginRateLimited, AuthenticationForm):
    pass


class AdminLoginForm(LoginRateLimited, AdminAuthenticationForm):
    pass

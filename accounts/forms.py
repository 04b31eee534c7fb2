"""Django's login and password change forms, limited (and, changing a password, revoking) like the API's."""

import math
from types import SimpleNamespace

from django.contrib.admin.forms import AdminAuthenticationForm, AdminPasswordChangeForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts.services import password_change
from accounts.throttles import AddressRateThrottle, PasswordCheckThrottle

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


class OwnPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "Change password" page, limited and revoking tokens as `POST /api/auth/password/` does."""

    def clean_old_password(self):
        # The same count per user as the API's password checks (it reads only the request's user),
        # so the admin is no second way to guess.
        throttle = PasswordCheckThrottle()
        if not throttle.allow_request(SimpleNamespace(user=self.user), view=None):
            raise ValidationError(
                "Too many password attempts: try again in %(seconds)s seconds.",
                code="throttled",
                params={"seconds": throttle.wait()},
            )
        return super().clean_old_password()

    def save(self, commit=True):
        if not commit:
            return super().save(commit=False)
        # Every token of the user is revoked and their other sessions end; Django's view then
        # keeps this one (update_session_auth_hash).
        password_change(user=self.user, new_password=self.cleaned_data["new_password1"])
        return self.user

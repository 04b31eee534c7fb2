"""Who may make a request, decided before it is throttled or read (DRF checks permissions first)."""

from django.conf import settings
from rest_framework.permissions import BasePermission


class SignUpAllowed(BasePermission):
    """Registration (POST) only while NOTES_ALLOW_SIGNUP is on; other methods go on to their 405.

    Checked before the register throttle: a closed sign-up answers 403 every
    time and counts nothing, where raising it in the view answered 429 once
    the address had used up its attempts.
    """

    message = "Sign-up is disabled on this server: ask its administrator for an account."

    def has_permission(self, request, view):
        return request.method != "POST" or settings.NOTES_ALLOW_SIGNUP

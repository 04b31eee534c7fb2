from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.settings import knox_settings
from rest_framework import generics, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import TokenAuthentication
from accounts.models import AuthToken, User
from accounts.permissions import SignUpAllowed
from accounts.serializers import (
    AccountDeleteSerializer,
    PasswordChangeSerializer,
    RegisterSerializer,
    TokenInfoSerializer,
    TokenSerializer,
    UserSerializer,
)
from accounts.services import PasswordChangedMeanwhile, password_change, user_delete
from accounts.throttles import AddressRateThrottle, PasswordCheckThrottle
from notes.pagination import KeysetPagination
from notes.views import OwnedByUserMixin
from notesite.schema import ErrorSerializer


def issue_token(request, user):
    """Create a token for `user` and answer it with its expiry.

    Only for the password that was checked: a password change (which revokes
    every other token) or the account's deletion, committed since, refuses
    the login, as if it had come after.
    """
    with transaction.atomic():
        if not User.objects.select_for_update().filter(pk=user.pk, password=user.password).exists():
            raise ValidationError({"non_field_errors": [_("Unable to log in with provided credentials.")]})
        # Logging in is when a user's expired tokens are seen to; purge_tokens
        # sweeps those of users who stopped coming.
        AuthToken.objects.owned_by(user).expired().delete()
        instance, token = AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)
        user_logged_in.send(sender=user.__class__, request=request, user=user)
    return TokenSerializer({"token": token, "expires_at": instance.expiry, "user": user}).data


# An answer holding a new token is kept by no cache, a browser's included (as RFC 6749 asks of token answers).
@method_decorator(never_cache, name="dispatch")
class LoginView(generics.GenericAPIView):
    """Exchange a username and password for an API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AddressRateThrottle]
    throttle_scope = "login"
    serializer_class = AuthTokenSerializer

    @extend_schema(responses={200: TokenSerializer}, auth=[])
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(issue_token(request, serializer.validated_data["user"]))


@method_decorator(never_cache, name="dispatch")
class RegisterView(generics.GenericAPIView):
    """Create an account and its first token (only when NOTES_ALLOW_SIGNUP is on)."""

    authentication_classes = []
    permission_classes = [SignUpAllowed]
    throttle_classes = [AddressRateThrottle]
    throttle_scope = "register"
    serializer_class = RegisterSerializer

    @extend_schema(
        responses={
            201: TokenSerializer,
            403: OpenApiResponse(ErrorSerializer, description="Sign-up is off on this server (`NOTES_ALLOW_SIGNUP`)."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.save()
        return Response(issue_token(request, user), status=status.HTTP_201_CREATED)


class LogoutView(APIView):
    """Revoke the token that makes this request."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        request.auth.delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    """Revoke every API token of the requesting user; from a browser's session too (which stays)."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        AuthToken.objects.filter(user=request.user).delete()
        user_logged_out.send(sender=request.user.__class__, request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChecksPasswordMixin:
    """Count the requests of `password_checked_method`, which check the password, with PasswordCheckThrottle.

    Only those: reading the form (GET, OPTIONS in the browsable API) must not
    use up the attempts.
    """

    password_checked_method = None

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == self.password_checked_method:
            throttles.append(PasswordCheckThrottle())
        return throttles


class MeView(ChecksPasswordMixin, generics.RetrieveDestroyAPIView):
    """The user making the request; DELETE deletes the account and everything in it."""

    serializer_class = UserSerializer
    # What DELETE takes: the password, confirming (see notesite.schema too).
    destroy_serializer_class = AccountDeleteSerializer
    password_checked_method = "DELETE"

    def get_object(self):
        return self.request.user

    @extend_schema(responses={204: None})
    def delete(self, request):
        confirmation = self.destroy_serializer_class(data=request.data, context=self.get_serializer_context())
        confirmation.is_valid(raise_exception=True)
        user_delete(user=request.user)
        if isinstance(request.successful_authenticator, SessionAuthentication):
            request.session.flush()
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(ChecksPasswordMixin, generics.GenericAPIView):
    """Change the password; every other token of the user is revoked, this one keeps working."""

    serializer_class = PasswordChangeSerializer
    password_checked_method = "POST"

    @extend_schema(responses={204: None})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            password_change(
                user=request.user, new_password=serializer.validated_data["new_password"], keep_token=request.auth
            )
        except PasswordChangedMeanwhile:
            # Another device's change came first: the old password sent is no longer the password.
            raise ValidationError({"old_password": [serializer.wrong_password_message]}) from None
        if isinstance(request.successful_authenticator, SessionAuthentication):
            # Keep the browser that made the change logged in (the new
            # password invalidates every session's stored hash).
            update_session_auth_hash(request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenViewSet(OwnedByUserMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The requesting user's live tokens, one per device or script; DELETE revokes one."""

    queryset = AuthToken.objects.order_by("-created", "-id")
    serializer_class = TokenInfoSerializer
    pagination_class = KeysetPagination

    def get_queryset(self):
        # Expired tokens no longer exist as far as their owner can tell.
        return super().get_queryset().live()

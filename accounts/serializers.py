from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from rest_framework import serializers

from accounts.models import AuthToken
from notes.serializers import StrictCharField, StrictFieldsMixin

User = get_user_model()


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]
        read_only_fields = fields


class TokenSerializer(serializers.Serializer):
    """What a successful login or registration answers."""

    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expires_at = serializers.DateTimeField(allow_null=True)
    user = UserSerializer()


class TokenInfoSerializer(serializers.ModelSerializer):
    """A token as its owner sees it: never the secret or its digest."""

    expires_at = serializers.DateTimeField(source="expiry", allow_null=True, read_only=True)
    current = serializers.SerializerMethodField(help_text="Whether this token is the one making the request.")

    class Meta:
        model = AuthToken
        fields = ["id", "created", "expires_at", "current"]
        read_only_fields = fields

    def get_current(self, token) -> bool:
        return token.pk == getattr(self.context["request"].auth, "pk", None)


class UsernameField(StrictCharField):
    """A username as it will be stored, NFKC-normalised as create_user and Django's forms do, before it is checked.

    Checked as sent, "ﬃ" * 51 passed the length limit and was stored as 153
    characters (a 500 on PostgreSQL), and "x\ufdfa" as a name with spaces.
    """

    def to_internal_value(self, data):
        return User.normalize_username(super().to_internal_value(data))


class RegisterSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A new account: a username and a password the server's validators accept."""

    # Strings only, as everywhere: a JSON number is not quietly made a name or
    # a password (found by the fuzzer, issue 8).
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
    }
    password = StrictCharField(write_only=True, style={"input_type": "password"}, trim_whitespace=False)

    class Meta:
        model = User
        fields = ["username", "password"]

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        return (UsernameField if field_name == "username" else field_class), field_kwargs

    def validate_username(self, username):
        # Case differences alone do not make a new name: "Alice" is "alice",
        # and "Ärger" is "ärger" (folded in Python, so on SQLite too).
        if User.objects.with_username(username).exists():
            raise serializers.ValidationError("A user with that username already exists.")
        return username

    def validate(self, attrs):
        candidate = User(username=attrs["username"])
        try:
            password_validation.validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def create(self, validated_data):
        # Hashed before the transaction, which on SQLite holds the database's
        # write lock: every writer waited for the hash (PBKDF2) of each sign-up.
        user = User(username=validated_data["username"])
        user.set_password(validated_data["password"])
        try:
            with transaction.atomic():
                user.save(force_insert=True)
                return user
        except IntegrityError:
            # Lost a race with a registration of the same name.
            raise serializers.ValidationError({"username": ["A user with that username already exists."]}) from None


def password_field(**kwargs):
    return StrictCharField(write_only=True, trim_whitespace=False, style={"input_type": "password"}, **kwargs)


class CurrentPasswordMixin:
    """Check a `*password` field against the requesting user's password."""

    wrong_password_message = "Your password was entered incorrectly."

    def check_current_password(self, password):
        if not self.context["request"].user.check_password(password):
            raise serializers.ValidationError(self.wrong_password_message)
        return password


class PasswordChangeSerializer(StrictFieldsMixin, CurrentPasswordMixin, serializers.Serializer):
    """The password now, checked, and the new one."""

    old_password = password_field()
    new_password = password_field(help_text="Checked by the server's password validators.")

    wrong_password_message = "Your old password was entered incorrectly."

    def validate_old_password(self, password):
        return self.check_current_password(password)

    def validate_new_password(self, password):
        try:
            password_validation.validate_password(password, user=self.context["request"].user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return password


class AccountDeleteSerializer(StrictFieldsMixin, CurrentPasswordMixin, serializers.Serializer):
    """The account's password, confirming its deletion."""

    password = password_field(help_text="The account's password, to confirm.")

    def validate_password(self, password):
        return self.check_current_password(password)

import unicodedata

from django.contrib.auth import models as auth_models
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken, AuthTokenManager


def fold_username(username):
    """The one form of every spelling of a name that differs only in case.

    Folded in Python, for every script alike: SQLite's lower() folds only
    ASCII ("Ärger" stays "Ärger") and PostgreSQL's depends on the database's
    locale. NFKC first and last, so compatibility forms ("ﬁ" for "fi") fold
    to one name too.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


class UserManager(auth_models.UserManager):
    def with_username(self, username):
        """The user whose name is `username` in any case."""
        return self.filter(username_key=fold_username(username))

    def get_by_natural_key(self, username):
        # Login, createsuperuser and fixtures find "ALICE" as "alice": names
        # are unique regardless of case, so this is never someone else.
        return self.with_username(username).get()


class User(auth_models.AbstractUser):
    """A person with notes; usernames are unique regardless of case."""

    username_key = models.TextField(
        editable=False,
        help_text="The username case-folded: unique, so names differing only in case are one name.",
    )

    objects = UserManager()

    class Meta(auth_models.AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                fields=["username_key"],
                name="user_username_key_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    def save(self, *args, **kwargs):
        self.username_key = fold_username(self.username)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "username" in update_fields:
            kwargs["update_fields"] = {*update_fields, "username_key"}
        super().save(*args, **kwargs)

    def validate_unique(self, exclude=None):
        # Forms (the admin's) skip the username_key constraint, as the field
        # is not on them: check the name against it here.
        errors = {}
        try:
            super().validate_unique(exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "username" not in (exclude or ()) and "username" not in errors and self.username_is_taken():
            errors["username"] = [self.unique_error_message(type(self), ["username"])]
        if errors:
            raise ValidationError(errors)

    def username_is_taken(self):
        """Whether another user has this name in some case."""
        return type(self)._default_manager.with_username(self.username).exclude(pk=self.pk).exists()


class AuthTokenQuerySet(models.QuerySet):
    def owned_by(self, user):
        return self.filter(user=user)

    def live(self):
        return self.filter(models.Q(expiry__isnull=True) | models.Q(expiry__gt=timezone.now()))

    def expired(self):
        return self.filter(expiry__lte=timezone.now())


class AuthToken(AbstractAuthToken):
    """A knox token (stored as a SHA-512 digest) with a plain id to name it by."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)

    objects = AuthTokenManager.from_queryset(AuthTokenQuerySet)()

    class Meta:
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "expiry"], name="authtoken_user_expiry")]

    def __str__(self):
        # Knox's shows the digest, which the admin need never display.
        return f"API token {self.pk}"

    @property
    def is_expired(self):
        return self.expiry is not None and self.expiry <= timezone.now()

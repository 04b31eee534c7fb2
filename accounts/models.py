from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from knox.models import AbstractAuthToken


class User(AbstractUser):
    """A person with notes; usernames are unique regardless of case."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]


class AuthToken(AbstractAuthToken):
    """A knox token (stored as a SHA-512 digest) with a plain id to name it by."""

    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=128, unique=True)

    class Meta:
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "expiry"], name="authtoken_user_expiry")]

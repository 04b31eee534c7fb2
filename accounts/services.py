"""Changes to an account that touch more than one row: password, deletion."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, password_validation
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, transaction

from accounts.models import AuthToken, User
from accounts.throttles import forget_user
from notes import feed
from notes.attachments.files import delete_after_commit, lock_owners
from notes.models import StoredFile


class PasswordChangedMeanwhile(Exception):
    """Another change of the password committed after the caller checked the old one."""


def password_change(*, user, new_password, keep_token=None):
    """Set a new password and revoke every token of the user but `keep_token`.

    Only over the password the caller checked (`user.password`, the hash as
    read): of two changes checked against one password, the second raises
    PasswordChangedMeanwhile, where both answered 204 and one new password
    was lost. Hashed before the transaction, which on SQLite holds the
    database's write lock every other writer waits for.

    Browser sessions of the user end by themselves: each carries a hash of
    the password it logged in with, which no longer matches.
    """
    new_hash = make_password(new_password)
    with transaction.atomic():
        if not User.objects.filter(pk=user.pk, password=user.password).update(password=new_hash):
            if not User.objects.filter(pk=user.pk).exists():
                # As Django's save of a deleted row: the API answers it as the refused token it now is (401).
                raise DatabaseError("The account was deleted while its password was being changed.")
            raise PasswordChangedMeanwhile
        revoked = AuthToken.objects.owned_by(user)
        if keep_token is not None:
            revoked = revoked.exclude(pk=keep_token.pk)
        revoked.delete()
    user.password = new_hash
    password_validation.password_changed(new_password, user)


def user_delete(*, user):
    """Delete the account and everything it owns, in one transaction.

    Every row of a user hangs off it by a CASCADE foreign key (notes with
    their tags, revisions and trash, tokens, attachments, ...), so deleting
    the user deletes them all, and a model added later joins in by cascading
    too (a test checks that every relation to the user cascades). Sessions
    name their user only inside their encoded data, so they are found by
    reading them; the user's throttle counts go from the cache too, and the
    bytes of their attachments from storage once the deletion commits. The
    user's note changes in flight finish first (notes.feed.hold), so the
    cascade never deadlocks with one.
    """
    with transaction.atomic():
        feed.hold(user.pk)
        _delete_sessions(user)
        forget_user(user.pk)
        lock_owners([user.pk])
        stored = list(StoredFile.objects.owned_by(user).values_list("name", flat=True))
        user.delete()
        delete_after_commit(stored)


def _delete_sessions(user):
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class"):
        return  # sessions kept elsewhere (cache, cookies) just fail to find the user
    user_id = str(user.pk)
    session_model = store_class.get_model_class()
    # Account deletion is rare and browser sessions few, so a scan is fine.
    keys = [
        session.session_key
        for session in session_model.objects.iterator()
        if session.get_decoded().get(SESSION_KEY) == user_id
    ]
    for key in keys:
        store_class(key).delete()

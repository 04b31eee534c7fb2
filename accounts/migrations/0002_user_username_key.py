"""Usernames unique regardless of case in every script, on both databases.

0001's constraint on Lower("username") left "Ärger" and "ärger" apart on
SQLite, whose lower() folds only ASCII. The name is now folded in Python and
stored in username_key, which carries the constraint instead.
"""

import unicodedata
from collections import defaultdict

from django.db import migrations, models

import accounts.models


def fold_username(username):
    # A copy of accounts.models.fold_username as it is now, so this migration
    # keeps meaning what it meant.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def fill_username_keys(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    names = defaultdict(list)
    for username in User.objects.values_list("username", flat=True).iterator():
        names[fold_username(username)].append(username)
    clashes = [spellings for spellings in names.values() if len(spellings) > 1]
    if clashes:
        listed = "; ".join(", ".join(sorted(spellings)) for spellings in clashes)
        raise RuntimeError(
            f"These usernames differ only in case and cannot all be kept: {listed}. "
            "Rename all but one of each (in the admin or with `manage.py shell`), then migrate again."
        )
    for pk, username in User.objects.values_list("pk", "username").iterator():
        User.objects.filter(pk=pk).update(username_key=fold_username(username))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.UserManager()),
            ],
        ),
        migrations.AddField(
            model_name="user",
            name="username_key",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(fill_username_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.TextField(
                editable=False,
                help_text="The username case-folded: unique, so names differing only in case are one name.",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="user",
            name="user_username_ci_unique",
        ),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                fields=("username_key",),
                name="user_username_key_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ),
    ]

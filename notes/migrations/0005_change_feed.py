import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, Max


def place_existing_notes(apps, schema_editor):
    """Give the notes there are a place in their owner's feed: their id, in id order.

    Positions need only grow per owner, not be dense, so each owner's counter
    starts at the id of their newest note.
    """
    Note = apps.get_model("notes", "Note")
    ChangeCounter = apps.get_model("notes", "ChangeCounter")
    Note.objects.update(change_seq=F("id"))
    latest = Note.objects.values("owner_id").annotate(last=Max("id")).values_list("owner_id", "last")
    ChangeCounter.objects.bulk_create(
        (ChangeCounter(owner_id=owner_id, last_seq=last) for owner_id, last in latest.iterator()), batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_username_key"),
        ("notes", "0004_note_search"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[
                (
                    "owner",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("last_seq", models.BigIntegerField(default=0, help_text="The position of the owner's latest change.")),
                (
                    "forgotten_seq",
                    models.BigIntegerField(
                        default=0,
                        help_text="Tombstones of notes deleted forever up to this position are forgotten: "
                        "a feed cursor before it must re-sync from the beginning.",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PurgedNote",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("note_id", models.BigIntegerField(help_text="The id the note had.")),
                (
                    "change_seq",
                    models.BigIntegerField(help_text="Where the deletion stands in the owner's change feed."),
                ),
                ("deleted_at", models.DateTimeField(help_text="When the note was deleted forever.")),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["deleted_at"], name="purgednote_deleted_at")],
                "constraints": [
                    models.UniqueConstraint(fields=("owner", "change_seq"), name="purgednote_unique_change_seq")
                ],
            },
        ),
        migrations.AddField(
            model_name="note",
            name="change_seq",
            field=models.BigIntegerField(
                default=0,
                editable=False,
                help_text="Where the note's latest change stands in its owner's change feed.",
                verbose_name="change position",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(place_existing_notes, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="note",
            constraint=models.UniqueConstraint(fields=("owner", "change_seq"), name="note_unique_change_seq"),
        ),
    ]

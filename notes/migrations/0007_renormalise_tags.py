"""Tags stored before a tag was made to normalise to itself (notes.tags.normalise_tag).

Lower-casing after NFC could leave a sequence NFC composes ("J" + caron
became "j" + caron, which NFC writes "ǰ"): such a stored name was listed,
but the same name given back was normalised to another tag. Each such name
becomes its NFC form on the notes and in the tag index, as a change: the
note's new version, its place in the change feed, and a revision of the
state it replaced.
"""

import unicodedata

from django.db import migrations
from django.db.models import F
from django.utils import timezone


def renormalise_tags(apps, schema_editor):
    Note = apps.get_model("notes", "Note")
    NoteTag = apps.get_model("notes", "NoteTag")
    Revision = apps.get_model("notes", "Revision")
    ChangeCounter = apps.get_model("notes", "ChangeCounter")
    names = NoteTag.objects.values_list("name", flat=True).distinct()
    # Stored names are lower-cased already: NFC is all the new rule adds.
    stale = {name: unicodedata.normalize("NFC", name) for name in names.iterator()}
    stale = {name: fixed for name, fixed in stale.items() if fixed != name}
    if not stale:
        return
    now = timezone.now()
    for note in Note.objects.filter(tag_index__name__in=stale).distinct().order_by("pk").iterator():
        # A change like any other: the state it replaces kept, a new version,
        # and a new place in the owner's feed, so mirrors and ETags see it.
        Revision.objects.create(
            note_id=note.pk,
            version=note.version,
            title=note.title,
            content=note.content,
            pinned=note.pinned,
            tags=note.tags,
            updated_at=note.updated_at,
        )
        counter, _ = ChangeCounter.objects.get_or_create(owner_id=note.owner_id, defaults={"last_seq": 0})
        ChangeCounter.objects.filter(pk=counter.pk).update(last_seq=F("last_seq") + 1)
        tags = sorted({stale.get(tag, tag) for tag in note.tags})
        Note.objects.filter(pk=note.pk).update(
            tags=tags,
            version=note.version + 1,
            updated_at=now,
            change_seq=ChangeCounter.objects.get(pk=counter.pk).last_seq,
        )
        NoteTag.objects.filter(note_id=note.pk).delete()
        NoteTag.objects.bulk_create(NoteTag(note_id=note.pk, owner_id=note.owner_id, name=tag) for tag in tags)


class Migration(migrations.Migration):
    dependencies = [("notes", "0006_attachments_and_public_links")]

    operations = [migrations.RunPython(renormalise_tags, migrations.RunPython.noop, elidable=True)]

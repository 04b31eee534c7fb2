"""Tags stored before a tag was made to normalise to itself (notes.tags.normalise_tag).

Lower-casing after NFC could leave a sequence NFC composes ("J" + caron
became "j" + caron, which NFC writes "ǰ"): such a stored name was listed,
but the same name given back was normalised to another tag. Each such name
becomes its NFC form on the notes and in the tag index. Revisions keep what
they recorded.
"""

import unicodedata

from django.db import migrations


def renormalise_tags(apps, schema_editor):
    Note = apps.get_model("notes", "Note")
    NoteTag = apps.get_model("notes", "NoteTag")
    names = NoteTag.objects.values_list("name", flat=True).distinct()
    # Stored names are lower-cased already: NFC is all the new rule adds.
    stale = {name: unicodedata.normalize("NFC", name) for name in names.iterator()}
    stale = {name: fixed for name, fixed in stale.items() if fixed != name}
    if not stale:
        return
    for note in Note.objects.filter(tag_index__name__in=stale).distinct().iterator():
        tags = sorted({stale.get(tag, tag) for tag in note.tags})
        Note.objects.filter(pk=note.pk).update(tags=tags)
        NoteTag.objects.filter(note_id=note.pk).delete()
        NoteTag.objects.bulk_create(NoteTag(note_id=note.pk, owner_id=note.owner_id, name=tag) for tag in tags)


class Migration(migrations.Migration):
    dependencies = [("notes", "0006_attachments_and_public_links")]

    operations = [migrations.RunPython(renormalise_tags, migrations.RunPython.noop, elidable=True)]

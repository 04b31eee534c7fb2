"""The only ways an attachment comes or goes: upload, delete (and with its note, `notes.services`)."""

import unicodedata

from django.conf import settings
from django.db import transaction
from django.http import Http404

from notes.attachments.files import FileTooLarge, StagedFiles, files_release, inspect, lock_owners
from notes.models import Attachment, Note
from notes.services import note_attachments_changed

MAX_FILENAME_CHARS = 255
DEFAULT_FILENAME = "attachment"


def safe_filename(name):
    """The name a file is kept under: its base name, without control or format characters.

    Path separators of any system end the directories (`../../x` is `x`);
    control and format characters (NUL, escapes, bidirectional overrides)
    are dropped; the extension survives shortening to 255 characters.
    """
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = " ".join(name.split())
    if name in {"", ".", ".."}:
        return DEFAULT_FILENAME
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, suffix = name.rpartition(".")
        if dot and stem and len(suffix) < 20:
            name = f"{stem[: MAX_FILENAME_CHARS - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name


def check_size(inspected):
    """Refuse an empty file (ValueError) and one over NOTES_ATTACHMENT_MAX_BYTES (413)."""
    if inspected.size == 0:
        raise ValueError("The submitted file is empty.")
    if inspected.size > settings.NOTES_ATTACHMENT_MAX_BYTES:
        raise FileTooLarge(settings.NOTES_ATTACHMENT_MAX_BYTES)


def attachment_create(*, note, file, filename):
    """Attach `file` (a Django File) to the live note; its bytes are stored once per user.

    413 over the size limit or the user's quota; 404 if the note went to
    the trash meanwhile.
    """
    inspected = inspect(file)
    check_size(inspected)
    with StagedFiles(note.owner_id) as staged:
        staged.add(file, inspected)
        with transaction.atomic():
            # The feed's counter first, as every change of the user's takes it
            # first, so no two changes wait for each other's locks.
            note_attachments_changed(note=note)
            staged.lock()
            note = _locked_alive(note)
            attachment = Attachment.objects.create(
                note=note, file=staged.stored(inspected), filename=safe_filename(filename)
            )
    return attachment


def attachment_delete(*, attachment):
    """Remove the attachment; its bytes too, unless another attachment of the user shows them."""
    with transaction.atomic():
        note_attachments_changed(note=attachment.note)  # the feed's counter first, as above
        lock_owners([attachment.note.owner_id])
        note = _locked_alive(attachment.note)
        deleted, _ = Attachment.objects.filter(pk=attachment.pk, note=note).delete()
        if not deleted:
            raise Http404("No Attachment matches the given query.")
        files_release([attachment.file_id])


def _locked_alive(note):
    locked = Note.objects.select_for_update().alive().filter(pk=note.pk).first()
    if locked is None:
        raise Http404("No Note matches the given query.")
    return locked

"""The only ways a public link comes or goes: create (replacing), revoke, and the lookup of a token."""

import re
import secrets

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from notes import feed
from notes.attachments.sniff import INLINE_TYPES
from notes.models import Attachment, Note, PublicLink

TOKEN_BYTES = 32  # 256 bits
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# Looked up in place of a token that cannot be one, so every miss costs the same
# query; '!' is outside the token alphabet, so no link ever has it.
NO_TOKEN = "!" * 43


def public_link_create(*, note, expires_at=None):
    """Give the note a new link with a new random token; the previous one stops working at once."""
    with transaction.atomic():
        # The owner's feed counter first, as every change and an account's
        # deletion take it: the deletion's cascade removes links before
        # notes, and this locks the note before its link, a deadlock on
        # PostgreSQL (500) without the counter ordering the two.
        feed.hold(note.owner_id)
        # Locked, so a purge of the note (or its owner's account) either came
        # first or waits: never a link to a note deleted meanwhile.
        if not Note.objects.alive().select_for_update().filter(pk=note.pk).exists():
            raise Http404("No Note matches the given query.")
        link, _ = PublicLink.objects.update_or_create(
            note=note,
            defaults={
                "token": secrets.token_urlsafe(TOKEN_BYTES),
                "created_at": timezone.now(),
                "expires_at": expires_at,
            },
        )
    return link


def public_link_revoke(*, note):
    """Revoke the note's link, live or expired; False if it had none."""
    deleted, _ = PublicLink.objects.filter(note=note).delete()
    return bool(deleted)


def live_link(token):
    """The live link with this token, with its note, or None: revoked, expired, unknown and
    trashed links are all None, found by the same single query."""
    if not (isinstance(token, str) and TOKEN_PATTERN.fullmatch(token)):
        token = NO_TOKEN
    return PublicLink.objects.live().select_related("note").filter(token=token).first()


def shared_images(link):
    """The note's attachments a browser shows as plain images, oldest first."""
    return list(
        Attachment.objects.filter(note_id=link.note_id, file__content_type__in=INLINE_TYPES).select_related("file")
    )


def shared_image(token, attachment_id):
    """An image attachment of the note a live link shows, or None: one query, like `live_link`."""
    if not (isinstance(token, str) and TOKEN_PATTERN.fullmatch(token)):
        token = NO_TOKEN
    links = PublicLink.objects.live().filter(token=token)
    return (
        Attachment.objects.filter(pk=attachment_id, note__public_link__in=links, file__content_type__in=INLINE_TYPES)
        .select_related("file")
        .first()
    )

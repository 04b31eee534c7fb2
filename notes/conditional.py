"""HTTP conditional requests for notes: strong ETags built from `version`."""

from django.utils.cache import parse_etags
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from notes.services import VersionConflict, check_version


def etag_for(note):
    return f'"{note.version}"'


def parse_versions(header):
    """The versions an If-Match/If-None-Match header names; None for `*` or no header.

    Weak tags (W/"3") are accepted as their strong form; a tag that is not a
    version number names no version, so it never matches.
    """
    if header is None:
        return None
    tags = parse_etags(header)
    if tags == ["*"]:
        return None
    versions = set()
    for tag in tags:
        value = tag.removeprefix("W/").strip('"')
        # Only a version's own spelling: "01" is another tag than "1".
        if value.isascii() and value.isdigit() and len(value) <= 10 and value == str(int(value)):
            versions.add(int(value))
    return versions


class ConditionalNoteMixin:
    """ETag on every note answered; If-Match guards changes, If-None-Match reads.

    A stale If-Match is refused before the request body is even looked at
    (RFC 9110, 13.2.2), and checked again atomically where the change is made.
    """

    # What a 412 answers (and the schema says it does): {"detail", "current", "changed_fields"}.
    conflict_serializer_class = None

    def if_match(self):
        return parse_versions(self.request.headers.get("If-Match"))

    def unless_stale(self, note):
        """The note a change is made to, or a 412 if If-Match names another version of it.

        For get_object(), not check_object_permissions(): the browsable API
        checks those again while drawing its forms, after the change is made.
        """
        if self.request.method not in SAFE_METHODS:
            check_version(note, self.if_match())
            if self.matches_none_match(note):
                # RFC 9110, 13.1.2: a change whose If-None-Match matches is not made.
                raise VersionConflict(note, [], detail=f"If-None-Match names version {note.version}, the note's own.")
        return note

    def matches_none_match(self, note):
        """Whether If-None-Match names the note's version (or is `*`)."""
        header = self.request.headers.get("If-None-Match")
        if header is None:
            return False
        versions = parse_versions(header)
        return versions is None or note.version in versions

    def precondition_answer(self, note):
        """What a read of the note answers instead of the note: a 412 or a 304, else None.

        If-Match first (RFC 9110, 13.2.2): a GET whose If-Match names another
        version is not performed either (13.1.1).
        """
        versions = self.if_match()
        if versions is not None and note.version not in versions:
            return Response(
                {"detail": f"If-Match names another version: the note is at version {note.version}."},
                status=status.HTTP_412_PRECONDITION_FAILED,
                headers={"ETag": etag_for(note)},
            )
        return self.not_modified(note)

    def not_modified(self, note):
        """A 304 answer if If-None-Match names the note's version, else None.

        Never for the browsable API's page: it holds the session's CSRF token
        and user, which change without the note. A browser's cached page from
        before a new login answered with 304 kept a token that failed every
        form on it, the logout's included.
        """
        if self.matches_none_match(note) and self.request.accepted_renderer.media_type != "text/html":
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag_for(note)})
        return None

    def handle_exception(self, exc):
        if isinstance(exc, VersionConflict):
            conflict = {
                "detail": exc.detail
                or f"The note has changed: it is at version {exc.note.version}. "
                "Merge your changes into `current` and retry with its ETag.",
                "current": exc.note,
                "changed_fields": exc.changed_fields,
            }
            body = self.conflict_serializer_class(conflict, context=self.get_serializer_context()).data
            return Response(
                # A plain dict: the browsable API would take the conflict for the note its forms edit.
                dict(body),
                status=status.HTTP_412_PRECONDITION_FAILED,
                headers={"ETag": etag_for(exc.note)},
            )
        return super().handle_exception(exc)

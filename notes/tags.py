"""The rules for tag names, shared by the API, the admin and imports."""

import unicodedata

from django.core.exceptions import ValidationError

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
PUNCTUATION_ALLOWED = frozenset("-_/")


def normalise_tag(raw):
    """Trim, NFC-normalise and lower-case one tag, or raise ValidationError."""
    if not isinstance(raw, str):
        raise ValidationError("A tag must be a string.")
    # NFC first, so a letter typed as letter + accent counts as one letter;
    # and again after lower-casing, which can leave a sequence NFC composes
    # ("J" + caron lowers to "j" + caron, which is "ǰ"): a tag as stored
    # must normalise to itself, or the name listed finds another tag.
    tag = unicodedata.normalize("NFC", unicodedata.normalize("NFC", raw.strip()).lower())
    if not 1 <= len(tag) <= MAX_TAG_LENGTH:
        raise ValidationError(f"A tag must be 1 to {MAX_TAG_LENGTH} characters long.")
    for char in tag:
        # Letters and their combining marks (needed by many scripts), and numbers.
        if char not in PUNCTUATION_ALLOWED and unicodedata.category(char)[0] not in "LMN":
            raise ValidationError(
                f"Tag {tag!r} may contain only letters, digits, '-', '_' and '/'.",
            )
    return tag


def normalise_tags(raw_tags):
    """Return the distinct normalised tags, sorted; at most MAX_TAGS of them."""
    if isinstance(raw_tags, str) or not hasattr(raw_tags, "__iter__"):
        raise ValidationError("Expected a list of tags.")
    tags = sorted({normalise_tag(raw) for raw in raw_tags})
    if len(tags) > MAX_TAGS:
        raise ValidationError(f"A note can have at most {MAX_TAGS} tags.")
    return tags

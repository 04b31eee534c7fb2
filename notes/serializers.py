from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from notes.models import Note
from notes.services import EDITABLE_FIELDS, note_create, note_update
from notes.snippets import build_snippet
from notes.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tag, normalise_tags


class StrictFieldsMixin:
    """Reject unknown fields by name; read-only ones sent back are ignored."""

    # Sent by the browsable API's HTML forms along with the note's fields.
    form_fields = frozenset({"csrfmiddlewaretoken"})

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = set(data) - set(self.fields) - self.form_fields
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A CharField that takes only strings: 42 is not a title."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TagListField(serializers.ListField):
    """Tags as a list of names, answered normalised and sorted."""

    child = serializers.CharField(max_length=MAX_TAG_LENGTH)

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            f"Up to {MAX_TAGS} distinct tags, each 1 to {MAX_TAG_LENGTH} letters, digits, '-', '_' or '/'; "
            "trimmed and lower-cased.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        # Strings only: unlike CharField, a number is not quietly made a tag.
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return normalise_tags(data)


class NoteSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="note-detail")
    title = StrictCharField(max_length=200)
    content = StrictCharField(
        allow_blank=True,
        default="",
        trim_whitespace=False,
        max_length=settings.NOTES_MAX_CONTENT_CHARS,
        style={"base_template": "textarea.html"},
    )
    pinned = serializers.BooleanField(default=False)
    tags = TagListField(default=list)
    snippet = serializers.SerializerMethodField(
        help_text="In a search result: an excerpt around the best match, HTML-escaped, matched words in "
        "<mark>...</mark>. Null outside a search."
    )

    class Meta:
        model = Note
        fields = [
            "id",
            "url",
            "title",
            "content",
            "pinned",
            "tags",
            "created_at",
            "updated_at",
            "version",
            "snippet",
        ]
        read_only_fields = ["created_at", "updated_at", "version"]

    def get_snippet(self, note) -> str | None:
        terms = self.context.get("search_terms")
        if not terms or not hasattr(note, "search_rank"):
            return None
        return build_snippet(title=note.title, content=note.content, terms=terms)

    def create(self, validated_data):
        return note_create(**validated_data)

    def update(self, instance, validated_data):
        return note_update(note=instance, **validated_data)


class NoteConflictSerializer(serializers.Serializer):
    """The 412 answer: the note as it is now, and what changed since the client's version."""

    detail = serializers.CharField()
    current = NoteSerializer()
    changed_fields = serializers.ListField(child=serializers.ChoiceField(choices=EDITABLE_FIELDS))


class TagNameField(serializers.CharField):
    """A tag name, normalised by the same rules as a note's tags."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return normalise_tag(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class TagSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    count = serializers.IntegerField(read_only=True, help_text="Live notes having the tag.")


class TagRenameSerializer(StrictFieldsMixin, serializers.Serializer):
    """{"from", "to"}: `from` is a Python keyword, so the fields are built in get_fields()."""

    def get_fields(self):
        return {
            "from": TagNameField(help_text="The tag to rename."),
            "to": TagNameField(help_text="Its new name; notes that have both keep one."),
        }

    def validate(self, data):
        if data["from"] == data["to"]:
            raise serializers.ValidationError({"to": ["Must differ from `from`."]})
        return data

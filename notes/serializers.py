from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers
from rest_framework.utils import html

from notes.models import Note
from notes.services import EDITABLE_FIELDS, note_create, note_update
from notes.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tags


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


class StrictBooleanField(serializers.BooleanField):
    """true or false in JSON ("yes" and 1 are not); form fields are text, as the browsable API sends them."""

    def to_internal_value(self, data):
        if not isinstance(data, bool) and not html.is_html_input(self.root.initial_data):
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
    pinned = StrictBooleanField(default=False)
    tags = TagListField(default=list)

    class Meta:
        model = Note
        fields = ["id", "url", "title", "content", "pinned", "tags", "created_at", "updated_at", "version"]
        read_only_fields = ["created_at", "updated_at", "version"]

    def create(self, validated_data):
        return note_create(**validated_data)

    def update(self, instance, validated_data):
        return note_update(note=instance, **validated_data)


class NoteConflictSerializer(serializers.Serializer):
    """The 412 answer: the note as it is now, and what changed since the client's version."""

    detail = serializers.CharField()
    current = NoteSerializer()
    changed_fields = serializers.ListField(child=serializers.ChoiceField(choices=EDITABLE_FIELDS))

import copy
import datetime
from collections.abc import Mapping

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings

from notes.models import Note
from notes.services import EDITABLE_FIELDS, note_create, note_update
from notes.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tags


class FieldsBuiltOnceMixin:
    """Build a serializer's fields once per class, not once per serializer.

    ModelSerializer rebuilds every field from the model on each instantiation,
    a third of the time of a request for one note. The fields are built once,
    and each serializer binds shallow copies of them: binding only sets
    attributes on the copy, so nothing bound to one request is shared.
    """

    def get_fields(self):
        prototypes = type(self).__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()
            type(self)._field_prototypes = prototypes
        return {name: copy.copy(field) for name, field in prototypes.items()}


class FastRepresentationMixin:
    """Represent objects without DRF's per-field machinery where the answer is known.

    For the plain field types (integers, strings, booleans, lists of strings,
    UTC date-times in the API's format) the value is formatted directly, the
    same as the field's own to_representation would (tests compare the two);
    every other field (or format) goes through the field itself. DRF spends
    most of a page of 50 notes in this loop otherwise.
    """

    def to_representation(self, instance):
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self._representation_plan = [
                (field.field_name, field.source_attrs, _fast_formatter(field), field) for field in self._readable_fields
            ]
        representation = {}
        for name, source_attrs, formatter, field in plan:
            if formatter is None or len(source_attrs) != 1:
                attribute = field.get_attribute(instance)
                representation[name] = None if attribute is None else field.to_representation(attribute)
            elif source_attrs == ["*"]:
                representation[name] = formatter(instance)
            else:
                value = getattr(instance, source_attrs[0])
                representation[name] = None if value is None else formatter(value)
        return representation


def _format_utc_datetime(value):
    # DRF's DateTimeField with format "%Y-%m-%dT%H:%M:%S.%fZ" and TIME_ZONE UTC.
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _fast_formatter(field):
    kind = type(field)
    if kind is serializers.IntegerField:
        return int
    if kind in (serializers.CharField, StrictCharField):
        return str
    if kind is serializers.BooleanField and not field.allow_null:
        return bool
    if kind is TagListField:
        return list
    if kind is IdentityURLField and "request" in field.context:
        request = field.context["request"]
        return lambda instance: field.get_url(instance, field.view_name, request, None)
    if (
        kind is serializers.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == "%Y-%m-%dT%H:%M:%S.%fZ"
        and getattr(field, "timezone", None) is None
        and settings.USE_TZ
        and timezone.get_default_timezone_name() == "UTC"
    ):
        return _format_utc_datetime
    return None


class IdentityURLField(serializers.HyperlinkedIdentityField):
    """An object's absolute URL, reversed once per serializer rather than per object.

    Reversing a route costs ~30 us; a page of 50 notes would reverse it 50 times.
    """

    pk_marker = "2147483647"

    def get_url(self, obj, view_name, request, format):
        if getattr(self, "_url_parts", None) is None:
            path = reverse(view_name, kwargs={self.lookup_url_kwarg: self.pk_marker})
            prefix, suffix = path.split(self.pk_marker)
            self._url_parts = (request.build_absolute_uri(prefix), suffix)
        prefix, suffix = self._url_parts
        return f"{prefix}{obj.pk}{suffix}"


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


class NoteSerializer(FieldsBuiltOnceMixin, FastRepresentationMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """A note. Unknown fields are refused; read-only fields sent back are ignored."""

    url = IdentityURLField(view_name="note-detail")
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

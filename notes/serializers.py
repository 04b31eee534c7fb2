import copy
import datetime
from collections.abc import Mapping

from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings

from notes.models import Note, Revision
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
    UTC date-times in the API's format, the object's URL) the value is
    formatted directly, the same as the field's own to_representation would
    (tests compare the two), by a plan worked out once per class, so reading
    needs no fields bound at all; any other field goes through the bound
    field itself. DRF spends most of a page of 50 notes in this loop otherwise.
    """

    def to_representation(self, instance):
        plan = type(self).__dict__.get("_representation_plan")
        if plan is None:
            plan = type(self)._representation_plan = self._representation_plan_of(type(self)(context={}))
        representation = {}
        for name, attribute, formatter in plan:
            if formatter is None:
                field = self.fields[name]
                value = field.get_attribute(instance)
                representation[name] = None if value is None else field.to_representation(value)
            elif attribute is None:
                representation[name] = formatter(self, instance)
            else:
                value = getattr(instance, attribute)
                representation[name] = None if value is None else formatter(value)
        return representation

    @staticmethod
    def _representation_plan_of(prototype):
        plan = []
        for field in prototype._readable_fields:
            formatter = _fast_formatter(field)
            if isinstance(field, IdentityURLField):
                plan.append((field.field_name, None, formatter))
            elif formatter is not None and len(field.source_attrs) == 1 and field.source_attrs != ["*"]:
                plan.append((field.field_name, field.source_attrs[0], formatter))
            else:
                plan.append((field.field_name, None, None))
        return plan


def _format_utc_datetime(value):
    # DRF's DateTimeField with format "%Y-%m-%dT%H:%M:%S.%fZ" and TIME_ZONE UTC.
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def _fast_formatter(field):
    kind = type(field)
    if kind is serializers.IntegerField or (
        kind is serializers.BigIntegerField
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        return int
    if kind in (serializers.CharField, StrictCharField):
        return str
    if kind is serializers.BooleanField and not field.allow_null:
        return bool
    if kind is TagListField:
        return list
    if kind is IdentityURLField:
        return field.url_formatter()
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
    """An object's absolute URL, its route reversed once per process, not per object.

    Reversing a route costs ~30 us, on every note of a page otherwise. The
    path depends only on the route and the script prefix; the host part is
    built once per serializer from its request.
    """

    pk_marker = "2147483647"
    _paths = {}

    def path_parts(self):
        key = (self.view_name, self.lookup_url_kwarg, get_script_prefix())
        if key not in self._paths:
            path = reverse(self.view_name, kwargs={self.lookup_url_kwarg: self.pk_marker})
            self._paths[key] = tuple(path.split(self.pk_marker))
        return self._paths[key]

    def get_url(self, obj, view_name, request, format):
        prefix, suffix = self.path_parts()
        return f"{request.build_absolute_uri(prefix)}{obj.pk}{suffix}"

    def url_formatter(self):
        """format(serializer, obj): the URL, its host part built once per serializer."""

        def format_url(serializer, obj):
            # One entry per URL field: a serializer may have several (an attachment's url and download_url).
            known = serializer.__dict__.setdefault("_url_parts", {})
            parts = known.get(self.view_name)
            if parts is None:
                prefix, suffix = self.path_parts()
                parts = known[self.view_name] = (serializer.context["request"].build_absolute_uri(prefix), suffix)
            return f"{parts[0]}{obj.pk}{parts[1]}"

        return format_url


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


class RevisionSerializer(FieldsBuiltOnceMixin, FastRepresentationMixin, serializers.ModelSerializer):
    """A state the note had before a change replaced it."""

    class Meta:
        model = Revision
        fields = ["version", "title", "content", "pinned", "tags", "updated_at"]
        read_only_fields = fields


class TrashedNoteSerializer(FieldsBuiltOnceMixin, FastRepresentationMixin, serializers.ModelSerializer):
    """A note in the trash: read-only, with when it was trashed."""

    url = IdentityURLField(view_name="trash-detail")

    class Meta:
        model = Note
        fields = [*NoteSerializer.Meta.fields, "deleted_at"]
        read_only_fields = fields


class TrashConflictSerializer(NoteConflictSerializer):
    """The 412 answer of a trash action: the note as it is in the trash now."""

    current = TrashedNoteSerializer()


class NoteImportSerializer(NoteSerializer):
    """One note of an import: the API's rules, plus the timestamps an import keeps.

    A time in the future is taken as now, and a note is never created after
    it was last updated.
    """

    url = None
    created_at = serializers.DateTimeField(required=False)
    updated_at = serializers.DateTimeField(required=False)

    class Meta(NoteSerializer.Meta):
        fields = [*EDITABLE_FIELDS, "created_at", "updated_at"]
        read_only_fields = []

    def validate(self, attrs):
        now = timezone.now()
        created, updated = attrs.get("created_at"), attrs.get("updated_at")
        attrs["updated_at"] = min(updated or created or now, now)
        attrs["created_at"] = min(created or attrs["updated_at"], attrs["updated_at"])
        return attrs

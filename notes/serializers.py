from collections.abc import Mapping
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Value
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.settings import api_settings
from rest_framework.utils import html

from notes.browser_text import as_edited, as_sent
from notes.models import Note, PurgedNote, Revision
from notes.services import EDITABLE_FIELDS, note_create, note_update
from notes.snippets import build_snippet
from notes.tags import MAX_TAG_LENGTH, MAX_TAGS, normalise_tag, normalise_tags
from notesite import sqljson


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
        return {name: _shallow_copy(field) for name, field in prototypes.items()}


def _shallow_copy(field):
    # What copy.copy() makes of a field, without its generic __reduce_ex__
    # round trip (which also runs Field.__new__ again): a quarter of the time.
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


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

    @classmethod
    def sql_representation(cls, origin, nulls=()):
        """The representation as one JSON text the database writes (notesite.sqljson).

        The same plan as to_representation: each field of a plain type read
        straight from its column is written in SQL as its formatter writes
        it, a URL field from `origin` ("http://host"); the method fields named
        in `nulls` are null (the caller knows they are: a snippet outside a
        search). A serializer with any other field cannot be: TypeError.
        """
        prototype = cls(context={})
        members = []
        for field in prototype._readable_fields:
            if field.field_name in nulls and isinstance(field, serializers.SerializerMethodField):
                members.append((field.field_name, Value(None)))
                continue
            expression = _sql_value_of(field, prototype.Meta.model, origin)
            if expression is None:
                raise TypeError(f"{cls.__name__}.{field.field_name} cannot be written in SQL.")
            members.append((field.field_name, expression))
        return sqljson.JSONObjectText(members)

    @staticmethod
    def _representation_plan_of(prototype):
        plan = []
        for field in prototype._readable_fields:
            formatter = _fast_formatter(field)
            if isinstance(field, IdentityURLField | serializers.SerializerMethodField):
                plan.append((field.field_name, None, formatter))  # format(serializer, obj)
            elif formatter is not None and len(field.source_attrs) == 1 and field.source_attrs != ["*"]:
                plan.append((field.field_name, field.source_attrs[0], formatter))
            else:
                plan.append((field.field_name, None, None))
        return plan


def _format_utc_datetime(value):
    # DRF's DateTimeField with format "%Y-%m-%dT%H:%M:%S.%fZ" and TIME_ZONE UTC.
    return sqljson.utc_timestamp(value) if value else None


def _fast_formatter(field):
    kind = type(field)
    if kind is serializers.IntegerField or (
        kind is serializers.BigIntegerField
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        return int
    if kind in (serializers.CharField, StrictCharField, TextAreaField):
        return str
    if kind in (serializers.BooleanField, StrictBooleanField) and not field.allow_null:
        return bool
    if kind is TagListField:
        return list
    if kind is IdentityURLField:
        return field.url_formatter()
    if kind is serializers.SerializerMethodField:
        method_name = field.method_name
        return lambda serializer, obj: getattr(serializer, method_name)(obj)
    if (
        kind is serializers.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == "%Y-%m-%dT%H:%M:%S.%fZ"
        and getattr(field, "timezone", None) is None
        and settings.USE_TZ
        and timezone.get_default_timezone_name() == "UTC"
    ):
        return _format_utc_datetime
    return None


# The model fields each fast formatter can be written from in SQL (see sql_representation).
_SQL_WRITABLE = {
    int: {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "PositiveIntegerField"},
    str: {"CharField", "TextField"},
    bool: {"BooleanField"},
    list: {"JSONField"},
    _format_utc_datetime: {"DateTimeField"},
}
_SQL_VALUE = {
    int: F,
    str: F,
    bool: lambda name: sqljson.JSONBoolean(F(name)),
    list: lambda name: sqljson.JSONColumn(F(name)),
    _format_utc_datetime: lambda name: sqljson.UTCTimestampText(F(name)),
}


def _sql_value_of(field, model, origin):
    """The SQL expression writing `field` of a `model` row as its to_representation would, or None."""
    if type(field) is IdentityURLField:
        prefix, suffix = field.path_parts()
        return sqljson.TextConcat(Value(origin), Value(prefix), F("pk"), Value(suffix))
    formatter = _fast_formatter(field)
    if formatter not in _SQL_VALUE or len(field.source_attrs) != 1:
        return None
    try:
        column = model._meta.get_field(field.source_attrs[0])
    except FieldDoesNotExist:
        return None
    if not column.concrete or column.get_internal_type() not in _SQL_WRITABLE[formatter]:
        return None
    return _SQL_VALUE[formatter](column.name)


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
        unknown = sorted(set(data) - set(self.fields) - self.form_fields) if isinstance(data, Mapping) else []
        errors = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if not (unknown and isinstance(error.detail, Mapping)):
                raise
            # One answer names every mistake: the fields' errors beside the unknown ones.
            errors = dict(error.detail)
        if unknown:
            raise serializers.ValidationError({**errors, **{name: ["Unknown field."] for name in unknown}})
        return value


class StrictCharField(serializers.CharField):
    """A CharField that takes only strings: 42 is not a title."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class TextAreaField(StrictCharField):
    """A StrictCharField whose text from a form (the browsable API's) has LF line breaks before its length is checked.

    JSON is kept as sent (notes.browser_text).
    """

    def get_value(self, dictionary):
        value = super().get_value(dictionary)
        if html.is_html_input(dictionary) and isinstance(value, str):
            return as_sent(value)
        return value


class StrictDateTimeField(serializers.DateTimeField):
    """A DateTimeField refusing a NUL in its text, as every text field does (Python's parser drops a trailing one)."""

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def to_internal_value(self, value):
        if isinstance(value, str) and "\x00" in value:
            self.fail("null_characters")
        return super().to_internal_value(value)


class SingleFileField(serializers.FileField):
    """A FileField that refuses several files under its name, where DRF's keeps the last one silently."""

    default_error_messages = {"several": "Send one file per request; this one had {count}."}

    def get_value(self, dictionary):
        if html.is_html_input(dictionary) and len(files := dictionary.getlist(self.field_name)) > 1:
            return files  # refused in to_internal_value, so the error is keyed by the field
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if isinstance(data, list):
            self.fail("several", count=len(data))
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

    def get_value(self, dictionary):
        # A form (the browsable API's) sends them as one text box, comma-separated.
        if html.is_html_input(dictionary) and self.field_name in dictionary:
            # Trimmed here too: a form shown again after an error joins them with ", ".
            return [
                tag.strip() for text in dictionary.getlist(self.field_name) for tag in text.split(",") if tag.strip()
            ]
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        # Strings only: unlike CharField, a number is not quietly made a tag.
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return normalise_tags(data)


class NoteSerializer(FieldsBuiltOnceMixin, FastRepresentationMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """A note. Unknown fields are refused; read-only fields sent back are ignored."""

    url = IdentityURLField(view_name="note-detail")
    title = StrictCharField(max_length=200)
    content = TextAreaField(
        allow_blank=True,
        default="",
        trim_whitespace=False,
        max_length=settings.NOTES_MAX_CONTENT_CHARS,
        style={"base_template": "textarea.html"},
    )
    pinned = StrictBooleanField(default=False)
    tags = TagListField(default=list, style={"base_template": "input.html"})
    snippet = serializers.SerializerMethodField(
        help_text="In a search result: an excerpt around the best match, HTML-escaped, matched words in "
        "<mark>...</mark>. Null outside a search."
    )

    # The columns a note's representation reads (with a search's rank where a
    # search annotates one): a page of notes is read as these, see NoteRow.
    read_columns = ("id", "title", "content", "pinned", "tags", "created_at", "updated_at", "version")

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
        # No unique constraint involves these fields, so ModelSerializer would
        # derive none; saying so spares it working that out on every write.
        validators = []

    def get_snippet(self, note) -> str | None:
        terms = self.context.get("search_terms")
        if not terms or not hasattr(note, "search_rank"):
            return None
        return build_snippet(title=note.title, content=note.content, terms=terms)

    def validate_title(self, title):
        if html.is_html_input(self.root.initial_data):
            return as_edited(title, self.instance.title if self.instance is not None else None, one_line=True)
        return title

    def validate_content(self, content):
        if html.is_html_input(self.root.initial_data):
            return as_edited(content, self.instance.content if self.instance is not None else None)
        return content

    def create(self, validated_data):
        return note_create(**validated_data)

    def update(self, instance, validated_data):
        return note_update(note=instance, **validated_data)


class NoteRow(SimpleNamespace):
    """A note as a page of the list reads it: NoteSerializer's read_columns as attributes.

    Building fifty model instances was a fifth of the time of a page; a page
    is read with values() instead and represented by the same serializer
    (tests compare the two representations).
    """

    @classmethod
    def page_of(cls, queryset):
        """The queryset as rows of the shown columns and its selected annotations (a search's rank)."""
        return queryset.values(*NoteSerializer.read_columns, *queryset.query.annotation_select)

    @property
    def pk(self):
        return self.id


# A note as the API shows it, for the schema's examples.
EXAMPLE_NOTE = {
    "id": 42,
    "url": "http://127.0.0.1:8000/api/notes/42/",
    "title": "Groceries",
    "content": "milk, eggs, bread",
    "pinned": True,
    "tags": ["home", "shopping"],
    "created_at": "2026-11-24T10:00:00.123456Z",
    "updated_at": "2026-11-24T18:30:00.654321Z",
    "version": 5,
    "snippet": None,
}


def conflict_example(**current):
    """A 412 answer: the client sent If-Match "3" and wanted to change the title."""
    note = {**EXAMPLE_NOTE, **current}
    return OpenApiExample(
        "Conflict",
        summary="A stale If-Match",
        description=(
            'The client last saw version 3 (If-Match: "3"); another device has since changed the content '
            'and pinned the note. Merge your change into `current`, then retry with If-Match: "5". '
            "The change feed will bring this same state of the note."
        ),
        value={
            "detail": "The note has changed: it is at version 5. Merge your changes into `current` "
            "and retry with its ETag.",
            "current": note,
            "changed_fields": ["content", "pinned"],
        },
        response_only=True,
        status_codes=["412"],
    )


@extend_schema_serializer(examples=[conflict_example()])
class NoteConflictSerializer(serializers.Serializer):
    """The 412 answer: the note as it is now, and what changed since the client's version.

    `changed_fields` are the fields whose value differs from the client's
    version (from the kept revisions); every editable field when that
    version is older than the revisions kept.
    """

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
        fields = [*(name for name in NoteSerializer.Meta.fields if name != "snippet"), "deleted_at"]
        read_only_fields = fields


@extend_schema_serializer(
    examples=[
        conflict_example(
            url="http://127.0.0.1:8000/api/trash/42/", pinned=False, deleted_at="2026-11-24T18:30:00.654321Z"
        )
    ]
)
class TrashConflictSerializer(NoteConflictSerializer):
    """The 412 answer of a trash action: the note as it is in the trash now."""

    current = TrashedNoteSerializer()


class NoteImportSerializer(NoteSerializer):
    """One note of an import: the API's rules, plus the timestamps an import keeps.

    A time in the future is taken as now, and a note is never created after
    it was last updated.
    """

    url = None
    snippet = None
    created_at = StrictDateTimeField(required=False)
    updated_at = StrictDateTimeField(required=False)

    class Meta(NoteSerializer.Meta):
        fields = [*EDITABLE_FIELDS, "created_at", "updated_at"]
        read_only_fields = []

    def validate(self, attrs):
        now = timezone.now()
        created, updated = attrs.get("created_at"), attrs.get("updated_at")
        attrs["updated_at"] = min(updated or created or now, now)
        attrs["created_at"] = min(created or attrs["updated_at"], attrs["updated_at"])
        return attrs


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


class TombstoneSerializer(serializers.Serializer):
    """A note gone from the notes endpoints: moved to the trash, or deleted forever."""

    id = serializers.IntegerField()
    deleted = serializers.ChoiceField(choices=["trashed", "purged"])
    deleted_at = serializers.DateTimeField()


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="Change",
        serializers=[NoteSerializer, TombstoneSerializer],
        resource_type_field_name=None,
        many=True,
    )
)
class ChangeListField(serializers.Field):
    """The feed's entries: each note as it is now, or its tombstone."""

    deleted_at_field = serializers.DateTimeField()

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, entries):
        notes = NoteSerializer(context=self.context)
        return [self.represent(entry, notes) for entry in entries]

    def represent(self, entry, notes):
        if isinstance(entry, PurgedNote):
            return self.tombstone(entry.note_id, "purged", entry.deleted_at)
        if entry.is_trashed:
            return self.tombstone(entry.pk, "trashed", entry.deleted_at)
        return notes.to_representation(entry)

    def tombstone(self, note_id, deleted, deleted_at):
        return {"id": note_id, "deleted": deleted, "deleted_at": self.deleted_at_field.to_representation(deleted_at)}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Page",
            summary="A page of changes",
            description="Note 42 was edited, note 7 moved to the trash, note 3 deleted forever.",
            value={
                "changes": [
                    EXAMPLE_NOTE,
                    {"id": 7, "deleted": "trashed", "deleted_at": "2026-11-24T18:31:02.000001Z"},
                    {"id": 3, "deleted": "purged", "deleted_at": "2026-11-24T18:32:40.250000Z"},
                ],
                "cursor": "WzEsMTAzXQ:1xWDxS:Lp7qA4dyL99B98QLwuQE8C66OdWy8kK-z299oIdnhNM",
                "has_more": False,
            },
            response_only=True,
        )
    ]
)
class ChangesSerializer(serializers.Serializer):
    """A page of the change feed."""

    changes = ChangeListField(help_text="The notes changed since the cursor, oldest change first.")
    cursor = serializers.CharField(help_text="Where the next page starts: pass it back as `cursor`.")
    has_more = serializers.BooleanField(help_text="Whether more changes follow right away.")

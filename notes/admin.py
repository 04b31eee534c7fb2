from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from notes.models import Note, NoteTag
from notes.services import note_create, note_trash, note_update
from notes.tags import normalise_tags


class NoteAdminForm(forms.ModelForm):
    """Tags typed as a comma-separated line, checked by the API's own rules."""

    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. home, shopping")

    class Meta:
        model = Note
        fields = ["owner", "title", "content", "pinned", "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise ValidationError("This field may not be blank.")
        return title

    def clean_tags(self):
        return normalise_tags(part for part in self.cleaned_data["tags"].split(",") if part.strip())


class TrashedFilter(admin.SimpleListFilter):
    title = "trashed"
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("no", "Not trashed"), ("yes", "In the trash")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.alive()
        if self.value() == "yes":
            return queryset.trashed()
        return queryset


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        names = NoteTag.objects.order_by("name").values_list("name", flat=True).distinct()[:100]
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tag_index__name=self.value())
        return queryset


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    """Every change goes through notes.services, exactly as the API's do."""

    form = NoteAdminForm
    list_display = ["title", "owner", "pinned", "tag_list", "updated_at", "version", "deleted_at"]
    list_filter = ["pinned", TagFilter, TrashedFilter, "owner"]
    list_select_related = ["owner"]
    search_fields = ["title", "content", "owner__username"]
    readonly_fields = ["created_at", "updated_at", "version", "deleted_at"]
    date_hierarchy = "updated_at"
    show_full_result_count = False
    actions = ["pin", "unpin", "move_to_trash"]

    @admin.display(description="tags")
    def tag_list(self, note):
        return ", ".join(note.tags)

    def get_actions(self, request):
        # Deleting moves notes to the trash, through the action below.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_readonly_fields(self, request, obj=None):
        # A note keeps its owner; the field is chosen once, on creation.
        return [*self.readonly_fields, "owner"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in ["title", "content", "pinned", "tags"]}
        if change:
            saved = note_update(note=Note.objects.get(pk=obj.pk), **fields)
        else:
            saved = note_create(owner=form.cleaned_data["owner"], **fields)
        obj.pk, obj.version, obj.updated_at = saved.pk, saved.version, saved.updated_at

    def delete_model(self, request, obj):
        if not obj.is_trashed:
            note_trash(note=obj)

    @admin.action(description="Pin selected notes")
    def pin(self, request, queryset):
        self._update_each(request, queryset, pinned=True)

    @admin.action(description="Unpin selected notes")
    def unpin(self, request, queryset):
        self._update_each(request, queryset, pinned=False)

    @admin.action(description="Move selected notes to the trash")
    def move_to_trash(self, request, queryset):
        notes = list(queryset.alive())
        for note in notes:
            note_trash(note=note)
        self.message_user(request, f"Moved {len(notes)} note(s) to the trash.", messages.SUCCESS)

    def _update_each(self, request, queryset, **changes):
        notes = list(queryset.alive())
        for note in notes:
            note_update(note=note, **changes)
        self.message_user(request, f"Updated {len(notes)} note(s).", messages.SUCCESS)

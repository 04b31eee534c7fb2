from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminTextareaWidget
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat, truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join

from notes.browser_text import as_edited, as_sent
from notes.models import Attachment, Note, NoteTag, PublicLink, Revision
from notes.services import (
    VersionConflict,
    note_create,
    note_delete_forever,
    note_restore,
    note_trash,
    note_update,
)
from notes.sharing.services import public_link_revoke
from notes.tags import normalise_tag, normalise_tags
from notesite.admin_deletion import DeletesWhatItOwnsMixin
from notesite.strict_admin import StrictModelAdmin


class TextAreaField(forms.CharField):
    """A text area's text, its line breaks as LF before its length is checked."""

    def to_python(self, value):
        return as_sent(super().to_python(value))


class NoteAdminForm(forms.ModelForm):
    """A note checked by the API's own rules; tags typed as a comma-separated line."""

    # Kept as written, as the API keeps it: indentation and blank lines are Markdown.
    content = TextAreaField(
        widget=AdminTextareaWidget, required=False, strip=False, max_length=settings.NOTES_MAX_CONTENT_CHARS
    )
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. home, shopping")
    # The version the form was drawn at: saving over a change made since is
    # refused, as a stale If-Match is.
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Note
        fields = ["owner", "title", "content", "pinned", "tags"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
            self.initial["seen_version"] = self.instance.version
            self.fields["seen_version"].required = True

    def clean_content(self):
        return as_edited(self.cleaned_data["content"], self.instance.content if self.instance.pk else None)

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk and "seen_version" in cleaned_data:
            # The note as the admin read it for this request, not locked: locking it here, before
            # note_update takes the owner's feed counter, crossed every other change (counter
            # first) in a deadlock. A change made after this check is refused by note_update's
            # If-Match and shown as this error (NoteAdmin.changeform_view).
            version = self.instance.version
            if cleaned_data["seen_version"] != version:
                raise ValidationError(
                    "The note was changed while this page was open (it is at version %(version)s now): "
                    "reload the page to see the change, then make yours again.",
                    code="stale",
                    params={"version": version},
                )
        return cleaned_data

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        if not title:
            raise ValidationError("This field may not be blank.")
        return as_edited(title, self.instance.title if self.instance.pk else None, one_line=True)

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
        if not self.value():
            return queryset
        try:
            tag = normalise_tag(self.value())
        except ValidationError as error:  # no note has it (and PostgreSQL refuses a NUL in a query)
            raise IncorrectLookupParameters(error) from error
        return queryset.filter(tag_index__name=tag)


@admin.register(Revision)
class RevisionAdmin(StrictModelAdmin):
    """Read-only: revisions are written by notes.services, never by hand."""

    list_display = ["note", "version", "title", "updated_at"]
    list_select_related = ["note"]
    search_fields = ["title", "note__title"]
    readonly_fields = ["note", "version", "title", "content", "pinned", "tags", "updated_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AttachmentInline(admin.TabularInline):
    """The note's files, read-only: they come and go through the API."""

    model = Attachment
    fields = ["filename", "content_type", "size", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("file")

    @admin.display(description="type")
    def content_type(self, attachment):
        return attachment.file.content_type

    @admin.display(description="size")
    def size(self, attachment):
        return filesizeformat(attachment.file.size)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PublicLink)
class PublicLinkAdmin(StrictModelAdmin):
    """Every note's public link; revoking one stops it at once."""

    list_display = ["note", "owner", "created_at", "expires_at", "live"]
    list_select_related = ["note__owner"]
    search_fields = ["note__title", "note__owner__username"]
    readonly_fields = ["note", "created_at", "expires_at"]
    exclude = ["token"]
    actions = ["revoke"]

    @admin.display(description="owner")
    def owner(self, link):
        return link.note.owner

    @admin.display(description="live", boolean=True)
    def live(self, link):
        return link.is_live() and not link.note.is_trashed

    @admin.action(description="Revoke selected links", permissions=["delete"])
    def revoke(self, request, queryset):
        links = list(queryset.select_related("note"))
        for link in links:
            public_link_revoke(note=link.note)
        self.message_user(request, f"Revoked {len(links)} link(s).", messages.SUCCESS)

    def get_actions(self, request):
        # Revoking is the deletion here.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class NothingDeleted(Exception):
    """A note's delete confirmation no longer fits the note, which is left as it is."""


@admin.register(Note)
class NoteAdmin(DeletesWhatItOwnsMixin, StrictModelAdmin):
    """Every change goes through notes.services, exactly as the API's do."""

    form = NoteAdminForm
    list_display = ["title", "owner", "pinned", "tag_list", "updated_at", "version", "deleted_at"]
    list_filter = ["pinned", TagFilter, TrashedFilter, "owner"]
    list_select_related = ["owner"]
    search_fields = ["title", "content", "owner__username"]
    readonly_fields = ["created_at", "updated_at", "version", "deleted_at"]
    date_hierarchy = "updated_at"
    show_full_result_count = False
    actions = ["pin", "unpin", "move_to_trash", "restore_from_trash"]

    @admin.display(description="tags")
    def tag_list(self, note):
        return ", ".join(note.tags)

    def get_list_filter(self, request):
        # The owner filter lists every username: for staff who may see users.
        if request.user.has_perm("accounts.view_user"):
            return self.list_filter
        return [spec for spec in self.list_filter if spec != "owner"]

    def get_actions(self, request):
        # Deleting moves notes to the trash, through the action below.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request, obj=None):
        # A note in the trash is shown, not edited: restore it first.
        if obj is not None and obj.is_trashed:
            return False
        return super().has_change_permission(request, obj)

    def get_inlines(self, request, obj):
        # Shown, never posted: the attachment rows are read-only, so a POST of
        # the note's form carries (and needs) no formset for them.
        return [AttachmentInline] if obj is not None and request.method in {"GET", "HEAD"} else []

    def get_readonly_fields(self, request, obj=None):
        # A note keeps its owner; the field is chosen once, on creation. Its
        # history shows the revisions, for those who may see them.
        if obj is None:
            return self.readonly_fields
        history = ["history"] if request.user.has_perm("notes.view_revision") else []
        return [*self.readonly_fields, "owner", *history]

    @admin.display(description="history")
    def history(self, note):
        """The states the note replaced, newest first, each linking to the whole revision.

        A read-only table rather than an inline: an inline's formset would have
        the change form post data for rows nobody may edit.
        """
        revisions = note.revisions.order_by("-version")
        if not revisions:
            return "No earlier versions."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:notes_revision_change", args=[revision.pk]),
                    revision.version,
                    localize(timezone.localtime(revision.updated_at)),
                    revision.title,
                    truncatechars(revision.content, 120),
                    "yes" if revision.pinned else "no",
                    ", ".join(revision.tags),
                )
                for revision in revisions
            ),
        )
        return format_html(
            "<table><thead><tr><th>version</th><th>updated</th><th>title</th><th>content</th>"
            "<th>pinned</th><th>tags</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except VersionConflict:
            # The note changed between the form's check and its save (save_model's If-Match),
            # and the save was rolled back: drawn again, the page shows the form's error.
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Http404:
            # Moved to the trash (or deleted) meanwhile, which a trashed note's page cannot edit.
            return self.left_its_place(request)
        except PermissionDenied:
            # Moved to the trash before the form was posted: a trashed note is not
            # changed (has_change_permission), which Django answers with a bare 403.
            if not self.trashed_meanwhile(request, object_id):
                raise
            return self.left_its_place(request)

    def trashed_meanwhile(self, request, object_id):
        """Whether a change form drawn for the live note (it sends the version it saw) finds it in the trash."""
        if request.method != "POST" or "seen_version" not in request.POST or not object_id:
            return False
        note = self.get_object(request, unquote(object_id))
        return note is not None and note.is_trashed and super().has_change_permission(request)

    def left_its_place(self, request):
        self.message_user(
            request, "The note left its place while this page was open: nothing was saved.", messages.WARNING
        )
        return HttpResponseRedirect(reverse("admin:notes_note_changelist"))

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in ["title", "content", "pinned", "tags"]}
        if change:
            note = get_object_or_404(Note, pk=obj.pk)  # deleted forever meanwhile: changeform_view says so
            saved = note_update(note=note, if_match={form.cleaned_data["seen_version"]}, **fields)
        else:
            saved = note_create(owner=form.cleaned_data["owner"], **fields)
        obj.pk, obj.version, obj.updated_at = saved.pk, saved.version, saved.updated_at

    def render_delete_form(self, request, context):
        return super().render_delete_form(request, {**context, "trash_days": settings.NOTES_TRASH_DAYS})

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except NothingDeleted as reason:
            # Rolled back, its log entry too; the list shows the note as it is now.
            self.message_user(request, str(reason), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:notes_note_changelist"))

    def response_delete(self, request, obj_display, obj_id):
        if request.POST.get("delete") == "forever" or IS_POPUP_VAR in request.POST:
            return super().response_delete(request, obj_display, obj_id)
        # Django's own message says "deleted successfully": the note is in the trash.
        self.message_user(
            request,
            f"The note “{obj_display}” was moved to the trash: restore it from there "
            f"within {settings.NOTES_TRASH_DAYS} days.",
            messages.SUCCESS,
        )
        # Then where Django's goes: the list, with its filters, for those who may change notes.
        if not self.has_change_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.admin_site.name))
        changelist = reverse("admin:notes_note_changelist", current_app=self.admin_site.name)
        context = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return HttpResponseRedirect(add_preserved_filters(context, changelist))

    def delete_model(self, request, obj):
        # What the confirmation page offered decides, not the note's state now: a "move to the
        # trash" posted twice, or after the owner trashed the note, must not delete it forever.
        if request.POST.get("delete") == "forever":
            changed = NothingDeleted(f"The note “{obj}” changed since the page was drawn: nothing was deleted.")
            # Only from a page drawn for the note in the trash, at the version it is still at.
            if not (obj.is_trashed and request.POST.get("seen_version") == str(obj.version)):
                raise changed
            try:
                note_delete_forever(note=obj, if_match={obj.version})
            except (Http404, VersionConflict):  # restored or changed since it was read
                raise changed from None
        else:
            try:
                note_trash(note=obj)
            except Http404:  # trashed (or deleted forever) by someone else since the page was drawn
                raise NothingDeleted(f"The note “{obj}” is already in the trash: nothing was deleted.") from None

    @admin.action(description="Pin selected notes", permissions=["change"])
    def pin(self, request, queryset):
        self._update_each(request, queryset, pinned=True)

    @admin.action(description="Unpin selected notes", permissions=["change"])
    def unpin(self, request, queryset):
        self._update_each(request, queryset, pinned=False)

    @admin.action(description="Move selected notes to the trash", permissions=["delete"])
    def move_to_trash(self, request, queryset):
        notes = list(queryset.alive())
        for note in notes:
            note_trash(note=note)
        self.message_user(request, f"Moved {len(notes)} note(s) to the trash.", messages.SUCCESS)

    @admin.action(description="Restore selected notes from the trash", permissions=["change"])
    def restore_from_trash(self, request, queryset):
        notes = list(queryset.trashed())
        for note in notes:
            note_restore(note=note)
        self.message_user(request, f"Restored {len(notes)} note(s) from the trash.", messages.SUCCESS)

    def _update_each(self, request, queryset, **changes):
        notes = list(queryset.alive())
        for note in notes:
            note_update(note=note, **changes)
        self.message_user(request, f"Updated {len(notes)} note(s).", messages.SUCCESS)

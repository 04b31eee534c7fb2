from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group
from django.db import transaction
from knox.models import AuthToken as KnoxAuthToken

from accounts.models import AuthToken, User
from accounts.services import user_delete
from notesite.admin_deletion import DeletesWhatItOwnsMixin
from notesite.strict_admin import StrictAdminMixin, StrictModelAdmin

# knox registers its own, swapped-out token model; show ours instead.
if admin.site.is_registered(KnoxAuthToken):
    admin.site.unregister(KnoxAuthToken)


class AuthTokenInline(admin.TabularInline):
    """A user's tokens on their page: ticking Delete revokes one."""

    model = AuthToken
    fields = ["id", "created", "expiry", "is_live"]
    readonly_fields = fields
    ordering = ["-created", "-id"]
    extra = 0
    verbose_name_plural = "API tokens (tick Delete to revoke)"

    @admin.display(boolean=True, description="live")
    def is_live(self, token):
        return not token.is_expired

    def has_add_permission(self, request, obj=None):
        return False


class PasswordSetForm(auth_admin.AdminPasswordChangeForm):
    """A password set here (or password login turned off) revokes the user's API tokens.

    As a password changed through the API revokes the other tokens: an
    account taken over is taken back by setting its password.
    """

    def save(self, commit=True):
        with transaction.atomic():
            user = super().save(commit)
            if commit:
                AuthToken.objects.owned_by(user).delete()
        return user


@admin.register(User)
class UserAdmin(DeletesWhatItOwnsMixin, StrictAdminMixin, auth_admin.UserAdmin):
    """Users, their tokens, and account deletion exactly as the API does it."""

    inlines = [AuthTokenInline]
    change_password_form = PasswordSetForm

    # What makes a user more than an ordinary one: granted by superusers only.
    privilege_fields = ("is_staff", "is_superuser", "groups", "user_permissions")

    def has_delete_permission(self, request, obj=None):
        # Deleting a user deletes all they own (DeletesWhatItOwnsMixin). Bulk
        # deletes ask this of each user.
        if self.is_another_staff_member(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # Setting another staff member's password, or changing their account,
        # is taking over what they may do. Django's own permission would let
        # staff with `change_user` take over a superuser.
        if self.is_another_staff_member(request, obj):
            return False
        return super().has_change_permission(request, obj)

    @staticmethod
    def is_another_staff_member(request, obj):
        """Whether `obj` is staff (or a superuser) other than the requesting user, who is no superuser.

        Only a superuser changes or deletes another staff member.
        """
        return (
            obj is not None
            and (obj.is_staff or obj.is_superuser)
            and obj.pk != request.user.pk
            and not request.user.is_superuser
        )

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not request.user.is_superuser:
            # Staff may not grant privileges, to anyone or to themselves.
            readonly = (*readonly, *self.privilege_fields)
        return readonly

    def delete_model(self, request, obj):
        user_delete(user=obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_delete(user=user)


# Django's group pages, with the project's checks on what a URL or an action may ask.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(StrictAdminMixin, auth_admin.GroupAdmin):
    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if not request.user.is_superuser:
            # A group's permissions are granted to its members, staff among them.
            readonly = (*readonly, "permissions")
        return readonly


class LiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.live()
        if self.value() == "expired":
            return queryset.expired()
        return queryset


@admin.register(AuthToken)
class AuthTokenAdmin(StrictModelAdmin):
    """API tokens: only their digests are stored, so none can be read back."""

    list_display = ["id", "user", "created", "expiry", "is_live"]
    list_filter = [LiveFilter, "created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "created", "expiry"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(boolean=True, description="live")
    def is_live(self, token):
        return not token.is_expired

    def has_add_permission(self, request):
        return False

    def get_actions(self, request):
        # "Revoke" says what deleting a token does.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke(self, request, queryset):
        revoked, _ = queryset.delete()
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)

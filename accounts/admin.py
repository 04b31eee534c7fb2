from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from knox.models import AuthToken as KnoxAuthToken

from accounts.models import AuthToken, User

admin.site.register(User, UserAdmin)

# knox registers its own, swapped-out token model; show ours instead.
if admin.site.is_registered(KnoxAuthToken):
    admin.site.unregister(KnoxAuthToken)


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    """API tokens: only their digests are stored, so none can be read back."""

    list_display = ["id", "user", "created", "expiry"]
    list_filter = ["created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "created", "expiry"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

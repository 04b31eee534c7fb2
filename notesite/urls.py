from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import TemplateView

from notes.sharing.views import shared_attachment, shared_note
from notesite.schema_views import RedocView, SchemaView, SwaggerView

urlpatterns = [
    # First: the API's routes are asked for most, and URLs are matched in order.
    path("api/", include("notes.urls")),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Its init script is a file of its own (?script), so no inline script is needed. GET only:
    # its one renderer has no template for OPTIONS's answer.
    path(
        "api/docs/",
        SwaggerView.as_view(url_name="schema", http_method_names=["get", "head"]),
        name="swagger-ui",
    ),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    # Session login for the browsable API, limited like the API's login.
    path("api-auth/", include("accounts.session_urls")),
    # Public links: a note anyone with the link may read, and its images.
    re_path(
        r"^s/(?P<token>[^/]+)/attachments/(?P<attachment_id>[0-9]+)/?$",
        shared_attachment,
        name="shared-attachment",
    ),
    # Any other path under /s/ is a link that does not exist: the same 404 as a dead one.
    re_path(r"^s/(?P<token>[\s\S]*?)/?$", shared_note, name="shared-note"),
]

handler400 = "notesite.exceptions.bad_request"
handler403 = "notesite.exceptions.permission_denied"
handler404 = "notesite.exceptions.page_not_found"
handler500 = "notesite.exceptions.server_error"

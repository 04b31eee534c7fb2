from django.urls import path
from rest_framework.routers import DefaultRouter

from notes.attachments.views import AttachmentViewSet, NoteAttachmentsView
from notes.sharing.views import LinkViewSet, NoteShareView
from notes.transfer.views import ExportView, ImportView
from notes.views import ChangesView, NoteViewSet, TagViewSet, TrashViewSet


class Router(DefaultRouter):
    """DRF's router; a viewset with an `empty` method also answers DELETE on its list.

    The API root lists the viewsets, and the plain views named in `root_links`.
    """

    include_format_suffixes = False
    routes = [
        DefaultRouter.routes[0]._replace(mapping={**DefaultRouter.routes[0].mapping, "delete": "empty"}),
        *DefaultRouter.routes[1:],
    ]
    root_links = {"changes": "changes", "export": "export", "import": "import"}

    def get_api_root_view(self, api_urls=None):
        list_name = self.routes[0].name
        links = {prefix: list_name.format(basename=basename) for prefix, _, basename in self.registry}
        return self.APIRootView.as_view(api_root_dict={**links, **self.root_links})


router = Router()
router.register("notes", NoteViewSet, basename="note")
router.register("trash", TrashViewSet, basename="trash")
router.register("tags", TagViewSet, basename="tag")
router.register("attachments", AttachmentViewSet, basename="attachment")
router.register("links", LinkViewSet, basename="link")

urlpatterns = [
    *router.urls,  # first: the notes' routes are asked for most
    path("changes/", ChangesView.as_view(), name="changes"),
    path("export/", ExportView.as_view(), name="export"),
    path("import/", ImportView.as_view(), name="import"),
    path("notes/<str:pk>/attachments/", NoteAttachmentsView.as_view(), name="note-attachments"),
    path("notes/<str:pk>/share/", NoteShareView.as_view(), name="note-share"),
]

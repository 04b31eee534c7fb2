from django.urls import path
from rest_framework.routers import DefaultRouter

from notes.transfer.views import ExportView, ImportView
from notes.views import NoteViewSet, TrashViewSet


class Router(DefaultRouter):
    """DRF's router; a viewset with an `empty` method also answers DELETE on its list."""

    include_format_suffixes = False
    routes = [
        DefaultRouter.routes[0]._replace(mapping={**DefaultRouter.routes[0].mapping, "delete": "empty"}),
        *DefaultRouter.routes[1:],
    ]


router = Router()
router.register("notes", NoteViewSet, basename="note")
router.register("trash", TrashViewSet, basename="trash")

urlpatterns = [
    path("export/", ExportView.as_view(), name="export"),
    path("import/", ImportView.as_view(), name="import"),
    *router.urls,
]

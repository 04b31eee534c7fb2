from rest_framework.routers import DefaultRouter

from notes.views import NoteViewSet, TagViewSet


class Router(DefaultRouter):
    include_format_suffixes = False


router = Router()
router.register("notes", NoteViewSet, basename="note")
router.register("tags", TagViewSet, basename="tag")

urlpatterns = router.urls

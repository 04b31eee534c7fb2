from rest_framework.routers import DefaultRouter

from notes.views import NoteViewSet


class Router(DefaultRouter):
    include_format_suffixes = False


router = Router()
router.register("notes", NoteViewSet, basename="note")

urlpatterns = router.urls

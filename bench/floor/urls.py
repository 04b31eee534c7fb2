"""Views that answer `{}` at each layer of the stack a note's request goes through (bench/floor.py).

Under /api/, so the middleware treats them as the API's routes; then the
project's own routes, so the same server also answers GET one note.
"""

from django.http import HttpResponse
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from notesite.urls import urlpatterns as project_urlpatterns


def django_view(request):
    return HttpResponse(b"{}", content_type="application/json")


class DRFView(APIView):
    """DRF without authentication, permissions or throttles."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({})


class DRFTokenView(APIView):
    """DRF with the project's defaults: the token looked up, IsAuthenticated, the user's throttle."""

    def get(self, request):
        return Response({})


urlpatterns = [
    path("api/floor/django/", django_view),
    path("api/floor/drf/", DRFView.as_view()),
    path("api/floor/drf-token/", DRFTokenView.as_view()),
    *project_urlpatterns,
]

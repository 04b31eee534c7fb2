"""The OpenAPI schema and its docs pages (drf-spectacular's views), with the API's JSON errors."""

from drf_spectacular import views

from notesite.renderers import JSONRenderer


class JSONErrorsMixin:
    """Errors answer the API's JSON, like every failure under /api/, whatever the view's renderers.

    Their own would write a 405, 406 or 404 as the schema's YAML (DRF's error
    structure dumped) or as the docs page's HTML.
    """

    def handle_exception(self, exc):
        # finalize_response renders with the request's renderer, set here
        # also when negotiation itself failed (406, an unknown ?format= 404).
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().handle_exception(exc)


class SchemaView(JSONErrorsMixin, views.SpectacularAPIView):
    pass


class SwaggerView(JSONErrorsMixin, views.SpectacularSwaggerSplitView):
    pass


class RedocView(JSONErrorsMixin, views.SpectacularRedocView):
    pass

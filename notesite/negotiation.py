"""DRF's content negotiation, answered at once for the usual API client."""

from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    """A client that accepts anything (no Accept header, or `*/*`, as curl, httpx and
    most HTTP libraries send) gets the first renderer, JSON: what DRF's own
    negotiation answers after parsing the header and matching every renderer.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        format_override = self.settings.URL_FORMAT_OVERRIDE
        # Without a query string there is no ?format=, and no QueryDict to build.
        overridden = format_override and request.META.get("QUERY_STRING") and format_override in request.query_params
        if format_suffix is None and request.META.get("HTTP_ACCEPT", "*/*") == "*/*" and not overridden:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)

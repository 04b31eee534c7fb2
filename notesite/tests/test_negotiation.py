"""The negotiation's shortcut answers exactly what DRF's own negotiation would."""

import pytest
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from notesite.negotiation import ContentNegotiation

RENDERERS = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]


def negotiate(negotiation, path, accept, format_suffix=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, RENDERERS, format_suffix)
    except NotAcceptable:
        return NotAcceptable
    return type(renderer), media_type


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/json",
        "application/json; indent=4",
        "text/html",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*;q=0.5",
        "image/png",
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/notes/", "/api/notes/?limit=5", "/api/notes/?format=api", "/api/notes/?format=json"]
)
def test_the_shortcut_agrees_with_drf(path, accept):
    assert negotiate(ContentNegotiation(), path, accept) == negotiate(DefaultContentNegotiation(), path, accept)


def test_a_format_suffix_is_negotiated_by_drf():
    assert negotiate(ContentNegotiation(), "/api/notes/", "*/*", "api")[0].format == "api"


def test_the_api_uses_the_shortcut():
    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is ContentNegotiation

"""JSON rendering with orjson, several times faster than the standard library.

It also writes an `orjson.Fragment` (JSON text made elsewhere, such as a
note the database wrote) into the answer as it is. The browsable API's pages
are DRF's, kept from failing where DRF's would.
"""

import copy

import orjson
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.utils.serializer_helpers import BoundField

_fallback = JSONEncoder()


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        options = orjson.OPT_PASSTHROUGH_DATETIME
        # The browsable API asks for indented JSON.
        if self.get_indent(accepted_media_type or "", renderer_context or {}):
            options |= orjson.OPT_INDENT_2
        return orjson.dumps(data, default=_fallback.default, option=options)


class FormRenderer(renderers.HTMLFormRenderer):
    def render_field(self, field, parent_style):
        if field.style.get("input_type") == "password" and field.value:
            # Never written back into the page: a form shown again after an
            # error (a wrong old password) had every password typed in it.
            return super().render_field(BoundField(field._field, None, field.errors, field._prefix), parent_style)
        if field.style.get("base_template") == "input.html" and isinstance(field.value, list):
            # A list drawn as one text box (a note's tags): comma-separated, as it is read back.
            text = ", ".join(map(str, field.value))
            return super().render_field(BoundField(field._field, text, field.errors, field._prefix), parent_style)
        try:
            return super().render_field(field, parent_style)
        except (ValueError, TypeError):
            # A date-time shown again with its error, sent in another format
            # than DATETIME_FORMAT (or not as text), which DRF parses for the
            # browser's date picker: shown as it was sent, in a text box.
            in_text_box = copy.copy(field._field)
            in_text_box.style = {**field.style, "input_type": "text"}
            return super().render_field(BoundField(in_text_box, field.value, field.errors, field._prefix), parent_style)


class BrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    form_renderer_class = FormRenderer

    def get_rendered_html_form(self, data, view, method, request):
        # DRF draws the form of the POST just answered from the answer's
        # serializer. When that is not the serializer a POST reads (an
        # upload answered with the attachment), the form is drawn afresh:
        # it had lost its file box.
        answered_with = getattr(data, "serializer", None)
        if (
            method == request.method == "POST"
            and answered_with is not None
            and type(answered_with) is not reads_with(view)
        ):
            data = None
        return super().get_rendered_html_form(data, view, method, request)

    def show_form_for_method(self, view, method, request, obj):
        try:
            return super().show_form_for_method(view, method, request, obj)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            # The page answers a body refused as too large (413) or with too
            # many fields (400); checking a form's permissions would
            # authenticate the request again, reading that body again.
            return False


def reads_with(view):
    """The serializer class the view reads the request's body with, if it has one."""
    try:
        return view.get_serializer_class()
    except (AttributeError, AssertionError):  # an APIView, or a generic view without one
        return None

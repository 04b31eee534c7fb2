"""OpenAPI generation: the error answers each operation can give, in one place.

drf-spectacular documents the success answers from the views; the 4xx
answers come from the mechanisms every view shares (authentication, parsing,
throttling, conditional requests), so they are added here by looking at the
view rather than repeated on each one.
"""

from drf_spectacular import openapi
from drf_spectacular.plumbing import build_media_type_object
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings

from notes.conditional import ConditionalNoteMixin


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field-keyed messages; `non_field_errors` for the body as a whole.",
    "additionalProperties": {},
}

# What the default parsers accept besides JSON: the browsable API's HTML forms.
BROWSER_FORM_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: field-keyed messages.",
    "401": "Missing, invalid or expired token.",
    "404": "No such object among the requesting user's.",
    "406": "The Accept header names no format this endpoint answers in.",
    "413": "Request body over the size limit.",
    "415": "Unsupported Content-Type.",
    "429": "Too many requests; see Retry-After.",
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.is_conditional_on_one():
            if self.method == "GET":
                responses["304"] = self._get_response_for_code(None, "304")
                responses["304"]["description"] = "Not modified: If-None-Match names the current version."
                responses["412"] = self._get_response_for_code(ErrorSerializer, "412")
                responses["412"]["description"] = "If-Match names another version."
            else:
                responses["412"] = self._get_response_for_code(self.view.conflict_serializer_class, "412")
                responses["412"]["description"] = "If-Match names another version: nothing was changed."
        for code in self.error_codes():
            if code not in responses:
                schema = VALIDATION_ERROR_SCHEMA if code == "400" else ErrorSerializer
                responses[code] = self._get_response_for_code(schema, code, direction=direction)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses

    def _get_request_body(self, direction="request"):
        serializer = self.destroy_serializer()
        if serializer is None:
            return super()._get_request_body(direction)
        schema, _ = self._get_request_for_media_type(serializer, direction)
        return {
            "content": {media_type: build_media_type_object(schema) for media_type in self.map_parsers()},
            "required": True,
        }

    def map_parsers(self):
        """The request media types for API clients: JSON, where a view takes the default parsers.

        The default form and multipart parsers serve the browsable API's HTML
        forms. Listing them beside JSON with the same schema makes client
        generators send every body as multipart (openapi-python-client does),
        so they are left out of the schema; a view with parsers of its own
        (an upload) documents all of them.
        """
        media_types = super().map_parsers()
        if list(self.view.parser_classes) == list(api_settings.DEFAULT_PARSER_CLASSES):
            return [media_type for media_type in media_types if media_type not in BROWSER_FORM_MEDIA_TYPES]
        return media_types

    def destroy_serializer(self):
        """What a DELETE carries, where the view asks for a body (a password to confirm)."""
        if self.method == "DELETE":
            return getattr(self.view, "destroy_serializer_class", None)
        return None

    def error_codes(self):
        has_body = self.method in {"POST", "PUT", "PATCH"} or self.destroy_serializer() is not None
        # Every operation: a query parameter given twice or holding a NUL is
        # refused before any view runs (notesite.middleware.QueryStringMiddleware).
        codes = ["400"]
        # A view that authenticates no one (login, register) refuses with 403, never 401.
        if self.view.authentication_classes and not any(
            permission is AllowAny for permission in self.view.permission_classes
        ):
            codes.append("401")
        if "{" in self.path:
            codes.append("404")
        codes.append("406")
        if has_body:
            codes += ["413", "415"]
        if self.view.throttle_classes:
            codes.append("429")
        return codes

    def response_headers(self):
        """The headers SPEC makes part of an answer, declared on the answers that carry them."""
        headers = []
        codes = self.error_codes()
        if "401" in codes:
            headers.append(header("WWW-Authenticate", "`Token`: how to authenticate.", 401))
        if "429" in codes:
            headers.append(header("Retry-After", "Seconds to wait before trying again.", 429, type=int))
        if isinstance(self.view, ConditionalNoteMixin):
            if self.method == "POST" and "{" not in self.path:
                headers.append(header("Location", "The new note's URL.", 201))
                headers.append(header("ETag", 'The new note\'s version, `"1"`.', 201))
            elif self.is_conditional_on_one() and self.method != "DELETE":
                headers.append(header("ETag", 'The note\'s version as answered, e.g. `"3"`.', 200, 304, 412))
        return headers

    def is_conditional_on_one(self):
        if not (isinstance(self.view, ConditionalNoteMixin) and "{" in self.path):
            return False
        # Reads are conditional (304) only where they answer the note itself.
        return self.method != "GET" or self.view.action == "retrieve"

    def get_override_parameters(self):
        parameters = super().get_override_parameters() + self.response_headers()
        if self.is_conditional_on_one():
            if self.method == "GET":
                parameters.append(
                    OpenApiParameter(
                        "If-None-Match",
                        location=OpenApiParameter.HEADER,
                        description='Answer 304 if the note is still at this version, e.g. `"3"`.',
                    )
                )
            else:
                parameters.append(
                    OpenApiParameter(
                        "If-Match",
                        location=OpenApiParameter.HEADER,
                        description='Change the note only if it is at this version, e.g. `"3"`; else 412.',
                    )
                )
        return parameters


def header(name, description, *codes, type=str):
    """A response header of the answers with these status codes."""
    return OpenApiParameter(
        name, type, location=OpenApiParameter.HEADER, description=description, response=list(codes), required=True
    )


def drop_defaults_from_partial_updates(result, generator, request, public):
    """A PATCH body's absent field is left as it is, not set to its default.

    drf-spectacular copies the serializer's defaults (which PUT and POST do
    apply) into the Patched* components too, and generated clients then send
    them: a PATCH of `pinned` alone would also blank the content.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.startswith("Patched"):
            for field in component.get("properties", {}).values():
                field.pop("default", None)
    return result


def drop_unicode_word_patterns(result, generator, request, public):
    r"""Leave out patterns built on `\w` (Django's username rule).

    Python reads `\w` as any letter or digit of any script; JSON Schema's
    regular expressions (ECMA 262) read it as ASCII only, so the pattern
    would tell clients that "Ärger" is not a valid name. The description
    says what is allowed.
    """
    for component in result.get("components", {}).get("schemas", {}).values():
        for field in component.get("properties", {}).values():
            if "\\w" in field.get("pattern", ""):
                del field["pattern"]
    return result

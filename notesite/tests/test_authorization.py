"""Authorization, table-driven: every endpoint, user B against user A's data, and anonymous.

The operations come from the URL resolver (drf-spectacular's enumerator of
every DRF endpoint, and every other view of the site), not from this file:
an endpoint without a row in TABLE fails `test_every_operation_has_a_row`,
so nothing new slips through unchecked. To add one, write a row: how A's
data for it is made (through the API, as A), what B sends, and what B must
get: `NOT_FOUND` (404, exactly as for an object that does not exist),
`EMPTY` (200 with every list empty) or `OWN` (B acts on B's own account;
anything but a 5xx). For every row, whatever B or an anonymous client does,
A's rows in the database are unchanged and nothing of A (a marker in A's
username, titles, contents and tags) appears in the answer's body or headers.
Anonymous requests answer 401 with `WWW-Authenticate: Token`, except on rows
marked public. Rows for endpoints the spec announces but the code does not
have yet wait, unused, until their operation appears.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import EndpointEnumerator
from rest_framework.test import APIClient

from accounts.models import AuthToken
from accounts.tests.factories import UserFactory
from conftest import PASSWORD, client_with_token

MARKER = "zqxsecretofalice"
MISSING = "999999999"

NOT_FOUND, EMPTY, OWN, PUBLIC = "404 like a missing one", "empty", "B's own", "public"


@dataclass
class A:
    """User A, with what the row's setup made, seen from the test."""

    user: Any
    client: APIClient
    params: list = field(default_factory=list)

    def note(self, **fields):
        body = {"title": f"Note of {MARKER}", "content": f"{MARKER} content", "tags": [MARKER], **fields}
        response = self.client.post("/api/notes/", body, format="json")
        assert response.status_code == 201, response.content
        return response.json()


def a_note(a):
    return [a.note()["id"]]


def an_edited_note(a):
    note = a.note()
    assert (
        a.client.patch(f"/api/notes/{note['id']}/", {"content": f"{MARKER} edited"}, format="json").status_code == 200
    )
    return [note["id"], 1]


def a_trashed_note(a):
    note = a.note()
    assert a.client.delete(f"/api/notes/{note['id']}/").status_code == 204
    return [note["id"]]


def a_token(a):
    return [AuthToken.objects.filter(user=a.user).values_list("pk", flat=True).first()]


def a_tag(a):
    a.note()
    return [MARKER]


def a_shared_note(a):
    note = a.note()
    a.client.post(f"/api/notes/{note['id']}/share/", {}, format="json")
    return [note["id"]]


def an_attachment(a):
    note = a.note()
    upload = {"file": _upload()}
    response = a.client.post(f"/api/notes/{note['id']}/attachments/", upload, format="multipart")
    assert response.status_code == 201, response.content
    return [response.json()["id"]]


def _upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("secret.txt", f"{MARKER} attached".encode(), content_type="text/plain")


def nothing(a):
    a.note()  # A has data, so an EMPTY answer to B means scoped, not merely vacant
    return []


@dataclass
class Row:
    other: str  # NOT_FOUND, EMPTY, OWN or PUBLIC
    setup: Callable = nothing
    body: Any = None  # what B sends; a callable gets A
    query: str = ""
    multipart: bool = False
    check: Callable | None = None  # more to assert on B's answer: check(response, a, b)


def b_sees_only_itself(response, a, b):
    assert response.json()["id"] == b.pk


def b_lists_only_its_tokens(response, a, b):
    listed = {token["id"] for token in response.json()["results"]}
    assert listed
    assert listed <= set(AuthToken.objects.filter(user=b).values_list("pk", flat=True))


def wrong_password_says_nothing_of_the_account(response, a, b):
    nobody = APIClient().post("/api/auth/token/", {"username": "nobody-at-all", "password": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == nobody.json()


NOTE_EDIT = {"title": "B was here", "content": "B's", "tags": ["b"]}

# (method, path with every parameter written {}) -> Row.
TABLE = {
    # Accounts.
    ("POST", "/api/auth/token/"): Row(
        PUBLIC,
        body=lambda a: {"username": a.user.username, "password": "not the password"},
        check=wrong_password_says_nothing_of_the_account,
    ),
    ("POST", "/api/auth/register/"): Row(
        PUBLIC, body=lambda a: {"username": a.user.username.upper(), "password": PASSWORD}
    ),
    ("POST", "/api/auth/logout/"): Row(OWN),
    ("POST", "/api/auth/logout-all/"): Row(OWN),
    ("GET", "/api/auth/me/"): Row(OWN, check=b_sees_only_itself),
    ("DELETE", "/api/auth/me/"): Row(OWN, body={"password": PASSWORD}),
    ("POST", "/api/auth/password/"): Row(OWN, body={"old_password": PASSWORD, "new_password": "B's new secret 4 ever"}),
    ("GET", "/api/auth/tokens/"): Row(OWN, check=b_lists_only_its_tokens),
    ("DELETE", "/api/auth/tokens/{}/"): Row(NOT_FOUND, setup=a_token),
    # Notes.
    ("GET", "/api/notes/"): Row(EMPTY),
    ("POST", "/api/notes/"): Row(OWN, body=NOTE_EDIT),
    ("GET", "/api/notes/{}/"): Row(NOT_FOUND, setup=a_note),
    ("PUT", "/api/notes/{}/"): Row(NOT_FOUND, setup=a_note, body=NOTE_EDIT),
    ("PATCH", "/api/notes/{}/"): Row(NOT_FOUND, setup=a_note, body=NOTE_EDIT),
    ("DELETE", "/api/notes/{}/"): Row(NOT_FOUND, setup=a_note),
    # Finding: tags.
    ("GET", "/api/tags/"): Row(EMPTY),
    ("POST", "/api/tags/rename/"): Row(OWN, setup=a_tag, body={"from": MARKER, "to": "b"}),
    ("DELETE", "/api/tags/{}/"): Row(OWN, setup=a_tag),
    # The route of rename also answers DELETE for a tag named "rename".
    ("DELETE", "/api/tags/rename/"): Row(OWN, setup=a_tag),
    # Sync.
    ("GET", "/api/changes/"): Row(EMPTY),
    # Revisions, trash, export and import.
    ("GET", "/api/notes/{}/revisions/"): Row(NOT_FOUND, setup=an_edited_note),
    ("POST", "/api/notes/{}/revisions/{}/restore/"): Row(NOT_FOUND, setup=an_edited_note),
    ("GET", "/api/trash/"): Row(EMPTY),
    ("DELETE", "/api/trash/"): Row(OWN, setup=a_trashed_note),
    ("GET", "/api/trash/{}/"): Row(NOT_FOUND, setup=a_trashed_note),
    ("DELETE", "/api/trash/{}/"): Row(NOT_FOUND, setup=a_trashed_note),
    ("POST", "/api/trash/{}/restore/"): Row(NOT_FOUND, setup=a_trashed_note),
    ("GET", "/api/export/"): Row(OWN, query="?format=json"),
    ("POST", "/api/import/"): Row(OWN, body={"notes": [{"title": "B's import"}]}),
    # Attachments and public links.
    ("GET", "/api/notes/{}/attachments/"): Row(NOT_FOUND, setup=a_note),
    ("POST", "/api/notes/{}/attachments/"): Row(
        NOT_FOUND, setup=a_note, body=lambda a: {"file": _upload()}, multipart=True
    ),
    ("GET", "/api/attachments/{}/"): Row(NOT_FOUND, setup=an_attachment),
    ("DELETE", "/api/attachments/{}/"): Row(NOT_FOUND, setup=an_attachment),
    ("GET", "/api/attachments/{}/download/"): Row(NOT_FOUND, setup=an_attachment),
    ("GET", "/api/notes/{}/share/"): Row(NOT_FOUND, setup=a_shared_note),
    ("POST", "/api/notes/{}/share/"): Row(NOT_FOUND, setup=a_note, body={}),
    ("DELETE", "/api/notes/{}/share/"): Row(NOT_FOUND, setup=a_shared_note),
    ("GET", "/api/links/"): Row(EMPTY, setup=a_shared_note),
    # The schema and the docs pages are public.
    ("GET", "/api/schema/"): Row(PUBLIC),
    ("GET", "/api/docs/"): Row(PUBLIC),
    ("GET", "/api/redoc/"): Row(PUBLIC),
}

# Views outside DRF's endpoints (HTML pages, the API's root), by class:
# what an anonymous GET answers. None of them shows any user's data.
PAGES = {
    "django.views.generic.base.TemplateView": 200,  # the landing page
    "django.contrib.auth.views.LoginView": 200,  # the browsable API's login
    "accounts.session_urls.LogoutView": 200,  # a GET shows the button; logging out is a POST
    "rest_framework.routers.APIRootView": 401,  # /api/: links only, behind login
    # Public links: anyone with the token; an unknown token is the same 404
    # (notes/tests/test_public_links.py checks what they show, and to whom).
    "notes.sharing.views.shared_note": 404,
    "notes.sharing.views.shared_attachment": 404,
}


def template(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def operations():
    return sorted({(method, template(path)) for path, _, method, _ in EndpointEnumerator().get_api_endpoints()})


def site_views():
    """(route, view class) of every URL pattern of the site outside the admin."""

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace != "admin":
                    yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                callback = pattern.callback
                view = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
                yield prefix + str(pattern.pattern), view

    return list(walk(get_resolver().url_patterns, "/"))


def dotted(view):
    return f"{view.__module__}.{view.__qualname__}"


def test_every_operation_has_a_row():
    missing = [f"{method} {path}" for method, path in operations() if (method, path) not in TABLE]

    assert missing == [], f"Add a row to TABLE in {__file__} for each of: {missing}"


def test_every_view_outside_the_operations_is_a_known_page():
    endpoint_views = {callback.cls for _, _, _, callback in EndpointEnumerator().get_api_endpoints()}
    unknown = [
        f"{route} ({dotted(view)})"
        for route, view in site_views()
        if view not in endpoint_views and dotted(view) not in PAGES
    ]

    assert unknown == [], f"Add these views to PAGES (or make them DRF endpoints) in {__file__}: {unknown}"


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(PAGES))
def test_pages_answer_anonymous_requests_as_listed(page, settings):
    routes = [route for route, view in site_views() if dotted(view) == page]
    assert routes, f"{page} is listed in PAGES but no URL leads to it"
    a_user = UserFactory(username=f"alice{MARKER}")
    client_with_token(a_user).post("/api/notes/", {"title": MARKER}, format="json")

    for route in routes:
        response = APIClient().get(route.replace("^", "").replace("$", ""))

        assert response.status_code == PAGES[page], route
        assert_nothing_of_a_in(response)


def project_app_labels():
    """The apps of this repository, not of the installed packages."""
    return {
        config.label
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(settings.BASE_DIR) and "site-packages" not in Path(config.path).parts
    }


def snapshot(user):
    """Every row of every project model that belongs to `user`, found through foreign keys."""
    User = get_user_model()
    state = {"user": list(User.objects.filter(pk=user.pk).values())}
    labels = project_app_labels()
    for model in apps.get_models():
        if model._meta.app_label not in labels or model is User:
            continue
        path = path_to_user(model)
        if path:
            state[model._meta.label] = list(model.objects.filter(**{path: user}).order_by("pk").values())
    return state


def path_to_user(model, depth=0):
    """A lookup from `model` to its owning user (`owner`, `note__owner`, ...), or None."""
    User = get_user_model()
    for model_field in model._meta.get_fields():
        if model_field.many_to_one and model_field.concrete:
            if model_field.related_model is User:
                return model_field.name
            if depth < 2:
                further = path_to_user(model_field.related_model, depth + 1)
                if further:
                    return f"{model_field.name}__{further}"
    return None


def assert_nothing_of_a_in(response):
    content = getattr(response, "content", b"") if not getattr(response, "streaming", False) else b"".join(response)
    assert MARKER.encode() not in content.lower()
    for name, value in response.headers.items():
        assert MARKER not in f"{name}: {value}".lower()


def send(client, method, path, row, a):
    body = row.body(a) if callable(row.body) else row.body
    kwargs = {"format": "multipart" if row.multipart else "json"} if body is not None else {}
    return getattr(client, method.lower())(path + row.query, body, **kwargs)


def fill(path, params):
    params = iter(params)
    return re.sub(r"\{\}", lambda _: str(next(params)), path)


@pytest.fixture
def alice(db):
    user = UserFactory(username=f"alice{MARKER}")
    return A(user=user, client=client_with_token(user))


@pytest.fixture
def signup_open(settings):
    settings.NOTES_ALLOW_SIGNUP = True


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), operations(), ids=[" ".join(operation) for operation in operations()])
def test_b_and_anonymous_get_nothing_of_a(method, path, alice, other_user, other_client, signup_open):
    row = TABLE.get((method, path))
    if row is None:
        pytest.fail(f"No row in TABLE for {method} {path}: see test_every_operation_has_a_row")
    params = row.setup(alice)
    before = snapshot(alice.user)

    as_b = send(other_client, method, fill(path, params), row, alice)
    anonymous = send(APIClient(), method, fill(path, params), row, alice)

    assert as_b.status_code < 500, as_b.content
    assert_nothing_of_a_in(as_b)
    assert_nothing_of_a_in(anonymous)
    assert snapshot(alice.user) == before
    if row.other == NOT_FOUND:
        missing = send(other_client, method, fill(path, [MISSING] * len(params)), row, alice)
        assert as_b.status_code == 404, as_b.content
        assert as_b.json() == missing.json()
    elif row.other == EMPTY:
        assert as_b.status_code == 200, as_b.content
        lists = [value for value in as_b.json().values() if isinstance(value, list)]
        assert lists
        assert all(value == [] for value in lists)
    if row.check:
        row.check(as_b, alice, other_user)
    if row.other != PUBLIC:
        assert anonymous.status_code == 401, anonymous.content
        assert anonymous["WWW-Authenticate"].startswith("Token")

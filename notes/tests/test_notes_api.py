"""The notes contract of SPEC 3: status codes, headers, versions and conflicts."""

import pytest
from django.test import Client
from django.urls import set_script_prefix
from rest_framework.permissions import BasePermission, IsAuthenticated

from notes.models import Note, NoteTag
from notes.services import note_update
from notes.tests.factories import NoteFactory
from notes.views import NoteViewSet

pytestmark = pytest.mark.django_db

NOTE_FIELDS = {"id", "url", "title", "content", "pinned", "tags", "created_at", "updated_at", "version", "snippet"}


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Groceries", content="milk, eggs", tags=["home"])


def detail(note):
    return f"/api/notes/{note.pk}/"


def test_create_answers_201_with_location_and_etag(auth_client, user):
    response = auth_client.post(
        "/api/notes/", {"title": "Groceries", "content": "milk, eggs", "tags": ["shopping", "home"]}
    )

    assert response.status_code == 201
    body = response.json()
    assert set(body) == NOTE_FIELDS
    note = Note.objects.get(pk=body["id"])
    assert note.owner == user
    assert body["url"] == f"http://testserver/api/notes/{note.pk}/"
    assert response["Location"] == body["url"]
    assert response["ETag"] == '"1"'
    assert body["version"] == 1
    assert body["tags"] == ["home", "shopping"]
    assert body["pinned"] is False
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")


def test_create_defaults_content_pinned_and_tags(auth_client):
    response = auth_client.post("/api/notes/", {"title": "Only a title"})

    assert response.status_code == 201
    assert response.json()["content"] == ""
    assert response.json()["pinned"] is False
    assert response.json()["tags"] == []


def test_get_answers_the_note_with_its_etag(auth_client, note):
    response = auth_client.get(detail(note))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["title"] == "Groceries"
    assert response.json()["tags"] == ["home"]


@pytest.mark.parametrize("if_none_match", ['"1"', 'W/"1"', "*", '"7", "1"'])
def test_get_with_matching_if_none_match_is_304(auth_client, note, if_none_match):
    response = auth_client.get(detail(note), HTTP_IF_NONE_MATCH=if_none_match)

    assert response.status_code == 304
    assert response["ETag"] == '"1"'
    assert response.content == b""


def test_the_browsable_page_is_never_304_as_it_holds_the_sessions_csrf_token(user, note):
    browser = Client(HTTP_ACCEPT="text/html")
    browser.force_login(user)
    cached = browser.get(detail(note))
    browser.logout()
    browser.force_login(user)  # a new session, whose CSRF token the cached page does not hold

    again = browser.get(detail(note), HTTP_IF_NONE_MATCH=cached["ETag"])
    as_json = browser.get(detail(note), HTTP_IF_NONE_MATCH=cached["ETag"], HTTP_ACCEPT="application/json")

    assert (cached["ETag"], again["ETag"]) == ('"1"', '"1"')
    assert again.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in again.content
    assert as_json.status_code == 304  # JSON depends on the note alone


def test_get_with_stale_if_none_match_is_200(auth_client, note):
    response = auth_client.get(detail(note), HTTP_IF_NONE_MATCH='"0"')

    assert response.status_code == 200


def test_missing_note_is_404_json(auth_client, db):
    response = auth_client.get("/api/notes/999999/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize("pk", ["abc", "99999999999999999999999", "-1", "1.5"])
def test_malformed_or_out_of_range_ids_are_404(auth_client, db, pk):
    assert auth_client.get(f"/api/notes/{pk}/").status_code == 404


def test_put_replaces_the_whole_note(auth_client, note):
    response = auth_client.put(detail(note), {"title": "Replaced"})

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["title"], body["content"], body["pinned"], body["tags"]) == ("Replaced", "", False, [])
    note.refresh_from_db()
    assert (note.title, note.content, note.tags, note.version) == ("Replaced", "", [], 2)
    assert not NoteTag.objects.filter(note=note).exists()


def test_put_requires_a_title(auth_client, note):
    response = auth_client.put(detail(note), {"content": "no title"})

    assert response.status_code == 400
    assert response.json() == {"title": ["This field is required."]}
    note.refresh_from_db()
    assert note.version == 1


def test_patch_changes_only_what_it_names(auth_client, note):
    response = auth_client.patch(detail(note), {"pinned": True})

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    note.refresh_from_db()
    assert (note.title, note.content, note.pinned, note.tags, note.version) == (
        "Groceries",
        "milk, eggs",
        True,
        ["home"],
        2,
    )
    assert response.json()["updated_at"] > response.json()["created_at"]


def test_patch_keeps_the_tag_index_in_step(auth_client, note):
    auth_client.patch(detail(note), {"tags": ["work", "Home"]})

    assert sorted(NoteTag.objects.filter(note=note).values_list("name", flat=True)) == ["home", "work"]


def test_put_back_what_get_answered_is_accepted_and_changes_nothing(auth_client, note):
    current = auth_client.get(detail(note)).json()

    response = auth_client.put(detail(note), current)

    assert response.status_code == 200
    assert response.json() == current
    note.refresh_from_db()
    assert note.version == 1


def test_noop_patch_bumps_nothing(auth_client, note):
    before = auth_client.get(detail(note)).json()

    response = auth_client.patch(detail(note), {"title": "  Groceries  ", "tags": ["HOME"]})

    assert response.status_code == 200
    assert response.json() == before
    assert response["ETag"] == '"1"'


def test_each_change_bumps_version_by_one(auth_client, note):
    for expected, title in enumerate(["a", "b", "c"], start=2):
        assert auth_client.patch(detail(note), {"title": title}).json()["version"] == expected


def test_read_only_fields_sent_are_ignored(auth_client, note):
    response = auth_client.patch(
        detail(note),
        {"id": 12345, "version": 99, "created_at": "2000-01-01T00:00:00Z", "url": "http://evil/", "title": "New"},
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["version"], body["title"]) == (note.pk, 2, "New")
    assert body["created_at"] != "2000-01-01T00:00:00.000000Z"


def test_delete_moves_the_note_to_the_trash(auth_client, note):
    response = auth_client.delete(detail(note))

    assert response.status_code == 204
    note.refresh_from_db()
    assert note.deleted_at is not None
    assert note.version == 2
    assert auth_client.get(detail(note)).status_code == 404
    assert auth_client.patch(detail(note), {"title": "x"}).status_code == 404
    assert auth_client.put(detail(note), {"title": "x"}).status_code == 404
    assert auth_client.delete(detail(note)).status_code == 404
    assert auth_client.get("/api/notes/").json()["results"] == []


# Conflicts


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*", '"5", "1"'])
def test_matching_if_match_is_accepted(auth_client, note, if_match):
    response = auth_client.patch(detail(note), {"title": "New"}, HTTP_IF_MATCH=if_match)

    assert response.status_code == 200
    assert response.json()["version"] == 2


@pytest.mark.parametrize(
    ("method", "data"),
    [("put", {"title": "Mine"}), ("patch", {"title": "Mine"}), ("delete", None)],
)
def test_stale_if_match_is_412_with_current_note_and_changes_nothing(auth_client, note, method, data):
    auth_client.patch(detail(note), {"content": "theirs"})

    response = getattr(auth_client, method)(detail(note), data, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    body = response.json()
    assert set(body) == {"detail", "current", "changed_fields"}
    assert body["current"]["version"] == 2
    assert body["current"]["content"] == "theirs"
    assert set(body["current"]) == NOTE_FIELDS
    assert "content" in body["changed_fields"]
    assert response["ETag"] == '"2"'
    note.refresh_from_db()
    assert (note.title, note.content, note.version, note.deleted_at) == ("Groceries", "theirs", 2, None)


@pytest.mark.parametrize("if_match", ['"abc"', "1", '""', '"99999999999999999999999"', '"01"', 'W/"001"'])
def test_if_match_naming_no_version_is_412(auth_client, note, if_match):
    response = auth_client.patch(detail(note), {"title": "x"}, HTTP_IF_MATCH=if_match)

    assert response.status_code == 412


def test_precondition_is_judged_before_the_body(auth_client, note):
    response = auth_client.put(detail(note), {"title": ""}, HTTP_IF_MATCH='"9"')

    assert response.status_code == 412


def test_service_refuses_a_stale_write_even_after_the_view_checked(user):
    """Compare-and-swap: a writer holding an old copy cannot overwrite a newer one."""
    from notes.services import VersionConflict, note_update

    note = NoteFactory(owner=user, title="v1")
    stale_copy = Note.objects.get(pk=note.pk)
    note_update(note=note, title="v2")

    with pytest.raises(VersionConflict) as conflict:
        note_update(note=stale_copy, if_match={1}, title="lost update")

    assert conflict.value.note.version == 2
    assert Note.objects.get(pk=note.pk).title == "v2"


def test_write_without_if_match_applies_on_top_of_a_concurrent_change(user):
    from notes.services import note_update

    note = NoteFactory(owner=user, title="v1", pinned=False)
    stale_copy = Note.objects.get(pk=note.pk)
    note_update(note=note, title="v2")

    updated = note_update(note=stale_copy, pinned=True)

    assert (updated.title, updated.pinned, updated.version) == ("v2", True, 3)
    note.refresh_from_db()
    assert (note.title, note.pinned, note.version) == ("v2", True, 3)


# Routes


@pytest.mark.parametrize("slash", ["", "/"])
def test_every_route_works_with_and_without_trailing_slash(auth_client, user, slash):
    note = NoteFactory(owner=user)
    base = f"/api/notes/{note.pk}{slash}"

    assert auth_client.get(f"/api/notes{slash}").status_code == 200
    assert auth_client.post(f"/api/notes{slash}", {"title": "t"}).status_code == 201
    assert auth_client.get(base).status_code == 200
    assert auth_client.put(base, {"title": "t2"}).status_code == 200
    assert auth_client.patch(base, {"title": "t3"}).status_code == 200
    assert auth_client.delete(base).status_code == 204
    assert auth_client.get(f"/api/auth/me{slash}").status_code == 200


@pytest.mark.parametrize("path", ["/api/does-not-exist/", "//api/notes/", "///api/does-not-exist"])
def test_unknown_api_path_is_json_404(auth_client, path):
    # As gunicorn passes the path on (the test client would read `//api/...` as a host).
    response = auth_client.get("/", PATH_INFO=path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", ["/apis/", "/no-api/", "//x/api/"])
def test_a_path_that_only_looks_like_the_api_is_the_sites_html_404(auth_client, path):
    response = auth_client.get("/", PATH_INFO=path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unsupported_method_is_json_405(auth_client, note):
    response = auth_client.post(detail(note), {"title": "x"})

    assert response.status_code == 405
    assert "detail" in response.json()


def test_anonymous_requests_are_401(api_client, note):
    for method in ["get", "put", "patch", "delete"]:
        assert getattr(api_client, method)(detail(note)).status_code == 401
    assert api_client.get("/api/notes/").status_code == 401
    assert api_client.post("/api/notes/", {"title": "x"}).status_code == 401


# A note in JSON is written by the database (NoteViewSet.get_written_object)


@pytest.mark.parametrize("pinned", [False, True])
def test_a_note_in_json_equals_the_serializers_data(auth_client, user, pinned):
    # The browsable API shows the serializer's data; JSON comes from the database.
    note = NoteFactory(owner=user, title='"ü" <b>\\', content="\x02\x1f\u2028😀\r\n", tags=["é", "b"])
    note = note_update(note=note, pinned=pinned)

    as_json = auth_client.get(detail(note))
    as_data = auth_client.get(detail(note), HTTP_ACCEPT="text/html")

    assert as_json.json() == as_data.data
    assert list(as_json.json()) == list(as_data.data)  # the same order of fields
    assert as_json["ETag"] == as_data["ETag"] == f'"{note.version}"'


@pytest.mark.parametrize("url", ["/api/notes/", "/api/notes/{id}/"])
def test_json_asked_indented_is_indented(auth_client, note, url):
    url = url.format(id=note.pk)

    indented = auth_client.get(url, HTTP_ACCEPT="application/json; indent=2")

    assert indented.status_code == 200
    assert b'"title": "Groceries",\n' in indented.content  # a note's own fields indented too
    assert indented.json() == auth_client.get(url).json()


def test_a_note_in_json_follows_the_script_prefix(auth_client, note):
    set_script_prefix("/notes/")  # as WSGIHandler does from SCRIPT_NAME (the test client does not)
    try:
        below_prefix = auth_client.get(detail(note)).json()
    finally:
        set_script_prefix("/")

    assert below_prefix["url"] == f"http://testserver/notes/api/notes/{note.pk}/"
    assert auth_client.get(detail(note)).json()["url"] == f"http://testserver/api/notes/{note.pk}/"


class RefusePinned(BasePermission):
    """An object permission that reads a column of the note."""

    def has_object_permission(self, request, view, obj):
        return not obj.pinned


def test_a_note_in_json_passes_the_object_permissions(auth_client, user, monkeypatch):
    monkeypatch.setattr(NoteViewSet, "permission_classes", [IsAuthenticated, RefusePinned])
    pinned = NoteFactory(owner=user, pinned=True)
    unpinned = NoteFactory(owner=user, pinned=False)

    for accept in ["application/json", "text/html"]:
        assert auth_client.get(detail(pinned), HTTP_ACCEPT=accept).status_code == 403
        assert auth_client.get(detail(unpinned), HTTP_ACCEPT=accept).status_code == 200


class OwnerOnly(BasePermission):
    """The usual owner check, written against ids."""

    def has_object_permission(self, request, view, obj):
        return obj.owner_id == request.user.pk and obj.pk == int(view.kwargs["pk"])


def test_a_note_in_json_gives_permissions_its_pk_and_owner(auth_client, note, monkeypatch):
    monkeypatch.setattr(NoteViewSet, "permission_classes", [IsAuthenticated, OwnerOnly])

    assert auth_client.get(detail(note)).status_code == 200
    assert auth_client.get(detail(note), HTTP_ACCEPT="text/html").status_code == 200


# Query counts


def test_detail_costs_two_queries(auth_client, note, django_assert_num_queries):
    with django_assert_num_queries(2):  # the token with its user, the note
        auth_client.get(detail(note))


def test_patch_costs_fixed_queries(auth_client, note, django_assert_num_queries):
    # token, note, then in a transaction (a savepoint here) the change feed's
    # position (one upsert, issue 5), the compare-and-swap update and the
    # revision keeping what it replaced; the tag index is touched only when
    # tags change.
    with django_assert_num_queries(7):
        auth_client.patch(detail(note), {"title": "New"})


def test_create_costs_fixed_queries(auth_client, django_assert_num_queries):
    # token, then in a transaction (a savepoint here) the change feed's
    # position (one upsert, issue 5), the note and its tag rows
    with django_assert_num_queries(6):
        auth_client.post("/api/notes/", {"title": "x", "tags": ["a", "b", "c"]})

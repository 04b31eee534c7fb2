"""Every bad input gets a clear 4xx, field-keyed, and nothing is written."""

import json

import pytest

from notes.models import Note
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def create(client, data):
    return client.post("/api/notes/", data, format="json")


def assert_refused(response, field):
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not Note.objects.exists()


def test_title_is_trimmed(auth_client):
    response = create(auth_client, {"title": "  \t Groceries \n "})

    assert response.json()["title"] == "Groceries"


@pytest.mark.parametrize("title", ["", "   ", None, 42, ["a"], {"a": 1}])
def test_title_must_be_a_non_blank_string(auth_client, title):
    assert_refused(create(auth_client, {"title": title}), "title")


def test_title_is_required(auth_client):
    assert_refused(create(auth_client, {"content": "x"}), "title")


def test_title_of_200_characters_is_accepted_201_is_not(auth_client):
    assert create(auth_client, {"title": "é" * 200}).status_code == 201
    Note.objects.all().delete()

    assert_refused(create(auth_client, {"title": "é" * 201}), "title")


def test_title_length_counts_after_trimming(auth_client):
    assert create(auth_client, {"title": "  " + "a" * 200 + "  "}).status_code == 201


def test_content_up_to_the_limit_is_kept_verbatim(auth_client, settings):
    content = "  leading and trailing space kept  \n" + "x" * (settings.NOTES_MAX_CONTENT_CHARS - 36)

    response = create(auth_client, {"title": "t", "content": content})

    assert response.status_code == 201
    assert Note.objects.get().content == content


def test_content_over_the_limit_is_refused(auth_client, settings):
    assert_refused(
        create(auth_client, {"title": "t", "content": "x" * (settings.NOTES_MAX_CONTENT_CHARS + 1)}), "content"
    )


@pytest.mark.parametrize("pinned", ["maybe", None, [], 2])
def test_pinned_must_be_a_boolean(auth_client, pinned):
    assert_refused(create(auth_client, {"title": "t", "pinned": pinned}), "pinned")


@pytest.mark.parametrize("pinned", ["true", "yes", 1, 0])
def test_pinned_in_json_is_true_or_false_not_a_lookalike(auth_client, pinned):
    # Regression (issue 8): the schema says boolean, and DRF took "yes" and 1.
    assert_refused(create(auth_client, {"title": "t", "pinned": pinned}), "pinned")


def test_tags_are_trimmed_lowercased_deduplicated_and_sorted(auth_client):
    response = create(auth_client, {"title": "t", "tags": [" Work ", "home", "HOME", "work", "Ünïcode", "a/b-c_d"]})

    assert response.status_code == 201
    assert response.json()["tags"] == ["a/b-c_d", "home", "work", "ünïcode"]


def test_tags_count_twenty_after_normalising(auth_client):
    tags = [f"t{i}" for i in range(20)] + ["T0", " t1 "]

    response = create(auth_client, {"title": "t", "tags": tags})

    assert response.status_code == 201
    assert len(response.json()["tags"]) == 20


def test_twenty_one_distinct_tags_are_refused(auth_client):
    assert_refused(create(auth_client, {"title": "t", "tags": [f"t{i}" for i in range(21)]}), "tags")


def test_combining_accents_are_composed_before_checking(auth_client):
    response = create(auth_client, {"title": "t", "tags": ["cafe\u0301", "हिंदी"]})

    assert response.status_code == 201
    assert response.json()["tags"] == ["café", "हिंदी"]


@pytest.mark.parametrize(
    "tags",
    [
        "home",
        {"home": 1},
        [1],
        [None],
        [["nested"]],
        [""],
        ["   "],
        ["a" * 51],
        ["has space"],
        ["semi;colon"],
        ["<script>"],
        ["emoji😀"],
        ["nul\x00"],
        ["dot.dot"],
    ],
)
def test_invalid_tags_are_refused(auth_client, tags):
    assert_refused(create(auth_client, {"title": "t", "tags": tags}), "tags")


def test_tag_of_50_characters_is_accepted(auth_client):
    assert create(auth_client, {"title": "t", "tags": ["a" * 50]}).status_code == 201


@pytest.mark.parametrize("field", ["title", "content"])
def test_nul_character_is_refused_in_every_text_field(auth_client, field):
    data = {"title": "t", field: "before\x00after"}

    assert_refused(create(auth_client, data), field)


@pytest.mark.parametrize("field", ["title", "content"])
def test_unpaired_surrogate_is_refused(auth_client, field):
    body = '{"title": "t", "FIELD": "bad \\ud800 text"}'.replace("FIELD", field)

    response = auth_client.post("/api/notes/", body, content_type="application/json")

    assert response.status_code == 400
    assert not Note.objects.exists()


def test_paired_surrogates_are_an_ordinary_character(auth_client):
    response = auth_client.post("/api/notes/", '{"title": "\\ud83d\\ude00"}', content_type="application/json")

    assert response.status_code == 201
    assert response.json()["title"] == "😀"


def test_unknown_fields_are_refused_by_name(auth_client):
    response = create(auth_client, {"title": "t", "pined": True, "colour": "red"})

    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."], "pined": ["Unknown field."]}


def test_unknown_fields_are_refused_on_patch_too(auth_client, user):
    note = NoteFactory(owner=user)

    response = auth_client.patch(f"/api/notes/{note.pk}/", {"pined": True}, format="json")

    assert response.status_code == 400
    assert response.json() == {"pined": ["Unknown field."]}


def test_unknown_fields_are_answered_with_the_other_fields_errors(auth_client):
    # The README's walk-through example: the unknown field hid the other two mistakes.
    response = create(auth_client, {"title": "  ", "tags": ["not a tag!"], "pined": True})

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"title", "tags", "pined"}
    assert body["title"] == ["This field may not be blank."]
    assert body["pined"] == ["Unknown field."]
    assert not Note.objects.exists()


def test_unknown_fields_are_answered_with_the_other_fields_errors_on_patch(auth_client, user):
    note = NoteFactory(owner=user, title="kept")

    response = auth_client.patch(f"/api/notes/{note.pk}/", {"title": "", "pined": True}, format="json")

    assert response.status_code == 400
    assert response.json() == {"title": ["This field may not be blank."], "pined": ["Unknown field."]}
    note.refresh_from_db()
    assert note.title == "kept"


@pytest.mark.parametrize(
    ("path", "data", "format_", "invalid"),
    [
        ("/api/tags/rename/", {"from": "", "to": "b", "x": 1}, "json", "from"),
        ("/api/notes/{note}/share/", {"expires_at": "tomorrow", "x": 1}, "json", "expires_at"),
        ("/api/notes/{note}/attachments/", {"file": "just text", "x": "1"}, "multipart", "file"),
        ("/api/import/", {"file": "just text", "x": "1"}, "multipart", "file"),
    ],
)
def test_every_strict_serializer_answers_unknown_and_invalid_fields_together(
    auth_client, user, path, data, format_, invalid
):
    note = NoteFactory(owner=user)

    response = auth_client.post(path.format(note=note.pk), data, format=format_)

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {invalid, "x"}, body
    assert body["x"] == ["Unknown field."]


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null", "true"])
def test_body_that_is_not_an_object_is_400(auth_client, body):
    response = auth_client.post("/api/notes/", body, content_type="application/json")

    assert response.status_code == 400
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    "body",
    ['{"title": "x"', "{title: 'x'}", '{"title": NaN}', "\xff\xfe", '{"title": "x"} trailing', "[" * 5000],
)
def test_malformed_json_is_400_saying_so(auth_client, body):
    response = auth_client.post("/api/notes/", body.encode("latin-1"), content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_empty_body_is_a_missing_title(auth_client):
    response = auth_client.post("/api/notes/", b"", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"title": ["This field is required."]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "image/png"])
def test_wrong_content_type_is_415(auth_client, content_type):
    response = auth_client.post("/api/notes/", b'{"title": "x"}', content_type=content_type)

    assert response.status_code == 415
    assert "Unsupported media type" in response.json()["detail"]


def test_body_over_the_limit_is_413(auth_client, settings):
    body = json.dumps({"title": "t", "content": "x" * settings.NOTES_MAX_BODY_BYTES})

    response = auth_client.post("/api/notes/", body, content_type="application/json")

    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not Note.objects.exists()


def test_form_body_over_the_limit_is_413(auth_client, settings):
    body = "title=t&content=" + "x" * settings.NOTES_MAX_BODY_BYTES

    response = auth_client.post("/api/notes/", body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413


def test_html_form_posts_create_notes(auth_client):
    """The browsable API's form sends form-encoded fields, CSRF token included."""
    response = auth_client.post(
        "/api/notes/",
        "title=From+a+form&content=body&pinned=true&csrfmiddlewaretoken=abc",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 201
    assert (response.json()["title"], response.json()["pinned"]) == ("From a form", True)

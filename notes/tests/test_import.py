"""Import (SPEC 3, "Nothing lost"): validate everything, then all or nothing."""

import io
import json
import stat
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notes.models import Note, NoteTag
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

URL = "/api/import/"


def post_raw(client, body, content_type, **extra):
    return client.post(URL, data=body, content_type=content_type, **extra)


def post_file(client, name, body, content_type="application/octet-stream", url=URL):
    return client.post(url, {"file": SimpleUploadedFile(name, body, content_type)}, format="multipart")


def make_zip(files, *, compression=zipfile.ZIP_DEFLATED):
    """A zip of {name: bytes or (ZipInfo, bytes)}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in files.items():
            if isinstance(data, tuple):
                archive.writestr(*data)
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


def exported_zip(client):
    return b"".join(client.get("/api/export/", {"format": "markdown"}).streaming_content)


def rezip(archive_bytes, *, drop=(), replace=None, add=None):
    """The archive with members dropped, replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(archive_bytes))
    files = {name: source.read(name) for name in source.namelist() if name not in drop}
    files.update(replace or {})
    files.update(add or {})
    return make_zip(files)


def notes_of(user):
    return list(Note.objects.filter(owner=user).order_by("pk").values_list("title", "content", "pinned", "tags"))


def document(*notes, **overrides):
    return {"format": "notes-export", "version": 1, "notes": list(notes), "count": len(notes), **overrides}


# Accepted


def test_json_import_creates_every_note_and_answers_201(auth_client, user):
    body = document(
        {"title": "One", "content": "first", "pinned": True, "tags": ["Home", "work"]},
        {"title": "Two"},
    )

    response = post_raw(auth_client, json.dumps(body), "application/json")

    assert response.status_code == 201
    report = response.json()
    assert report["imported"] == 2
    assert report["rejected"] == []
    assert report["ids"] == list(Note.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
    assert notes_of(user) == [("One", "first", True, ["home", "work"]), ("Two", "", False, [])]
    assert sorted(NoteTag.objects.filter(owner=user).values_list("name", flat=True)) == ["home", "work"]
    assert set(Note.objects.values_list("version", flat=True)) == {1}


def test_import_keeps_the_timestamps_it_is_given(auth_client, user):
    note = {"title": "Old", "created_at": "2020-01-02T03:04:05.000006Z", "updated_at": "2021-01-01T00:00:00Z"}

    post_raw(auth_client, json.dumps(document(note)), "application/json")

    imported = Note.objects.get(owner=user)
    assert imported.created_at.isoformat() == "2020-01-02T03:04:05.000006+00:00"
    assert imported.updated_at.isoformat() == "2021-01-01T00:00:00+00:00"


def test_a_time_in_the_future_is_taken_as_now(auth_client, user):
    post_raw(auth_client, json.dumps([{"title": "x", "updated_at": "2999-01-01T00:00:00Z"}]), "application/json")

    imported = Note.objects.get(owner=user)
    assert imported.updated_at.year < 2999
    assert imported.created_at == imported.updated_at


def test_a_bare_list_of_notes_is_accepted(auth_client, user):
    response = post_raw(auth_client, json.dumps([{"title": "a"}, {"title": "b"}]), "application/json")

    assert response.status_code == 201
    assert [title for title, *_ in notes_of(user)] == ["a", "b"]


def test_json_body_may_exceed_the_json_body_limit(auth_client, user, settings):
    settings.NOTES_MAX_BODY_BYTES = 1000
    body = json.dumps([{"title": "big", "content": "x" * 5000}])

    response = post_raw(auth_client, body, "application/json")

    assert response.status_code == 201


def test_two_files_in_one_import_are_400_and_import_nothing(auth_client, user):
    files = [SimpleUploadedFile(f"{name}.md", f"# {name}".encode()) for name in ("first", "second")]

    response = auth_client.post(URL, {"file": files}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["Send one file per request; this one had 2."]}
    assert notes_of(user) == []


def test_the_file_may_come_as_multipart(auth_client, user):
    response = post_file(auth_client, "notes.json", json.dumps([{"title": "a"}]).encode(), "application/json")

    assert response.status_code == 201
    assert notes_of(user) == [("a", "", False, [])]


def test_the_export_zip_imports_back(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="Groceries", content="milk\r\n", pinned=True, tags=["home"])

    response = post_raw(other_client, exported_zip(auth_client), "application/zip")

    assert response.status_code == 201
    assert notes_of(other_user) == [("Groceries", "milk\r\n", True, ["home"])]


def test_the_export_zip_unpacked_and_zipped_again_in_a_folder_imports(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="Groceries")
    original = zipfile.ZipFile(io.BytesIO(exported_zip(auth_client)))
    files = {f"notes-export/{name}": original.read(name) for name in original.namelist()}
    files["__MACOSX/notes-export/._Groceries.md"] = b"\x00\x05"
    files["notes-export/.DS_Store"] = b"\x00"

    response = post_raw(other_client, make_zip(files), "application/zip")

    assert response.status_code == 201, response.json()
    assert notes_of(other_user) == [("Groceries", user.notes.get().content, False, [])]


def test_one_markdown_file_is_one_note(auth_client, user):
    body = b"---\ntitle: Plan\ntags: [work]\npinned: true\n---\n# Heading\nbody"

    response = post_raw(auth_client, body, "text/markdown")

    assert response.status_code == 201
    assert notes_of(user) == [("Plan", "# Heading\nbody", True, ["work"])]


class NamedInBytes(zipfile.ZipInfo):
    """A member named by these bytes, no flag saying their encoding: as Linux's `zip` and DOS tools write names."""

    def __init__(self, raw):
        super().__init__(raw.decode("latin-1"))
        self.raw = raw

    def _encodeFilenameFlags(self):
        return self.raw, self.flag_bits & ~0x800


def zipped_as_linux_zip_does(files):
    return make_zip({name: (NamedInBytes(name.encode()), data) for name, data in files.items()})


def test_names_a_zip_tool_wrote_in_utf8_without_saying_so_are_read_as_utf8(auth_client, user):
    archive = zipped_as_linux_zip_does(
        {"Réunions/Été/Café.md": "# Café notes\nbody".encode(), "Réunions/Naïve.md": b"no heading"}
    )

    response = post_raw(auth_client, archive, "application/zip")

    assert response.status_code == 201, response.json()
    assert sorted((title, tags) for title, _, _, tags in notes_of(user)) == [
        ("Café notes", ["réunions/été"]),
        ("Naïve", ["réunions"]),
    ]


def test_an_export_zipped_again_by_linux_zip_imports(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="Été à Zürich", content="du lac")
    original = zipfile.ZipFile(io.BytesIO(exported_zip(auth_client)))

    archive = zipped_as_linux_zip_does({name: original.read(name) for name in original.namelist()})
    response = post_raw(other_client, archive, "application/zip")

    assert response.status_code == 201, response.json()
    assert notes_of(other_user) == [("Été à Zürich", "du lac", False, [])]


def test_a_name_in_cp437_that_is_not_utf8_stays_cp437(auth_client, user):
    archive = make_zip({"Ça.md": (NamedInBytes("Ça.md".encode("cp437")), b"no heading")})

    response = post_raw(auth_client, archive, "application/zip")

    assert response.status_code == 201, response.json()
    assert [title for title, *_ in notes_of(user)] == ["Ça"]


@pytest.mark.parametrize(
    ("written", "title"),
    [
        ("1.10", "1.10"),
        ("012", "012"),
        ("0x1F", "0x1F"),
        ("1:20", "1:20"),
        ("1_000", "1_000"),
        (".NaN", ".NaN"),
        ("2024-01-01", "2024-01-01"),
        ("yes", "yes"),
        ("2024", "2024"),
        ("'1.10'", "1.10"),
        ("Plain words", "Plain words"),
    ],
)
def test_a_title_in_front_matter_is_kept_as_written(auth_client, user, written, title):
    response = post_raw(auth_client, f"---\ntitle: {written}\n---\nbody".encode(), "text/markdown")

    assert response.status_code == 201, response.json()
    assert [title for title, *_ in notes_of(user)] == [title]


@pytest.mark.parametrize("front_matter", ["---\n---\n", "---\n~\n---\n", "---\n!!null title: 1.10\n---\n"])
def test_front_matter_without_a_title_key_is_no_title(auth_client, user, front_matter):
    # These raised once the title was read from the YAML's nodes: a 500.
    response = post_file(auth_client, "Named by its file.md", f"{front_matter}body".encode())

    assert response.status_code == 201, response.content
    assert [title for title, *_ in notes_of(user)] == ["Named by its file"]


def test_an_empty_title_in_front_matter_is_no_title(auth_client, user):
    post_file(auth_client, "Named by its file.md", b"---\ntitle:\n---\nbody")

    assert [title for title, *_ in notes_of(user)] == ["Named by its file"]


def test_a_markdown_file_without_front_matter_takes_its_first_heading(auth_client, user):
    body = b"Intro line\n\n```\n# not a heading\n```\n## Shopping list ##\n- milk"

    post_file(auth_client, "whatever.md", body)

    assert notes_of(user) == [("Shopping list", body.decode(), False, [])]


def test_a_markdown_file_without_heading_takes_its_file_name(auth_client, user):
    post_raw(auth_client, b"just text", "text/markdown", HTTP_CONTENT_DISPOSITION='attachment; filename="My idea.md"')
    post_raw(auth_client, b"more text", "text/markdown")

    assert [title for title, *_ in notes_of(user)] == ["My idea", "Untitled"]


def test_a_plain_folder_of_markdown_from_another_tool(auth_client, user):
    archive = make_zip(
        {
            "Work/Side projects/plan.md": b"# The plan\nstep one",
            "Work/todo.markdown": b"no heading here",
            "Recipes/soup.md": b'---\ntags: [soup, "#Dinner"]\ncreated: 2019-05-01\n---\nhot',
            "top.txt": b"plain text",
            "Work/image.png": b"\x89PNG",
            ".obsidian/app.json": b"{}",
            ".trash/old.md": b"deleted in the other tool",
        }
    )

    response = post_raw(auth_client, archive, "application/zip")

    assert response.status_code == 201, response.json()
    notes = {title: (content, tags) for title, content, _, tags in notes_of(user)}
    assert notes == {
        "The plan": ("# The plan\nstep one", ["work/side-projects"]),
        "todo": ("no heading here", ["work"]),
        "soup": ("hot", ["dinner", "recipes", "soup"]),
        "top": ("plain text", []),
    }
    assert Note.objects.get(title="soup").created_at.isoformat() == "2019-05-01T00:00:00+00:00"


def test_dry_run_reports_and_writes_nothing(auth_client, user):
    response = post_raw(
        auth_client, json.dumps([{"title": "a"}, {"title": "b"}]), "application/json", QUERY_STRING="dry_run=true"
    )

    assert response.status_code == 200
    assert response.json() == {"imported": 2, "ids": [], "rejected": []}
    assert not Note.objects.exists()


def test_dry_run_reports_rejections_and_writes_nothing(auth_client, user):
    response = auth_client.post(f"{URL}?dry_run=true", [{"title": ""}], format="json")

    assert response.status_code == 200
    assert response.json() == {
        "imported": 0,
        "rejected": [{"entry": "notes[0]", "errors": {"title": ["This field may not be blank."]}}],
    }
    assert not Note.objects.exists()


def test_importing_costs_a_few_statements_not_one_per_note(auth_client, django_assert_max_num_queries):
    many = json.dumps([{"title": f"n{i}", "tags": ["a", "b"]} for i in range(100)])

    # the token with its user; a savepoint; the feed positions of all the
    # notes (one upsert, issue 5); multi-row INSERTs of notes and of tag rows
    # (notes.bulk keeps each statement under 4 KiB); the release
    with django_assert_max_num_queries(13):
        response = post_raw(auth_client, many, "application/json")

    assert response.json()["imported"] == 100


# Rejected: nothing imported, every problem named


def assert_rejected(response, entries, *, message=None, owner=None):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["imported"] == 0
    assert set(body) == {"imported", "rejected"}
    assert [rejected["entry"] for rejected in body["rejected"]] == entries
    if message:
        assert any(message in " ".join(map(str, r["errors"].values())) for r in body["rejected"]), body
    assert not (Note.objects.filter(owner=owner) if owner else Note.objects).exists()


def test_one_invalid_note_rejects_the_whole_import(auth_client):
    body = document(
        {"title": "fine"},
        {"title": "", "tags": ["no spaces allowed"]},
        {"title": "x" * 201, "content": "nul \x00 here"},
        {"title": "fine", "pined": True},
        "not an object",
    )

    response = post_raw(auth_client, json.dumps(body), "application/json")

    assert_rejected(response, ["notes[1]", "notes[2]", "notes[3]", "notes[4]"])
    errors = [rejected["errors"] for rejected in response.json()["rejected"]]
    assert set(errors[0]) == {"title", "tags"}
    assert set(errors[1]) == {"title", "content"}
    assert errors[2] == {"pined": ["Unknown field."]}


def test_a_rejected_entry_names_its_unknown_fields_beside_its_invalid_ones(auth_client):
    body = document({"title": "", "tags": ["no spaces allowed"], "pined": True})

    response = post_raw(auth_client, json.dumps(body), "application/json")

    assert_rejected(response, ["notes[0]"])
    errors = response.json()["rejected"][0]["errors"]
    assert set(errors) == {"title", "tags", "pined"}
    assert errors["pined"] == ["Unknown field."]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'"a string"', "Expected the JSON export"),
        (json.dumps({"notes": "x"}).encode(), '"notes" must be a list'),
        (json.dumps(document({"title": "a"}, count=2)).encode(), "truncated or modified"),
        (json.dumps(document(format="other")).encode(), '"format" must be'),
        (json.dumps(document(version=2)).encode(), '"version"'),
        (b'[{"title": "\\ud800"}]', "not valid JSON"),
    ],
)
def test_a_malformed_json_file_is_rejected(auth_client, body, message):
    response = post_raw(auth_client, body, "application/json")

    assert_rejected(response, ["notes.json"], message=message)


def test_a_modified_export_is_rejected_naming_the_file(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="Kept")
    NoteFactory(owner=user, title="Edited")
    archive = exported_zip(auth_client)
    edited = zipfile.ZipFile(io.BytesIO(archive)).read("Edited.md") + b" tampered"

    response = post_raw(other_client, rezip(archive, replace={"Edited.md": edited}), "application/zip")

    assert_rejected(response, ["Edited.md"], message="SHA-256 does not match", owner=other_user)


def test_an_export_missing_a_file_is_rejected_naming_it(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="One")
    NoteFactory(owner=user, title="Two")

    response = post_raw(other_client, rezip(exported_zip(auth_client), drop={"Two.md"}), "application/zip")

    assert_rejected(response, ["Two.md"], message="Missing from the archive", owner=other_user)


def test_an_export_with_an_added_file_is_rejected_naming_it(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="One")

    response = post_raw(other_client, rezip(exported_zip(auth_client), add={"extra.md": b"x"}), "application/zip")

    assert_rejected(response, ["extra.md"], message="Not in the manifest", owner=other_user)


def test_a_manifest_with_a_wrong_count_is_rejected(auth_client, user, other_client, other_user):
    NoteFactory(owner=user, title="One")
    archive = exported_zip(auth_client)
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("manifest.json"))
    manifest["count"] = 5

    response = post_raw(
        other_client, rezip(archive, replace={"manifest.json": json.dumps(manifest)}), "application/zip"
    )

    assert_rejected(response, ["manifest.json"], message="count", owner=other_user)


def test_a_truncated_zip_is_rejected(auth_client, user, other_client, other_user):
    NoteFactory.create_batch(3, owner=user)
    archive = exported_zip(auth_client)

    response = post_raw(other_client, archive[: len(archive) // 2], "application/zip")

    assert_rejected(response, ["notes.zip"], message="not a readable zip", owner=other_user)


def symlink(name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return (info, target)


@pytest.mark.parametrize(
    ("member", "data", "message"),
    [
        ("/etc/evil.md", b"x", "absolute path"),
        ("C:/evil.md", b"x", "absolute path"),
        ("../evil.md", b"x", "'..'"),
        ("notes/../../evil.md", b"x", "'..'"),
        ("notes\\..\\evil.md", b"x", "'..'"),
        ("link.md", symlink("link.md", b"/etc/passwd"), "symbolic link"),
        ("bomb.md", b"a" * 5_000_000, "zip bomb"),
    ],
)
def test_a_hostile_zip_is_rejected_before_anything_is_read(auth_client, member, data, message):
    archive = make_zip({"fine.md": b"# fine", member: data})

    response = post_raw(auth_client, archive, "application/zip")

    assert_rejected(response, [member], message=message)


@pytest.mark.parametrize("name", ["\0.md", "a\0.md", "notes/\0"])
def test_a_member_named_with_a_nul_is_rejected(auth_client, name):
    # zipfile writes no NUL in a name (nor reads one back whole): placed in the bytes.
    stand_in = "X" * len(name)
    archive = make_zip({"fine.md": b"# fine", stand_in: b"x"}).replace(stand_in.encode(), name.encode())

    response = post_raw(auth_client, archive, "application/zip")

    assert_rejected(response, [name.replace("\0", "\\0")], message="NUL character")


def test_a_member_larger_than_any_note_is_rejected(auth_client, settings):
    settings.NOTES_MAX_CONTENT_CHARS = 1000
    archive = make_zip({"big.md": bytes(range(256)) * 2000}, compression=zipfile.ZIP_STORED)

    assert_rejected(post_raw(auth_client, archive, "application/zip"), ["big.md"], message="Too large for a note")


def test_a_note_that_compresses_very_well_is_not_a_bomb(auth_client, user):
    archive = make_zip({"dots.md": b"." * 100_000})

    response = post_raw(auth_client, archive, "application/zip")

    assert response.status_code == 201
    assert user.notes.get().content == "." * 100_000


def test_an_encrypted_member_is_rejected(auth_client):
    archive = bytearray(make_zip({"secret.md": b"x"}))
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 8] |= 0x1  # the "encrypted" bit of the general purpose flags

    assert_rejected(post_raw(auth_client, bytes(archive), "application/zip"), ["secret.md"], message="encrypted")


def test_a_member_lying_about_its_size_is_rejected(auth_client):
    archive = bytearray(make_zip({"liar.md": b"a" * 1000}, compression=zipfile.ZIP_STORED))
    # Shrink the declared size in the central directory (the last occurrence).
    central = archive.rfind(b"PK\x01\x02")
    archive[central + 24 : central + 28] = (10).to_bytes(4, "little")

    response = post_raw(auth_client, bytes(archive), "application/zip")

    assert_rejected(response, ["liar.md"], message="damaged")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe not utf-8", "Not UTF-8"),
        (b"---\ntitle: [unclosed\n---\nbody", "not valid YAML"),
        (b"---\n- a list\n---\nbody", "must be a mapping"),
        (b"---\ntitle: {a: 1}\n---\nbody", "Not a valid string"),
        (b"---\ntitle: ok\npinned: maybe\n---\n", "valid boolean"),
        (b"---\ntitle: ok\ncreated_at: someday\n---\n", "Datetime has wrong format"),
        (b"---\ntitle: !!python/object/apply:os.system [echo]\n---\n", "not valid YAML"),
        (b"---\nx: &x [a, a]\ny: &y [*x, *x]\ntitle: *y\n---\n", "aliases"),
        # Scalars of a form YAML's constructors know, holding no value they can build.
        (b"---\ntitle: ok\ncreated_at: 2024-02-30\n---\n", "a value YAML cannot read"),
        (b"---\ntitle: ok\nother: 2024-13-01\n---\n", "a value YAML cannot read"),
        (b"---\ntitle: !!int garbage\n---\n", "a value YAML cannot read"),
        (b"---\ntitle: !!float garbage\n---\n", "a value YAML cannot read"),
        (b"---\ntitle: !!bool garbage\n---\n", "a value YAML cannot read"),
        (b"---\ntitle: !!timestamp garbage\n---\n", "a value YAML cannot read"),
    ],
)
def test_a_bad_markdown_file_is_rejected(auth_client, body, message):
    response = post_file(auth_client, "note.md", body)

    assert_rejected(response, ["note.md"], message=message)


def test_too_many_entries_are_rejected(auth_client, settings):
    settings.NOTES_IMPORT_MAX_ENTRIES = 3

    json_response = post_raw(auth_client, json.dumps([{"title": "a"}] * 4), "application/json")
    zip_response = post_raw(auth_client, make_zip({f"{n}.md": b"x" for n in range(4)}), "application/zip")

    assert_rejected(json_response, ["notes.json"], message="import_notes")
    assert_rejected(zip_response, ["notes.zip"], message="More than 3 entries")


def test_an_archive_unpacking_past_the_limit_is_rejected(auth_client, settings):
    settings.NOTES_IMPORT_MAX_BYTES = 10_000
    archive = make_zip({f"{n}.md": bytes(range(256)) * 20 for n in range(3)})

    response = post_raw(auth_client, archive, "application/zip")

    assert_rejected(response, ["notes.zip"], message="unpacks to more than")


def test_a_body_over_the_import_limit_is_413(auth_client, settings):
    settings.NOTES_IMPORT_MAX_BYTES = 1000

    raw = post_raw(auth_client, b"x" * 1001, "text/markdown")
    multipart = post_file(auth_client, "big.md", b"x" * 70_000)

    assert raw.status_code == 413
    assert multipart.status_code == 413
    assert "1000 bytes" in raw.json()["detail"]
    assert not Note.objects.exists()


def test_a_missing_or_empty_file_is_400_naming_it(auth_client):
    missing = auth_client.post(URL, {}, format="multipart")
    empty = post_raw(auth_client, b"", "application/zip")

    assert missing.status_code == 400
    assert missing.json() == {"file": ["No file was submitted."]}
    assert empty.status_code == 400
    assert list(empty.json()) == ["file"]


def test_an_unknown_multipart_field_is_400(auth_client):
    response = auth_client.post(URL, {"file": SimpleUploadedFile("a.md", b"x"), "owner": "1"}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"owner": ["Unknown field."]}


def test_an_unsupported_content_type_is_415(auth_client):
    assert post_raw(auth_client, b"x", "text/plain").status_code == 415


def test_a_bad_dry_run_value_is_400_naming_it(auth_client):
    response = auth_client.post(f"{URL}?dry_run=maybe", [{"title": "a"}], format="json")

    assert response.status_code == 400
    assert response.json() == {"dry_run": ["Must be true or false."]}


def test_import_needs_a_login(api_client):
    assert post_raw(api_client, b"[]", "application/json").status_code == 401

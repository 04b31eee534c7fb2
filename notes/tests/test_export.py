"""Export (SPEC 3, "Nothing lost"): all the user's notes as JSON or a Markdown zip."""

import hashlib
import io
import json
import zipfile

import pytest
import yaml

from notes.services import note_trash
from notes.tests.factories import NoteFactory
from notes.transfer import exporting, markdown

pytestmark = pytest.mark.django_db


def download(response):
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def export_json(client, **params):
    return json.loads(download(client.get("/api/export/", {"format": "json", **params})))


def export_zip(client):
    return zipfile.ZipFile(io.BytesIO(download(client.get("/api/export/", {"format": "markdown"}))))


def test_json_export_holds_every_live_note_of_the_user(auth_client, user, other_user):
    note = NoteFactory(owner=user, title="Groceries", content="milk\n", pinned=True, tags=["home", "shop"])
    note_trash(note=NoteFactory(owner=user, title="Trashed"))
    NoteFactory(owner=other_user, title="Not mine")

    document = export_json(auth_client)

    assert document["format"] == "notes-export"
    assert document["version"] == 1
    assert document["count"] == 1
    assert document["notes"] == [
        {
            "title": "Groceries",
            "content": "milk\n",
            "pinned": True,
            "tags": ["home", "shop"],
            "created_at": markdown.timestamp(note.created_at),
            "updated_at": markdown.timestamp(note.updated_at),
        }
    ]


def test_json_is_the_default_format_and_a_download(auth_client, user):
    NoteFactory(owner=user)

    response = auth_client.get("/api/export/")

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="notes-')
    assert json.loads(download(response))["count"] == 1


def test_json_export_of_no_notes_is_an_empty_document(auth_client):
    assert export_json(auth_client)["notes"] == []


def test_markdown_export_is_a_zip_of_front_matter_files_and_a_manifest(auth_client, user):
    note = NoteFactory(owner=user, title="Groceries", content="- milk\n- eggs", tags=["home"])

    archive = export_zip(auth_client)

    assert sorted(archive.namelist()) == ["Groceries.md", "manifest.json"]
    text = archive.read("Groceries.md").decode()
    front_matter, body = markdown.parse(text)
    assert body == "- milk\n- eggs"
    assert front_matter["title"] == "Groceries"
    assert front_matter["pinned"] is False
    assert front_matter["tags"] == ["home"]
    assert markdown.timestamp(front_matter["created_at"]) == markdown.timestamp(note.created_at)
    assert text.startswith('---\ntitle: "Groceries"\npinned: false\ntags: ["home"]\ncreated_at: ')


def test_manifest_has_the_count_and_a_sha256_per_file(auth_client, user):
    NoteFactory.create_batch(3, owner=user)

    archive = export_zip(auth_client)
    manifest = json.loads(archive.read("manifest.json"))

    assert manifest["format"] == "notes-export"
    assert manifest["count"] == 3
    assert set(manifest["files"]) == set(archive.namelist()) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest


def test_file_names_are_unique_even_ignoring_case(auth_client, user):
    for title in ["Notes", "notes", "Notes", "Notes (2)"]:
        NoteFactory(owner=user, title=title)

    names = export_zip(auth_client).namelist()

    assert names[:4] == ["Notes.md", "notes (2).md", "Notes (3).md", "Notes (2) (2).md"]
    assert len({name.casefold() for name in names}) == len(names)


@pytest.mark.parametrize(
    ("title", "stem"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ('a/b\\c:d*e?f"g<h>i|j', "a-b-c-d-e-f-g-h-i-j"),
        ("line one\nline two\ttab", "line one line two tab"),
        (".hidden", "hidden"),
        ("trailing dot.", "trailing dot"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("right\u202eto left", "right-to left"),
        ("...", "Untitled"),
        ("日本語のメモ", "日本語のメモ"),
    ],
)
def test_file_names_are_safe_everywhere(title, stem):
    assert markdown.file_stem(title) == stem


def test_long_titles_make_names_under_the_file_system_limit():
    stem = markdown.file_stem("é" * 200)

    assert len(stem.encode()) <= markdown.MAX_STEM_BYTES
    assert stem == "é" * (markdown.MAX_STEM_BYTES // 2)


def test_titles_and_tags_that_look_like_yaml_stay_strings(user):
    note = NoteFactory(owner=user, title='---\nyes: "no" # [x]', tags=["true", "null", "1.5"])

    front_matter, body = markdown.parse(markdown.render(note))

    assert front_matter["title"] == note.title
    assert front_matter["tags"] == ["true", "null", "1.5"]
    assert body == note.content


def test_front_matter_is_yaml_any_tool_reads(user):
    note = NoteFactory(owner=user, title="Zürich 😀 \x85 \u2028 \x7f", tags=["ü"])

    text = markdown.render(note)
    block = text.split("---\n")[1]

    assert yaml.safe_load(block)["title"] == note.title  # the pure-Python loader too


def test_export_never_names_a_file_outside_the_archive(auth_client, user):
    NoteFactory(owner=user, title="../../evil")
    NoteFactory(owner=user, title="/etc/passwd")

    names = export_zip(auth_client).namelist()

    assert all("/" not in name and not name.startswith(".") for name in names)


def test_export_reads_notes_in_batches_by_id(user):
    notes = NoteFactory.create_batch(7, owner=user)

    exported = list(exporting.notes_by_id(user.notes.alive(), batch_size=3))

    assert [note.pk for note in exported] == sorted(note.pk for note in notes)


def test_the_export_is_streamed_reading_notes_as_it_goes(auth_client, user):
    NoteFactory(owner=user, title="before")
    response = auth_client.get("/api/export/", {"format": "json"})
    chunks = iter(response.streaming_content)

    first = next(chunks)  # the document's header, sent before any note is read
    NoteFactory(owner=user, title="while streaming")
    document = json.loads(first + b"".join(chunks))

    assert response.streaming
    assert [note["title"] for note in document["notes"]] == ["before", "while streaming"]


def test_an_unknown_format_is_400_naming_it(auth_client):
    response = auth_client.get("/api/export/", {"format": "pdf"})

    assert response.status_code == 400
    assert response.json() == {"format": ["Must be one of: json, markdown."]}


def test_a_client_that_accepts_only_zip_gets_the_markdown_export(auth_client, user):
    NoteFactory(owner=user, title="Zipped")

    response = auth_client.get("/api/export/", {"format": "markdown"}, HTTP_ACCEPT="application/zip")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "Zipped.md" in zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    bad_format = auth_client.get("/api/export/", {"format": "pdf"}, HTTP_ACCEPT="application/zip")
    assert (bad_format.status_code, bad_format["Content-Type"]) == (400, "application/json")
    assert auth_client.get("/api/export/", HTTP_ACCEPT="image/png").status_code == 406


def test_the_browsable_api_still_chooses_by_accept(auth_client):
    response = auth_client.get("/api/export/", {"format": "api"}, HTTP_ACCEPT="text/html")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_the_browsable_api_format_parameter_still_works_elsewhere(auth_client):
    assert auth_client.get("/api/notes/", {"format": "api"})["Content-Type"].startswith("text/html")


def test_export_needs_a_login(api_client):
    assert api_client.get("/api/export/").status_code == 401


def test_exporting_costs_one_query_per_batch(auth_client, user, django_assert_num_queries):
    NoteFactory.create_batch(5, owner=user)

    # The token with its user, the attachments' check, then the one batch (whose notes had no
    # attachments when checked: no query for them).
    with django_assert_num_queries(3):
        download(auth_client.get("/api/export/", {"format": "markdown"}))


@pytest.mark.parametrize("export_format", ["json", "markdown"])
def test_export_memory_does_not_grow_with_the_number_of_notes(auth_client, user, export_format):
    """Streaming holds a batch at a time: three times the notes, about the same peak."""
    import tracemalloc

    from notes.services import note_create_many

    def peak_while_exporting():
        tracemalloc.start()
        try:
            for _chunk in auth_client.get("/api/export/", {"format": export_format}).streaming_content:
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def add_notes(count):
        note_create_many(owner=user, notes=[{"title": f"n{i}", "content": "x" * 20_000} for i in range(count)])

    add_notes(1000)
    small = peak_while_exporting()
    add_notes(2000)
    large = peak_while_exporting()

    assert large < small * 1.5  # holding every note would take three times as much

"""manage.py export_notes and import_notes: the API's formats from the command line, without caps."""

import contextlib
import json
import os
import zipfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from notes.models import Note
from notes.services import note_trash
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    # With the system checks, as manage.py runs a command (call_command skips them).
    call_command(*args, stdout=out, stderr=err, skip_checks=False)
    return out.getvalue(), err.getvalue()


def snapshot(user):
    return sorted(Note.objects.filter(owner=user).values_list("title", "content", "pinned", "tags"))


@pytest.mark.parametrize("name", ["notes.json", "notes.zip"])
def test_export_then_import_on_the_command_line(user, other_user, tmp_path, name):
    NoteFactory(owner=user, title="One", tags=["a"], pinned=True)
    NoteFactory(owner=user, title="Two", content="---\nnot front matter\n---")
    note_trash(note=NoteFactory(owner=user, title="Trashed"))
    path = tmp_path / name

    _, export_err = run("export_notes", str(path), "--user", user.username)
    out, _ = run("import_notes", str(path), "--user", other_user.username, "--batch-size", "1")

    assert "Exported 2 note(s)" in export_err
    assert "Imported 2 note(s)" in out
    assert snapshot(other_user) == [row for row in snapshot(user) if row[0] != "Trashed"]
    assert [row[0] for row in snapshot(other_user)] == ["One", "Two"]


def test_export_format_follows_the_file_name_unless_given(user, tmp_path):
    NoteFactory(owner=user)

    run("export_notes", str(tmp_path / "a.zip"), "--user", user.username)
    run("export_notes", str(tmp_path / "b.zip"), "--user", user.username, "--format", "json")

    assert zipfile.is_zipfile(tmp_path / "a.zip")
    assert json.loads((tmp_path / "b.zip").read_bytes())["count"] == 1


def test_import_is_not_capped_like_the_api(user, tmp_path, settings):
    settings.NOTES_IMPORT_MAX_ENTRIES = 2
    settings.NOTES_IMPORT_MAX_BYTES = 10
    path = tmp_path / "many.json"
    path.write_text(json.dumps([{"title": f"n{i}"} for i in range(5)]))

    _, err = run("import_notes", str(path), "--user", user.username, "--batch-size", "2")

    assert Note.objects.filter(owner=user).count() == 5
    assert "Importing [" in err  # the progress bar's summary line


def test_a_rejected_entry_imports_nothing_and_says_why(user, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{"title": "fine"}, {"title": ""}, {"title": "x", "tags": "no"}]))

    err = StringIO()
    with pytest.raises(CommandError, match="2 entries rejected; nothing imported"):
        call_command("import_notes", str(path), "--user", user.username, stdout=StringIO(), stderr=err)

    assert "notes[1]: title: This field may not be blank." in err.getvalue()
    assert "notes[2]: tags:" in err.getvalue()
    assert not Note.objects.exists()


def test_a_hostile_archive_is_refused(user, tmp_path):
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../escape.md", "x")

    with pytest.raises(CommandError, match="1 entry rejected"):
        run("import_notes", str(path), "--user", user.username)

    assert not Note.objects.exists()


def test_dry_run_writes_nothing(user, tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# A note\ntext")

    out, _ = run("import_notes", str(path), "--user", user.username, "--dry-run")

    assert "1 note(s) would be imported" in out
    assert not Note.objects.exists()


def test_single_transaction_imports_too(user, tmp_path):
    path = tmp_path / "note.md"
    path.write_text("# A note\ntext")

    run("import_notes", str(path), "--user", user.username, "--single-transaction")

    assert snapshot(user) == [("A note", "# A note\ntext", False, [])]


@pytest.mark.parametrize("command", ["export_notes", "import_notes"])
def test_an_unknown_user_is_an_error(db, tmp_path, command):
    path = tmp_path / "x.json"
    path.write_text("[]")

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        run(command, str(path), "--user", "nobody")


def test_the_user_is_named_in_any_case(user, tmp_path):
    NoteFactory(owner=user, title="Mine")
    path = tmp_path / "notes.json"

    run("export_notes", str(path), "--user", user.username.upper())
    run("import_notes", str(path), "--user", user.username.upper())

    assert Note.objects.filter(owner=user, title="Mine").count() == 2


@pytest.mark.parametrize("path", ["", ".", "/"])
def test_export_to_a_path_naming_no_file_is_an_error_not_a_traceback(user, path):
    with pytest.raises(CommandError, match="names no file to write"):
        run("export_notes", path, "--user", user.username)


def test_a_missing_file_is_an_error(user, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_notes", str(tmp_path / "missing.json"), "--user", user.username)


def test_export_into_a_missing_folder_is_an_error_not_a_traceback(user, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot write .*No such file or directory"):
        run("export_notes", str(tmp_path / "missing" / "notes.json"), "--user", user.username)


def test_export_to_a_reader_that_stops_early_exits_quietly(user):
    """`export_notes - | head`: a closed pipe ends the command with a status, not a BrokenPipeError traceback."""
    NoteFactory.create_batch(3, owner=user)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone

    with (
        open(write_end, "w") as closed_pipe,
        contextlib.redirect_stdout(closed_pipe),
        pytest.raises(SystemExit) as exited,
    ):
        call_command("export_notes", "-", "--user", user.username, "--format", "markdown", stderr=StringIO())

    assert exited.value.code == 1

"""The README's curl walk-through works when pasted, against a real server."""

import json
import re
import subprocess
import sys

import httpx
import pytest

from notesite.tests.servers import BASE_DIR, Server, manage, server_env


def walkthrough():
    readme = (BASE_DIR / "README.md").read_text()
    match = re.search(r"<!-- walkthrough -->\n```sh\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md lost its walk-through block"
    return match.group(1)


@pytest.mark.skipif(not (BASE_DIR / ".venv/bin/python").exists(), reason="needs the .venv that make creates")
def test_readme_walkthrough_runs_as_written(tmp_path):
    env = server_env(tmp_path)
    manage(env, "migrate", "--noinput")
    with Server(env) as server:
        script = walkthrough().replace("http://127.0.0.1:8000", server.url)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "HTTP/1.1 201 Created" in out
    assert re.search(r"(?i)^etag: \"1\"", out, re.MULTILINE)
    assert '"pinned":true' in out
    assert '"title":"Groceries for Sunday"' in out
    assert '"changed_fields":' in out
    assert '"pined":["Unknown field."]' in out
    assert '{"title":["This field may not be blank."],"tags":["Tag \'not a tag!\' may contain only' in out
    assert "HTTP/1.1 204 No Content" in out
    assert '{"detail":"No Note matches the given query."}' in out


def mirror_script():
    readme = (BASE_DIR / "README.md").read_text()
    match = re.search(r"<!-- mirror -->\n```python\n(.*?)```", readme, re.DOTALL)
    assert match, "README.md lost its mirror example"
    return match.group(1)


MIRROR_SEED = """
from accounts.models import AuthToken, User
from notes.services import note_create
user = User.objects.create_user("offline", password="offline-password-42")
for title in ["Alpha", "Bravo", "Charlie"]:
    note_create(owner=user, title=title, tags=["readme"])
print(AuthToken.objects.create(user=user)[1])
"""


@pytest.mark.skipif(not (BASE_DIR / ".venv/bin/python").exists(), reason="needs the .venv that make creates")
def test_readme_mirror_example_keeps_a_folder_in_step_with_the_server(tmp_path):
    env = server_env(tmp_path / "data")
    manage(env, "migrate", "--noinput")
    token = manage(env, "shell", "--no-imports", "-c", MIRROR_SEED).stdout.split()[-1]
    script, folder = tmp_path / "mirror.py", tmp_path / "mirror"
    script.write_text(mirror_script())

    with Server(env) as server, httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}) as api:

        def mirror():
            result = subprocess.run(
                [sys.executable, str(script), server.url, token, str(folder)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            return {int(path.stem): json.loads(path.read_text()) for path in folder.glob("*.json")}

        def live_notes():
            return {note["id"]: note for note in api.get("/api/notes/").json()["results"]}

        notes = live_notes()
        alpha, bravo, charlie = (
            next(pk for pk, n in notes.items() if n["title"] == t) for t in ["Alpha", "Bravo", "Charlie"]
        )
        first = mirror()

        api.patch(f"/api/notes/{alpha}/", json={"content": "edited"})
        api.delete(f"/api/notes/{bravo}/")
        api.post("/api/notes/", json={"title": "Delta"})
        second = mirror()
        second_expected = live_notes()

        # Charlie deleted forever, and its tombstone forgotten: the mirror's
        # cursor is now too old (410), so it syncs again from the beginning.
        api.delete(f"/api/notes/{charlie}/")
        api.delete(f"/api/trash/{charlie}/")
        manage({**env, "NOTES_FEED_TOMBSTONE_DAYS": "0"}, "purge_trash")
        stale = api.get("/api/changes/", params={"cursor": (folder / ".cursor").read_text()})
        third = mirror()
        third_expected = live_notes()

    assert first == notes
    assert second == second_expected
    assert second[alpha]["content"] == "edited"
    assert bravo not in second
    assert stale.status_code == 410
    assert third == third_expected
    assert sorted(note["title"] for note in third.values()) == ["Alpha", "Delta"]

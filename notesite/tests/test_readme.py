"""The README's curl walk-through works when pasted, against a real server."""

import re
import subprocess

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
    assert "HTTP/1.1 204 No Content" in out
    assert '{"detail":"No Note matches the given query."}' in out

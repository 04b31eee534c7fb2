"""A real browser against gunicorn with DEBUG off: the admin, the browsable API and the docs.

Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it),
driven by Playwright's Python package with `executable_path`, so no browser
is ever downloaded. Every page must load with no failed request (any
answer of 400 or more, or a request that never completed) and no console
error, which is also how a violation of the content security policy shows.
Screenshots of each page go to test-artifacts/browser/ (ignored by git).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from notesite.tests.servers import BASE_DIR, Server, manage, served_database, server_env

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = BASE_DIR / "test-artifacts" / "browser"
PASSWORD = "browser-test-password-42"
NOTE_TITLE = "Shopping list for the weekend"
# Indented, with blank lines and LF line breaks, which a browser sends back as CRLF.
NOTE_CONTENT = "milk\n\n    eggs, free range\nbread\n"

SEED = """
import json
from accounts.models import AuthToken, User
from notes.services import note_create
admin = User.objects.create_superuser("staff", "staff@example.com", PASSWORD)
note = note_create(owner=admin, title=TITLE, content=CONTENT, tags=["home", "weekend"])
for n in range(3):
    note_create(owner=admin, title=f"Other note {n}")
print("SEEDED " + json.dumps({"token": AuthToken.objects.create(user=admin)[1], "note": note.pk}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    data_dir = tmp_path_factory.mktemp("browser")
    with served_database(data_dir, "browser") as database_url:
        env = server_env(data_dir, DATABASE_URL=database_url)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        seeded = subprocess.run(
            [sys.executable, "-c", "import sys, django; django.setup(); exec(sys.stdin.read())"],
            input=f"PASSWORD = {PASSWORD!r}\nTITLE = {NOTE_TITLE!r}\nCONTENT = {NOTE_CONTENT!r}\n{SEED}",
            cwd=BASE_DIR,
            env={**env, "DJANGO_SETTINGS_MODULE": "notesite.settings"},
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(line for line in seeded.stdout.splitlines() if line.startswith("SEEDED "))
        with Server(env) as server:
            server.seed = json.loads(line.removeprefix("SEEDED "))
            yield server


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Watched:
    """A page in a fresh browser context, recording every failure it sees."""

    def __init__(self, browser, site):
        self.context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(f"failed: {request.url} {request.failure}"))
        self.page.on("response", self._response)
        self.page.on("request", self._request)
        self.origin = site.url

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"{response.status}: {response.request.method} {response.url}")

    def _request(self, request):
        if request.url.startswith(("http:", "https:")) and not request.url.startswith(self.origin + "/"):
            self.problems.append(f"request to another site: {request.url}")

    def screenshot(self, name):
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, site):
    page = Watched(browser, site)
    yield page
    page.close()


def api(site, method, path, **kwargs):
    headers = {"Authorization": f"Token {site.seed['token']}"}
    return httpx.request(method, f"{site.url}{path}", headers=headers, timeout=10, **kwargs)


def test_admin_logs_in_finds_a_note_by_search_and_edits_it(watched, site):
    page = watched.page

    page.goto("/admin/")
    watched.screenshot("admin-login")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Site administration")
    watched.screenshot("admin-index")
    page.goto("/admin/notes/note/")
    page.fill("#searchbar", "weekend")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    watched.screenshot("admin-search")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.locator("a").first.click()
    page.wait_for_selector("#id_title")
    watched.screenshot("admin-change")
    page.fill("#id_title", "Shopping list, edited in the admin")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    watched.screenshot("admin-saved")

    note = api(site, "GET", f"/api/notes/{site.seed['note']}/").json()
    assert watched.problems == [], "\n".join(watched.problems)
    assert (note["title"], note["version"]) == ("Shopping list, edited in the admin", 2)
    # What the form sent back untouched is kept as it was.
    assert (note["content"], note["tags"]) == (NOTE_CONTENT, ["home", "weekend"])


def test_browsable_api_edits_a_note_through_its_put_form(watched, site):
    page = watched.page
    url = f"/api/notes/{site.seed['note']}/"
    before = api(site, "GET", url).json()

    page.goto(f"/api-auth/login/?next={url}")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("#submit-id-submit")
    form = page.locator("#put-object-form")
    form.wait_for()
    assert form.locator("[name=tags]").input_value() == "home, weekend"
    form.locator("[name=title]").fill("Retitled in the browsable API")
    watched.screenshot("api-put-form")
    form.locator("button.btn-primary").click()
    page.wait_for_selector("text=HTTP 200 OK")
    watched.screenshot("api-put-saved")

    note = api(site, "GET", url).json()
    assert watched.problems == [], "\n".join(watched.problems)
    assert note["title"] == "Retitled in the browsable API"
    assert (note["content"], note["tags"]) == (before["content"], before["tags"])
    assert note["version"] == before["version"] + 1


def test_browsable_api_logs_in_and_creates_a_note_through_its_form(watched, site):
    page = watched.page

    page.goto("/api-auth/login/?next=/api/notes/")
    watched.screenshot("api-login")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("#submit-id-submit")
    page.wait_for_selector("#post-object-form")
    watched.screenshot("api-notes")
    form = page.locator("#post-object-form")
    form.locator("[name=title]").fill("Made in the browsable API")
    form.locator("[name=content]").fill("through its HTML form")
    form.locator("button.btn-primary").click()
    page.wait_for_selector("text=HTTP 201 Created")
    watched.screenshot("api-created")
    page.click(".navbar .dropdown-toggle")
    page.click("text=Log out")
    page.wait_for_selector("h1:has-text('Notes')")
    watched.screenshot("api-logged-out")

    titles = [note["title"] for note in api(site, "GET", "/api/notes/?limit=200").json()["results"]]
    assert watched.problems == [], "\n".join(watched.problems)
    assert "Made in the browsable API" in titles


def test_swagger_ui_authorizes_with_a_token_and_executes_a_request(watched, site):
    page = watched.page

    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    watched.screenshot("swagger")
    page.click(".swagger-ui .auth-wrapper button.authorize")
    token_auth = page.locator(".modal-ux .auth-container", has_text="tokenAuth")
    token_auth.locator("input").fill(f"Token {site.seed['token']}")
    token_auth.locator("button.authorize").click()
    token_auth.locator("button.btn-done").click()
    page.click("#operations-notes-notes_list .opblock-summary")
    page.click("#operations-notes-notes_list button.try-out__btn")
    page.click("#operations-notes-notes_list button.execute")
    status = page.locator("#operations-notes-notes_list .live-responses-table .response .response-col_status").first
    status.wait_for()
    watched.screenshot("swagger-executed")

    assert status.inner_text().strip() == "200"
    assert "Other note 0" in page.locator("#operations-notes-notes_list .live-responses-table").inner_text()
    assert watched.problems == [], "\n".join(watched.problems)


def test_redoc_renders_the_schema(watched, site):
    page = watched.page

    page.goto("/api/redoc/")
    page.wait_for_selector("h1:has-text('Notes API')")
    page.wait_for_selector("text=/api/notes/{id}/")
    watched.screenshot("redoc")

    assert watched.problems == [], "\n".join(watched.problems)


def test_landing_page_links_work(watched, site):
    page = watched.page

    page.goto("/")
    watched.screenshot("home")
    page.click("text=API documentation")
    page.wait_for_selector(".swagger-ui .info .title")

    assert watched.problems == [], "\n".join(watched.problems)

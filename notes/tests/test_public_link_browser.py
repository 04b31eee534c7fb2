"""The XSS corpus through a public link, in a real browser: nothing runs.

Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it),
driven by Playwright's Python package with `executable_path`, so no browser
is ever downloaded. The page is opened twice: as served (the content
security policy forbids every script) and with the policy bypassed, so the
sanitiser alone is shown to leave nothing that runs. Any dialog (alert,
confirm, prompt), page error or script-related console message fails it.
"""

from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIServer
from django.test.testcases import LiveServerThread

from notes.services import note_create
from notes.sharing.services import public_link_create
from notes.tests.attachment_helpers import PNG
from notes.tests.xss_corpus import CASES

CHROMIUM = Path("/usr/bin/chromium")
EVENTS = ["mouseover", "mouseenter", "mousemove", "mousedown", "mouseup", "focus", "blur", "toggle", "animationstart"]


class OneRequestAtATime(WSGIServer):
    """The live server, answering one request at a time.

    With SQLite in memory it shares the test's database connection, and the
    threaded server Django uses answered the page and the requests its
    corpus makes at once on that one connection: their transactions
    interleaved ("no such savepoint"), a 500 now and then.
    """

    def __init__(self, *args, connections_override=None, **kwargs):
        # LiveServerThread.run installs the shared connections in the one thread that serves.
        super().__init__(*args, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def _one_request_at_a_time():
    # Session-scoped, so it is in place before pytest-django's session live_server starts.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LiveServerThread, "server_class", OneRequestAtATime)
        yield


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (requirements-dev.txt)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


class Watched:
    """A page in a fresh context that records dialogs, page errors, console messages and requests."""

    def __init__(self, browser, **context_options):
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.dialogs, self.errors, self.console, self.requests = [], [], [], []  # requests: those answered
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.blocked = []
        self.page.on("requestfinished", lambda request: self.requests.append(request.url))
        self.page.on("requestfailed", lambda request: self.blocked.append((request.url, request.failure)))

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def provoke(self, selector):
        """Fire the events inline handlers listen for on every element under `selector` (links not clicked)."""
        self.page.evaluate(
            """([selector, events]) => {
                // Stay on the page: a click bubbling to a link must not navigate away.
                document.addEventListener('click', event => event.preventDefault(), true);
                for (const element of document.querySelectorAll(selector + ' *')) {
                    for (const type of events) element.dispatchEvent(new Event(type, {bubbles: true}));
                    if (element.tagName !== 'A' && element.tagName !== 'AREA') element.click();
                }
            }""",
            [selector, EVENTS],
        )
        self.page.wait_for_timeout(300)

    def script_messages(self):
        return [message for message in self.console if "script" in message.lower()]


@pytest.fixture
def shared_corpus(transactional_db, live_server):
    """A note holding the whole corpus and an image, shared; the page's URL and the site's.

    Requested before `browser`: the ORM refuses to run while Playwright's event loop is up.
    """
    from django.core.files.base import ContentFile

    from accounts.tests.factories import UserFactory
    from notes.attachments.services import attachment_create

    owner = UserFactory()
    note = note_create(owner=owner, title="<script>alert('title')</script>", content="\n\n".join(CASES))
    image = attachment_create(note=note, file=ContentFile(PNG, name="dot.png"), filename="dot.png")
    link = public_link_create(note=note)
    return {"url": f"{live_server.url}/s/{link.token}", "site": live_server.url, "image": image.pk}


def test_the_listener_sees_a_script_that_runs(browser):
    watched = Watched(browser)

    watched.page.set_content("<script>alert('ran')</script>")

    assert watched.dialogs == ["alert: ran"]


def test_no_script_from_the_corpus_runs_on_the_shared_page(shared_corpus, browser):
    watched = Watched(browser)

    response = watched.page.goto(shared_corpus["url"], wait_until="load")
    watched.provoke(".content")

    assert response.status == 200
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert watched.dialogs == []
    assert watched.errors == []
    assert watched.script_messages() == []
    assert watched.page.evaluate("document.scripts.length") == 0
    # The page's own image loads through the link; the policy stops anything from another site.
    assert f"{shared_corpus['url']}/attachments/{shared_corpus['image']}" in watched.requests
    assert [url for url in watched.requests if not url.startswith(shared_corpus["site"])] == []
    assert {failure for url, failure in watched.blocked if not url.startswith(shared_corpus["site"])} <= {"csp"}
    assert watched.page.title() == "<script>alert('title')</script>"


def test_the_sanitiser_alone_leaves_nothing_that_runs(shared_corpus, browser):
    watched = Watched(browser, bypass_csp=True)

    watched.page.goto(shared_corpus["url"], wait_until="load")
    watched.provoke(".content")

    assert watched.dialogs == []
    assert watched.errors == []
    assert watched.script_messages() == []
    assert watched.page.evaluate("document.scripts.length") == 0
    handlers = watched.page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(element =>
            [...element.attributes].filter(a => a.name.startsWith('on')).map(a => element.tagName + ' ' + a.name))"""
    )
    assert handlers == []
    assert (
        watched.page.evaluate(
            """() => [...document.querySelectorAll('[href], [src]')]
            .map(element => element.href || element.src)
            .filter(url => !/^(https?|mailto):/.test(url))"""
        )
        == []
    )
    assert watched.page.locator("iframe, form, object, embed, svg, math, style:not(head style)").count() == 0


def test_a_dead_link_is_the_same_plain_404_in_the_browser(shared_corpus, browser):
    watched = Watched(browser)

    response = watched.page.goto(f"{shared_corpus['site']}/s/{'A' * 43}")

    assert response.status == 404
    assert watched.page.inner_text("body") == "There is no note at this link."

"""Public links (SPEC 3, "Attachments and public links"): the API that manages them, and the page they open."""

import datetime
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthToken
from accounts.tests.factories import UserFactory
from notes.models import Note, PublicLink
from notes.services import note_delete_forever, note_restore, note_trash
from notes.sharing import rendering
from notes.sharing.rendering import render
from notes.sharing.services import public_link_create
from notes.tests.attachment_helpers import PNG, body, upload
from notes.tests.factories import NoteFactory
from notes.tests.xss_corpus import CASES

pytestmark = pytest.mark.django_db


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Trip <plans>", content="# Day one\n\n**Train** at 9, then *lunch*.")


def share(client, note, **data):
    return client.post(f"/api/notes/{note.pk}/share/", data, format="json")


def page(client, url_or_token):
    url = url_or_token if url_or_token.startswith("http") else f"/s/{url_or_token}"
    return client.get(url)


# The API


def test_sharing_answers_201_with_a_new_token_and_the_url(auth_client, note):
    response = share(auth_client, note)

    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"token", "url", "expires_at"}
    assert len(data["token"]) >= 43  # 256 random bits, URL-safe base64
    assert data["url"] == f"http://testserver/s/{data['token']}"
    assert data["expires_at"] is None
    assert PublicLink.objects.get(note=note).token == data["token"]


def test_the_links_list_shows_every_live_link_of_the_users_notes_newest_first(
    auth_client, other_client, user, other_user, note
):
    second = NoteFactory(owner=user, title="Second")
    expired, trashed, revoked = (NoteFactory(owner=user) for _ in range(3))
    first_link = share(auth_client, note).json()
    second_link = share(auth_client, second).json()
    PublicLink.objects.create(note=expired, token="expired", expires_at=timezone.now() - timedelta(seconds=1))
    share(auth_client, trashed)
    note_trash(note=trashed)
    share(auth_client, revoked)
    auth_client.delete(f"/api/notes/{revoked.pk}/share/")
    share(other_client, NoteFactory(owner=other_user))

    response = auth_client.get("/api/links/")

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [(link["note"], link["token"], link["url"], link["expires_at"]) for link in body["results"]] == [
        (second.pk, second_link["token"], second_link["url"], None),
        (note.pk, first_link["token"], first_link["url"], None),
    ]
    assert set(body["results"][0]) == {"note", "token", "url", "created_at", "expires_at"}


def test_a_link_made_with_a_token_since_revoked_is_listed_and_revoked_by_its_owner(user, note):
    stolen, owners = APIClient(), APIClient()
    stolen.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    owners.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    link = share(stolen, note).json()
    owners.post("/api/auth/logout-all/")
    owners.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")

    listed = owners.get("/api/links/").json()["results"]
    owners.delete(f"/api/notes/{listed[0]['note']}/share/")

    assert stolen.get("/api/links/").status_code == 401
    assert [entry["token"] for entry in listed] == [link["token"]]
    assert page(owners, link["token"]).status_code == 404


def test_the_links_list_pages_and_costs_a_fixed_number_of_queries(auth_client, user, django_assert_num_queries):
    for _ in range(3):
        share(auth_client, NoteFactory(owner=user))

    with django_assert_num_queries(2):  # the token, the page
        first = auth_client.get("/api/links/", {"limit": 2}).json()
    rest = auth_client.get(first["next"]).json()

    assert (len(first["results"]), len(rest["results"]), rest["next"]) == (2, 1, None)


def test_the_links_list_needs_a_login(api_client):
    assert api_client.get("/api/links/").status_code == 401


def test_sharing_with_an_expiry_in_the_future(auth_client, note):
    when = timezone.now() + timedelta(days=7)

    response = share(auth_client, note, expires_at=when.isoformat())

    assert response.status_code == 201
    assert response.json()["expires_at"] == when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_an_explicit_null_expiry_never_expires(auth_client, note):
    assert share(auth_client, note, expires_at=None).json()["expires_at"] is None


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"expires_at": "2001-01-01T00:00:00Z"}, {"expires_at": ["Must be in the future."]}),
        ({"expires_at": "tomorrow"}, None),
        ({"expires_at": 12}, None),
        ({"token": "mine"}, {"token": ["Unknown field."]}),
    ],
)
def test_bad_share_requests_are_400_and_share_nothing(auth_client, note, data, errors):
    response = share(auth_client, note, **data)

    assert response.status_code == 400
    if errors:
        assert response.json() == errors
    else:
        assert set(response.json()) == {"expires_at"}
    assert not PublicLink.objects.exists()


def test_sharing_again_replaces_the_link_at_once(auth_client, api_client, note):
    first = share(auth_client, note).json()

    second = share(auth_client, note).json()

    assert second["token"] != first["token"]
    assert PublicLink.objects.filter(note=note).count() == 1
    assert page(api_client, first["token"]).status_code == 404
    assert page(api_client, second["token"]).status_code == 200


def test_get_shows_the_live_link(auth_client, note):
    created = share(auth_client, note).json()

    response = auth_client.get(f"/api/notes/{note.pk}/share/")

    assert response.status_code == 200
    assert response.json() == created


def test_get_is_404_when_the_note_has_no_link(auth_client, note):
    response = auth_client.get(f"/api/notes/{note.pk}/share/")

    assert response.status_code == 404
    assert response.json() == {"detail": "This note has no public link."}


def test_get_is_404_once_the_link_expired(auth_client, note):
    share(auth_client, note)
    PublicLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert auth_client.get(f"/api/notes/{note.pk}/share/").status_code == 404


def test_revoking_stops_the_link_at_once(auth_client, api_client, note):
    token = share(auth_client, note).json()["token"]

    response = auth_client.delete(f"/api/notes/{note.pk}/share/")

    assert response.status_code == 204
    assert not PublicLink.objects.exists()
    assert page(api_client, token).status_code == 404
    assert auth_client.get(f"/api/notes/{note.pk}/share/").status_code == 404


def test_revoking_when_there_is_no_link_is_404(auth_client, note):
    response = auth_client.delete(f"/api/notes/{note.pk}/share/")

    assert response.status_code == 404
    assert response.json() == {"detail": "This note has no public link."}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_another_users_note_cannot_be_shared_seen_or_revoked(auth_client, other_client, other_user, method):
    others = NoteFactory(owner=other_user)
    share(other_client, others)

    response = getattr(auth_client, method)(f"/api/notes/{others.pk}/share/", {}, format="json")
    missing = getattr(auth_client, method)("/api/notes/999999999/share/", {}, format="json")

    assert response.status_code == 404
    assert response.json() == missing.json()
    assert PublicLink.objects.filter(note=others).count() == 1


def test_a_trashed_note_cannot_be_shared(auth_client, note):
    note_trash(note=note)

    assert share(auth_client, note).status_code == 404


def test_sharing_needs_a_token(api_client, note):
    assert share(api_client, note).status_code == 401


def test_sharing_changes_nothing_in_the_note(auth_client, note):
    share(auth_client, note)
    auth_client.delete(f"/api/notes/{note.pk}/share/")

    note.refresh_from_db()
    assert note.version == 1


# The page


def test_the_page_shows_the_note_rendered(auth_client, api_client, note):
    response = page(api_client, share(auth_client, note).json()["url"])

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<title>Trip &lt;plans&gt;</title>" in html
    assert '<h1 class="title">Trip &lt;plans&gt;</h1>' in html
    assert "<h1>Day one</h1>" in html
    assert "<strong>Train</strong>" in html
    assert "<em>lunch</em>" in html


def test_the_page_is_noindex_scriptless_and_uncached(auth_client, api_client, note):
    response = page(api_client, share(auth_client, note).json()["token"])

    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert policy["img-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert response["X-Robots-Tag"] == "noindex, nofollow, noarchive"
    assert '<meta name="robots" content="noindex, nofollow, noarchive">' in response.content.decode()
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"


def test_the_style_hash_in_the_policy_matches_the_pages_style(auth_client, api_client, note):
    import base64
    import hashlib
    import re

    response = page(api_client, share(auth_client, note).json()["token"])

    css = re.search(r"<style>(.*?)</style>", response.content.decode(), re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in response["Content-Security-Policy"]


def test_the_page_works_with_a_trailing_slash_and_head(auth_client, api_client, note):
    token = share(auth_client, note).json()["token"]

    assert api_client.get(f"/s/{token}/").status_code == 200
    assert api_client.head(f"/s/{token}").status_code == 200
    assert api_client.post(f"/s/{token}").status_code == 405


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_browser_writing_to_a_link_gets_405_not_a_csrf_failure(auth_client, note, method):
    token = share(auth_client, note).json()["token"]
    browser = Client(enforce_csrf_checks=True)

    page = getattr(browser, method)(f"/s/{token}")
    image = getattr(browser, method)(f"/s/{token}/attachments/1")

    assert (page.status_code, page["Allow"]) == (405, "GET, HEAD")
    assert (image.status_code, image["Allow"]) == (405, "GET, HEAD")


def test_the_page_costs_two_queries_and_the_rate_count(auth_client, api_client, note, settings):
    settings.NOTES_PUBLIC_LINK_RATE = None  # no throttle: only the page's own queries
    token = share(auth_client, note).json()["token"]

    with CaptureQueriesContext(connection) as queries:
        page(api_client, token)

    assert len(queries) == 2  # the link with its note, the note's images


def test_a_long_notes_page_is_rendered_once_until_the_note_changes(auth_client, api_client, user, monkeypatch):
    """Anyone with the link can fetch it again and again; 100,000 `[` take seconds to render."""
    note = NoteFactory(owner=user, content="[" * rendering.KEEP_FROM_CHARS)
    token = share(auth_client, note).json()["token"]
    renders = []
    render_once = rendering.render
    monkeypatch.setattr(rendering, "render", lambda *args: renders.append(args) or render_once(*args))

    first, again = page(api_client, token), page(api_client, token)
    auth_client.patch(f"/api/notes/{note.pk}/", {"content": "]" * rendering.KEEP_FROM_CHARS}, format="json")
    edited = page(api_client, token)

    assert len(renders) == 2
    assert first.content == again.content
    assert "]" * 100 in edited.content.decode()


@pytest.fixture
def four_dead_links(auth_client, user):
    """A revoked, an expired and a trashed note's link, one of a deactivated account, and ones that never existed."""
    deactivated = public_link_create(note=NoteFactory(owner=UserFactory(is_active=False)))
    revoked, expired, trashed = (NoteFactory(owner=user) for _ in range(3))
    revoked_token = share(auth_client, revoked).json()["token"]
    auth_client.delete(f"/api/notes/{revoked.pk}/share/")
    expired_token = share(auth_client, expired).json()["token"]
    PublicLink.objects.filter(note=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    trashed_token = share(auth_client, trashed).json()["token"]
    note_trash(note=trashed)
    return {
        "revoked": revoked_token,
        "expired": expired_token,
        "trashed": trashed_token,
        "deactivated": deactivated.token,
        "unknown": "A" * 43,
        "malformed": "not-a-token",
        "hostile": "%00%2F..%5C%0A<script>" + "x" * 3000,
        "empty": "",
    }


def test_dead_links_all_get_the_same_404(api_client, four_dead_links):
    answers = {reason: page(api_client, token) for reason, token in four_dead_links.items()}

    assert {reason: response.status_code for reason, response in answers.items()} == dict.fromkeys(answers, 404)
    assert len({response.content for response in answers.values()}) == 1
    assert len({tuple(sorted(response.headers.items())) for response in answers.values()}) == 1
    assert b"There is no note at this link." in answers["unknown"].content


def test_dead_links_all_cost_the_same_single_query(api_client, four_dead_links, settings):
    settings.NOTES_PUBLIC_LINK_RATE = None
    shapes = {}
    for reason, token in four_dead_links.items():
        with CaptureQueriesContext(connection) as queries:
            page(api_client, token)
        # The SQL without its parameters: the same statement every time.
        shapes[reason] = [query["sql"].split("WHERE")[0] for query in queries]

    assert len({tuple(shape) for shape in shapes.values()}) == 1
    assert len(shapes["unknown"]) == 1


def test_a_restored_notes_link_works_again(auth_client, api_client, note):
    token = share(auth_client, note).json()["token"]
    note_trash(note=note)
    assert page(api_client, token).status_code == 404

    note_restore(note=note)

    assert page(api_client, token).status_code == 200


def test_deleting_the_note_forever_deletes_its_link(auth_client, note):
    share(auth_client, note)

    note_delete_forever(note=note_trash(note=note))

    assert not PublicLink.objects.exists()


def test_the_page_is_rate_limited_per_address(auth_client, api_client, note, settings):
    settings.NOTES_PUBLIC_LINK_RATE = "3/min"
    token = share(auth_client, note).json()["token"]

    answers = [page(api_client, token).status_code for _ in range(3)]
    limited = page(api_client, "unknown-token-counts-too")
    elsewhere = api_client.get(f"/s/{token}", REMOTE_ADDR="192.0.2.7")

    assert answers == [200, 200, 200]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert elsewhere.status_code == 200


def test_the_rate_limit_counts_images_too(auth_client, api_client, note, settings):
    settings.NOTES_PUBLIC_LINK_RATE = "1/min"
    attachment = upload(auth_client, note, PNG).json()
    token = share(auth_client, note).json()["token"]

    page(api_client, token)

    assert api_client.get(f"/s/{token}/attachments/{attachment['id']}").status_code == 429


# Images through the link


def test_a_deactivated_accounts_links_stop_and_come_back_with_it(auth_client, api_client, user, note):
    image = upload(auth_client, note, PNG, "map.png").json()
    token = share(auth_client, note).json()["token"]
    urls = [f"/s/{token}", f"/s/{token}/attachments/{image['id']}"]

    user.is_active = False
    user.save(update_fields=["is_active"])
    while_deactivated = [api_client.get(url).status_code for url in urls]
    user.is_active = True
    user.save(update_fields=["is_active"])

    assert while_deactivated == [404, 404]
    assert [api_client.get(url).status_code for url in urls] == [200, 200]


def test_image_attachments_are_shown_through_the_link(auth_client, api_client, note):
    image = upload(auth_client, note, PNG, "map.png").json()
    upload(auth_client, note, b"%PDF-1.7 tickets", "tickets.pdf")
    token = share(auth_client, note).json()["token"]

    html = page(api_client, token).content.decode()
    response = api_client.get(f"/s/{token}/attachments/{image['id']}")

    assert f'<img src="/s/{token}/attachments/{image["id"]}" alt="map.png">' in html
    assert "tickets.pdf" not in html
    assert response.status_code == 200
    assert body(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="map.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "no-referrer"


def test_an_image_the_note_shows_inline_is_pointed_at_the_link(auth_client, api_client, user):
    note = NoteFactory(owner=user, content="before")
    image = upload(auth_client, note, PNG, "map.png").json()
    auth_client.patch(f"/api/notes/{note.pk}/", {"content": f"See ![the map]({image['download_url']})"}, format="json")
    token = share(auth_client, note).json()["token"]

    html = page(api_client, token).content.decode()

    assert f'<img src="/s/{token}/attachments/{image["id"]}" alt="the map">' in html
    assert 'aria-label="Attached images"' not in html  # not shown a second time


def test_only_the_notes_images_and_only_while_the_link_lives(auth_client, api_client, user, note):
    pdf = upload(auth_client, note, b"%PDF-1.7", "a.pdf").json()
    image = upload(auth_client, note, PNG, "a.png").json()
    other_note = NoteFactory(owner=user)
    elsewhere = upload(auth_client, other_note, b"GIF89a other", "b.gif").json()
    token = share(auth_client, note).json()["token"]
    share(auth_client, other_note)

    not_an_image = api_client.get(f"/s/{token}/attachments/{pdf['id']}")
    another_notes = api_client.get(f"/s/{token}/attachments/{elsewhere['id']}")
    auth_client.delete(f"/api/notes/{note.pk}/share/")
    revoked = api_client.get(f"/s/{token}/attachments/{image['id']}")

    for response in (not_an_image, another_notes, revoked):
        assert response.status_code == 404
        assert response.content == page(api_client, "A" * 43).content


# Sanitising: what the page can never carry

FORBIDDEN_TAGS = {
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
    "select", "textarea", "meta", "link", "base", "svg", "math", "template", "noscript", "isindex", "keygen",
    "xml", "xss", "bgsound", "marquee", "video", "audio", "source", "plaintext", "xmp",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "dynsrc", "lowsrc", "xlink:href", "data"}


class Audit(HTMLParser):
    """Every tag, and every attribute with its value as a browser would read it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                self.problems.append(f"{tag} {name}")
            if name in URL_ATTRIBUTES and value is not None:
                # What the URL parser does: trim C0 controls and spaces, drop tabs and newlines;
                # a scheme is letters, digits, '+', '-' or '.' before the first ':'.
                readable = re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(33)))))
                scheme = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", readable)
                if scheme and scheme[1].lower() not in {"http", "https", "mailto"}:
                    self.problems.append(f"{tag} {name}={value!r}")


def audit(html):
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser.problems


@pytest.mark.parametrize("case", CASES)
def test_no_script_survives_rendering(case):
    html, _ = render(case, {})
    assert audit(html) == []


def test_the_whole_corpus_in_one_note_renders_nothing_dangerous(auth_client, api_client, user):
    note = NoteFactory(owner=user, content="\n\n".join(CASES))
    token = share(auth_client, note).json()["token"]

    html = page(api_client, token).content.decode()
    article = html[html.index('<div class="content">') : html.index("</article>")]

    assert audit(article) == []
    assert "<p>" in article  # the harmless parts still render


def test_the_audit_itself_catches_what_it_should():
    assert audit('<a href=" JaVa\tscript:alert(1)">x</a><img onerror=alert(1)><script></script><a href=x:y>') == [
        "a href=' JaVa\\tscript:alert(1)'",
        "img onerror",
        "<script>",
        "a href='x:y'",
    ]
    assert audit('<a href="https://example.org">x</a><img src="/s/t/attachments/1"><a href="a<b:c">') == []


def test_a_link_for_a_note_deleted_meanwhile_is_404_not_500(user):
    """The share checked the note, then its purge (or the account's deletion) committed first."""
    note = NoteFactory(owner=user)
    Note.objects.filter(pk=note.pk).delete()

    with pytest.raises(Http404):
        public_link_create(note=note)
    assert not PublicLink.objects.exists()


def test_the_request_log_leaves_a_links_token_out(auth_client, api_client, note, caplog):
    token = share(auth_client, note).json()["token"]

    with caplog.at_level("INFO", logger="notes.request"):
        api_client.get(f"/s/{token}")
        api_client.get(f"/s/{token}/attachments/1")
        api_client.get("/s/")

    paths = [record.path for record in caplog.records if record.name == "notes.request"]
    assert [path for path in paths if path.startswith("/s/")] == [
        "/s/<token>",
        "/s/<token>/attachments/1",
        "/s/<token>",
    ]
    assert token not in caplog.text

"""A client that follows the change feed holds exactly the server's notes (issue 5).

Hypothesis drives random interleavings of every kind of change (create,
edit, trash, restore, delete forever, empty the trash, revision restore,
import, attachments) with feed reads of random sizes by a simulated client,
through the API. Whenever the client follows the feed to its end, its copy
must equal the server's notes exactly: every live note as the API shows it,
every trashed note as its tombstone, and nothing of the notes deleted
forever. No entry may ever take a note back to an older version.
"""

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from notes.models import Note
from notes.services import note_attachments_changed

pytestmark = pytest.mark.django_db

# Text the API stores as given (no NUL, no lone surrogates; SPEC 3 refuses those).
letters = st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
titles = st.text(letters, min_size=1, max_size=12).filter(lambda title: title.strip() == title)
tag_lists = st.lists(st.sampled_from(["home", "work", "later", "ideas"]), max_size=3)
edits = st.fixed_dictionaries(
    {},
    optional={"title": titles, "content": st.text(letters, max_size=20), "pinned": st.booleans(), "tags": tag_lists},
).filter(bool)


def apply(copy, entry):
    """What a client does with one entry of the feed."""
    if entry.get("deleted") == "purged":
        copy.pop(entry["id"], None)
        return
    held = copy.get(entry["id"])
    if held is not None and "version" in held and "version" in entry:
        assert entry["version"] >= held["version"], f"the feed took note {entry['id']} back to an older version"
    copy[entry["id"]] = entry


class FeedMirror(RuleBasedStateMachine):
    @initialize()
    def start(self):
        self.user = UserFactory()
        self.client = APIClient()
        self.client.force_authenticate(self.user)
        self.copy = {}
        self.cursor = None

    # What the server holds

    def ids(self, *, trashed):
        return sorted(
            Note.objects.owned_by(self.user).filter(deleted_at__isnull=not trashed).values_list("pk", flat=True)
        )

    def server_notes(self):
        notes = {}
        for path, represent in [("/api/notes/", dict), ("/api/trash/", self.tombstone)]:
            url = f"{path}?limit=200"
            while url:
                page = self.client.get(url).json()
                notes.update({note["id"]: represent(note) for note in page["results"]})
                url = page["next"]
        return notes

    @staticmethod
    def tombstone(trashed):
        return {"id": trashed["id"], "deleted": "trashed", "deleted_at": trashed["deleted_at"]}

    # Changes

    @rule(title=titles, tags=tag_lists)
    def create(self, title, tags):
        assert self.client.post("/api/notes/", {"title": title, "tags": tags}).status_code == 201

    @rule(titles=st.lists(titles, min_size=1, max_size=3))
    def import_notes(self, titles):
        response = self.client.post("/api/import/", [{"title": title} for title in titles], format="json")
        assert response.status_code == 201

    @precondition(lambda self: self.ids(trashed=False))
    @rule(data=st.data(), changes=edits)
    def edit(self, data, changes):
        pk = data.draw(st.sampled_from(self.ids(trashed=False)))
        assert self.client.patch(f"/api/notes/{pk}/", changes).status_code == 200

    @precondition(lambda self: self.ids(trashed=False))
    @rule(data=st.data())
    def restore_a_revision(self, data):
        pk = data.draw(st.sampled_from(self.ids(trashed=False)))
        versions = [r["version"] for r in self.client.get(f"/api/notes/{pk}/revisions/").json()["results"]]
        if versions:
            version = data.draw(st.sampled_from(versions))
            assert self.client.post(f"/api/notes/{pk}/revisions/{version}/restore/").status_code == 200

    @precondition(lambda self: self.ids(trashed=False))
    @rule(data=st.data())
    def trash(self, data):
        pk = data.draw(st.sampled_from(self.ids(trashed=False)))
        assert self.client.delete(f"/api/notes/{pk}/").status_code == 204

    @precondition(lambda self: self.ids(trashed=True))
    @rule(data=st.data())
    def restore(self, data):
        pk = data.draw(st.sampled_from(self.ids(trashed=True)))
        assert self.client.post(f"/api/trash/{pk}/restore/").status_code == 200

    @precondition(lambda self: self.ids(trashed=True))
    @rule(data=st.data())
    def delete_forever(self, data):
        pk = data.draw(st.sampled_from(self.ids(trashed=True)))
        assert self.client.delete(f"/api/trash/{pk}/").status_code == 204

    @precondition(lambda self: self.ids(trashed=True))
    @rule()
    def empty_the_trash(self):
        assert self.client.delete("/api/trash/").status_code == 204

    @precondition(lambda self: self.ids(trashed=False))
    @rule(data=st.data())
    def change_attachments(self, data):
        pk = data.draw(st.sampled_from(self.ids(trashed=False)))
        note_attachments_changed(note=Note.objects.get(pk=pk))

    # The client

    @rule(limit=st.integers(min_value=1, max_value=5))
    def read_a_page(self, limit):
        params = {"limit": limit, **({"cursor": self.cursor} if self.cursor else {})}
        response = self.client.get("/api/changes/", params)
        assert response.status_code == 200
        page = response.json()
        assert len(page["changes"]) <= limit
        for entry in page["changes"]:
            apply(self.copy, entry)
        self.cursor = page["cursor"]

    @invariant()
    def following_the_feed_to_the_end_gives_the_servers_notes(self):
        copy, cursor = dict(self.copy), self.cursor
        while True:
            page = self.client.get("/api/changes/", {"cursor": cursor} if cursor else {}).json()
            for entry in page["changes"]:
                apply(copy, entry)
            cursor = page["cursor"]
            if not page["has_more"]:
                break
        assert copy == self.server_notes()


def test_a_client_following_the_feed_mirrors_the_server_exactly():
    # Each example is a new user, so examples never see each other's notes.
    run_state_machine_as_test(
        FeedMirror,
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

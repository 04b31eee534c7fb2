"""Eight concurrent writers against real gunicorn, and a client mirroring through the feed (issue 5).

While the writers create, edit, trash, restore, delete forever, restore
revisions and import, a reader follows the change feed. Once they stop,
the reader follows it to the end: its copy must be exactly the server's
notes, and so must the copy of a client that starts from the beginning.
"""

import random
import threading

import httpx
import pytest

from notesite.tests.servers import Server, manage, served_database, server_env

pytestmark = pytest.mark.stress

WRITERS = 8
OPERATIONS = 40  # per writer
TIMEOUT = 60  # seconds, for any one request or thread

SEED = """
from accounts.models import AuthToken, User
user = User.objects.create_user("mirror", password="mirror-password-42")
print(AuthToken.objects.create(user=user)[1])
"""


def serve(env):
    manage(env, "migrate", "--noinput")
    token = manage(env, "shell", "--no-imports", "-c", SEED).stdout.split()[-1]
    return Server(env), {"Authorization": f"Token {token}"}


class Writer(threading.Thread):
    """Random changes to the user's notes; every answer must be one a client expects."""

    def __init__(self, url, auth, seed, known):
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, headers=auth, timeout=TIMEOUT)
        self.random = random.Random(seed)
        self.known = known  # note ids seen by any writer, shared
        self.unexpected = []

    def run(self):
        actions = [self.create, self.edit, self.edit, self.trash, self.restore, self.purge, self.revert, self.import_]
        try:
            for _ in range(OPERATIONS):
                self.random.choice(actions)()
        finally:
            self.client.close()

    def expect(self, response, *statuses):
        if response.status_code not in statuses:
            self.unexpected.append((response.request.method, response.request.url.path, response.status_code))
        return response

    def some_note(self):
        return self.random.choice(self.known) if self.known else 0

    def create(self):
        response = self.expect(self.client.post("/api/notes/", json={"title": f"w{self.random.random()}"}), 201)
        if response.status_code == 201:
            self.known.append(response.json()["id"])

    def edit(self):
        change = self.random.choice([{"content": str(self.random.random())}, {"pinned": self.random.random() < 0.5}])
        self.expect(self.client.patch(f"/api/notes/{self.some_note()}/", json=change), 200, 404)

    def trash(self):
        self.expect(self.client.delete(f"/api/notes/{self.some_note()}/"), 204, 404)

    def restore(self):
        self.expect(self.client.post(f"/api/trash/{self.some_note()}/restore/"), 200, 404)

    def purge(self):
        self.expect(self.client.delete(f"/api/trash/{self.some_note()}/"), 204, 404)

    def revert(self):
        pk = self.some_note()
        revisions = self.expect(self.client.get(f"/api/notes/{pk}/revisions/"), 200, 404)
        if revisions.status_code == 200 and revisions.json()["results"]:
            version = self.random.choice(revisions.json()["results"])["version"]
            self.expect(self.client.post(f"/api/notes/{pk}/revisions/{version}/restore/"), 200, 404)

    def import_(self):
        notes = [{"title": f"imported {self.random.random()}"} for _ in range(self.random.randint(1, 5))]
        response = self.expect(self.client.post("/api/import/", json=notes), 201)
        if response.status_code == 201:
            self.known.extend(response.json()["ids"])


class Mirror:
    """A client's copy of the notes, kept by following the feed."""

    def __init__(self, client):
        self.client = client
        self.copy = {}
        self.cursor = None

    def read_page(self, limit):
        params = {"limit": limit, **({"cursor": self.cursor} if self.cursor else {})}
        response = self.client.get("/api/changes/", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        for entry in page["changes"]:
            held = self.copy.get(entry["id"])
            if held and "version" in held and "version" in entry:
                assert entry["version"] >= held["version"], "the feed took a note back to an older version"
            if entry.get("deleted") == "purged":
                self.copy.pop(entry["id"], None)
            else:
                self.copy[entry["id"]] = entry
        self.cursor = page["cursor"]
        return page["has_more"]

    def follow_to_the_end(self, limit=200):
        while self.read_page(limit):
            pass


def server_notes(client):
    notes = {}
    for path, trashed in [("/api/notes/", False), ("/api/trash/", True)]:
        url = f"{path}?limit=200"
        while url:
            page = client.get(url).json()
            for note in page["results"]:
                notes[note["id"]] = (
                    {"id": note["id"], "deleted": "trashed", "deleted_at": note["deleted_at"]} if trashed else note
                )
            url = page["next"]
    return notes


def run_writers_and_mirror(server, auth):
    known = []
    with httpx.Client(base_url=server.url, headers=auth, timeout=TIMEOUT) as client:
        for _ in range(10):
            known.append(client.post("/api/notes/", json={"title": "seed"}).json()["id"])
        mirror = Mirror(client)
        writers = [Writer(server.url, auth, seed, known) for seed in range(WRITERS)]
        for writer in writers:
            writer.start()
        pages = 0
        reader_random = random.Random(99)
        while any(writer.is_alive() for writer in writers):
            mirror.read_page(reader_random.randint(1, 20))
            pages += 1
        for writer in writers:
            writer.join(TIMEOUT)
        mirror.follow_to_the_end()
        latecomer = Mirror(client)
        latecomer.follow_to_the_end(limit=7)
        expected = server_notes(client)

    assert [writer.unexpected for writer in writers] == [[]] * WRITERS
    assert pages > 1, "the reader read while the writers wrote"
    assert len(expected) > 10
    assert mirror.copy == expected
    assert latecomer.copy == expected


@pytest.mark.sqlite
def test_eight_writers_and_a_mirror_on_sqlite(tmp_path):
    server, auth = serve(server_env(tmp_path, WEB_CONCURRENCY=2))
    with server:
        run_writers_and_mirror(server, auth)


@pytest.mark.postgresql
def test_eight_writers_and_a_mirror_on_postgresql(tmp_path, db):
    with served_database(tmp_path, "feed_stress") as database_url:
        server, auth = serve(server_env(tmp_path, DATABASE_URL=database_url, WEB_CONCURRENCY=2))
        with server:
            run_writers_and_mirror(server, auth)

"""Real gunicorn (2 workers) under 64 concurrent clients, and killed in the middle of it.

The server runs the production configuration on a database of the suite's
kind (SQLite in a temporary folder, or a scratch PostgreSQL database), so
the SQLite run and the PostgreSQL run of the suite each prove their own.
Every load is bounded in requests and in time, and talks only to 127.0.0.1.
"""

import asyncio
import time
from dataclasses import dataclass, field

import httpx
import pytest

from notesite.tests.integrity import integrity_problems
from notesite.tests.servers import Server, manage, seed_users, served_database, server_env

pytestmark = pytest.mark.stress

CLIENTS = 64
USERS = 8
NOTES_PER_CLIENT = 5
EDITS_PER_NOTE = 3
SHARED_EDITS_PER_CLIENT = 4
RACERS = 32
RACE_ROUNDS = 4
# No load may take longer than this, whatever the machine is doing.
DEADLINE_SECONDS = 240


@dataclass
class Site:
    env: dict
    database_url: str

    def new_users(self, prefix):
        """Users of one test alone, each with a token: [{"id", "username", "token", "index"}]."""
        return [{**user, "index": n} for n, user in enumerate(seed_users(self.env, USERS, prefix))]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stress")
    with served_database(data_dir, "stress") as database_url:
        env = server_env(data_dir, DATABASE_URL=database_url, WEB_CONCURRENCY=2, GUNICORN_THREADS=4)
        manage(env, "migrate", "--noinput", "-v", "0")
        yield Site(env, database_url)


def client_for(server, user):
    """One connection of its own per client, like 64 separate devices."""
    return httpx.AsyncClient(
        base_url=server.url,
        headers={"Authorization": f"Token {user['token']}"},
        timeout=60,
        limits=httpx.Limits(max_connections=1),
    )


def run_bounded(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, DEADLINE_SECONDS))


@dataclass
class Ledger:
    """What the server answered: the state each note must be in afterwards."""

    created: dict = field(default_factory=dict)  # note id -> (user index, version, content) last answered
    unexpected: list = field(default_factory=list)
    deliberate_412s: int = 0
    shared_versions: dict = field(default_factory=dict)  # user index -> versions answered by 200s

    def expect(self, response, *statuses):
        if response.status_code not in statuses:
            self.unexpected.append(
                f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
            )
            return False
        return True


async def writer(server, user, index, ledger, shared_id):
    """Create notes, edit them with If-Match, and edit the user's shared note."""
    async with client_for(server, user) as client:
        own = []
        for n in range(NOTES_PER_CLIENT):
            content = f"client {index} note {n}"
            response = await client.post(
                "/api/notes/", json={"title": f"Note {index}.{n}", "content": content, "tags": [f"client-{index}"]}
            )
            if ledger.expect(response, 201):
                own.append(response.json()["id"])
                ledger.created[own[-1]] = (user["index"], 1, content)
        shared_seen = 1
        for edit in range(max(EDITS_PER_NOTE * len(own), SHARED_EDITS_PER_CLIENT)):
            if edit < EDITS_PER_NOTE * len(own):
                note_id = own[edit % len(own)]
                _, version, _ = ledger.created[note_id]
                content = f"client {index} edit {edit}"
                response = await client.patch(
                    f"/api/notes/{note_id}/", json={"content": content}, headers={"If-Match": f'"{version}"'}
                )
                if ledger.expect(response, 200):
                    answered = response.json()["version"]
                    if answered != version + 1 or response.headers["ETag"] != f'"{answered}"':
                        ledger.unexpected.append(f"note {note_id}: version {version} edited into {answered}")
                    ledger.created[note_id] = (user["index"], answered, content)
            if edit < SHARED_EDITS_PER_CLIENT:
                # Alternately last-writer-wins (must succeed) and guarded by
                # the version this client last saw (may lose: a deliberate 412).
                guarded = edit % 2 == 1
                headers = {"If-Match": f'"{shared_seen}"'} if guarded else {}
                response = await client.patch(
                    f"/api/notes/{shared_id}/", json={"content": f"client {index} shared {edit}"}, headers=headers
                )
                if guarded and response.status_code == 412:
                    ledger.deliberate_412s += 1
                    current = response.json()["current"]["version"]
                    if current <= shared_seen:
                        ledger.unexpected.append(f"412 for version {shared_seen} while the note is at {current}")
                    shared_seen = current
                elif ledger.expect(response, 200):
                    shared_seen = response.json()["version"]
                    ledger.shared_versions.setdefault(user["index"], []).append(shared_seen)


async def all_notes(server, user):
    """Every live note of the user, by walking the pages."""
    notes, url = [], "/api/notes/?limit=200"
    async with client_for(server, user) as client:
        while url:
            page = (await client.get(url)).json()
            notes += page["results"]
            url = page["next"]
    return notes


async def concurrent_writers(server, users):
    ledger = Ledger()
    shared = {}
    for user in users:
        async with client_for(server, user) as client:
            response = await client.post("/api/notes/", json={"title": f"Shared by {user['username']}"})
            ledger.expect(response, 201)
            shared[user["index"]] = response.json()["id"]
    await asyncio.gather(*(writer(server, users[n % USERS], n, ledger, shared[n % USERS]) for n in range(CLIENTS)))
    stored = {user["index"]: await all_notes(server, user) for user in users}
    return ledger, shared, stored


def test_64_concurrent_writers_lose_nothing_and_keep_versions_consistent(site):
    with Server(site.env) as server:
        started = time.monotonic()
        ledger, shared, stored = run_bounded(concurrent_writers(server, site.new_users("writer")))
        elapsed = time.monotonic() - started

    assert ledger.unexpected == []
    assert len(ledger.created) == CLIENTS * NOTES_PER_CLIENT
    for user_index, notes in stored.items():
        by_id = {note["id"]: note for note in notes}
        own = {note_id: state for note_id, state in ledger.created.items() if state[0] == user_index}
        assert set(by_id) == set(own) | {shared[user_index]}
        for note_id, (_, version, content) in own.items():
            assert (by_id[note_id]["version"], by_id[note_id]["content"]) == (version, content)
        # Every 200 on the shared note was one change: the versions answered
        # are exactly 2..N, each once, and the note ends at N.
        answered = sorted(ledger.shared_versions[user_index])
        assert answered == list(range(2, len(answered) + 2))
        assert by_id[shared[user_index]]["version"] == len(answered) + 1
    print(
        f"\n{CLIENTS} clients: {len(ledger.created)} notes created, "
        f"{sum(map(len, ledger.shared_versions.values()))} shared edits, "
        f"{ledger.deliberate_412s} deliberate 412s, {elapsed:.1f} s"
    )


async def race(server, user, note_id, round_number):
    clients = [client_for(server, user) for _ in range(RACERS)]
    try:
        # Open every connection first, so the PUTs leave together.
        await asyncio.gather(*(client.get(f"/api/notes/{note_id}/") for client in clients))
        return await asyncio.gather(
            *(
                client.put(
                    f"/api/notes/{note_id}/",
                    json={"title": f"Round {round_number} racer {n}"},
                    headers={"If-Match": '"1"'},
                )
                for n, client in enumerate(clients)
            )
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


async def races(server, user):
    outcomes = []
    async with client_for(server, user) as client:
        for round_number in range(RACE_ROUNDS):
            note_id = (await client.post("/api/notes/", json={"title": "Raced"})).json()["id"]
            responses = await race(server, user, note_id, round_number)
            stored = (await client.get(f"/api/notes/{note_id}/")).json()
            outcomes.append((responses, stored))
    return outcomes


def test_racing_puts_with_the_same_if_match_have_exactly_one_winner(site):
    user = site.new_users("racer")[0]
    with Server(site.env) as server:
        outcomes = run_bounded(races(server, user))

    for responses, stored in outcomes:
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * (RACERS - 1)
        winner = next(response.json() for response in responses if response.status_code == 200)
        assert stored["version"] == winner["version"] == 2
        assert stored["title"] == winner["title"]
        for response in responses:
            if response.status_code == 412:
                assert response.json()["current"] == stored


async def write_until_killed(server, users, ledger, enough):
    """64 clients create and edit notes until the server is killed under them."""

    async def one_client(user, index):
        async with client_for(server, user) as client:
            for n in range(10_000):
                try:
                    response = await client.post("/api/notes/", json={"title": f"Durable {index}.{n}"})
                    if response.status_code != 201:
                        ledger.unexpected.append(f"POST: {response.status_code} {response.text[:300]}")
                        return
                    note_id = response.json()["id"]
                    ledger.created[note_id] = (user["index"], 1, "")
                    response = await client.patch(
                        f"/api/notes/{note_id}/", json={"content": f"edited {n}"}, headers={"If-Match": '"1"'}
                    )
                    if response.status_code != 200:
                        ledger.unexpected.append(f"PATCH: {response.status_code} {response.text[:300]}")
                        return
                    ledger.created[note_id] = (user["index"], 2, f"edited {n}")
                except httpx.TransportError:
                    return  # the server is gone

    async def killer():
        while len(ledger.created) < enough:
            await asyncio.sleep(0.05)
        server.kill()

    await asyncio.gather(killer(), *(one_client(users[n % USERS], n) for n in range(CLIENTS)))


def test_sigkill_in_the_middle_of_the_load_loses_no_answered_note(site):
    users = site.new_users("durable")
    ledger = Ledger()
    server = Server(site.env)
    run_bounded(write_until_killed(server, users, ledger, enough=400))
    assert "Shutting down" not in server.output()  # it was killed, not stopped

    with Server(site.env) as restarted:
        stored = {user["index"]: run_bounded(all_notes(restarted, user)) for user in users}
    problems = integrity_problems(site.database_url)

    assert ledger.unexpected == []
    assert len(ledger.created) >= 400
    stored_by_id = {note["id"]: note for notes in stored.values() for note in notes}
    for note_id, (user_index, version, content) in ledger.created.items():
        note = stored_by_id.get(note_id)
        assert note is not None, f"note {note_id} was answered 201 and is gone"
        assert note in stored[user_index]
        # An edit may have committed without its answer arriving; one that
        # was answered is never lost.
        assert note["version"] >= version
        if note["version"] == version and version == 2:
            assert note["content"] == content
    assert problems == []
    print(f"\nkilled after {len(ledger.created)} acknowledged notes; all present; integrity ok")

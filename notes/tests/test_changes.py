"""The change feed (SPEC 3, "Sync: a change feed"; issue 5): GET /api/changes/."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import signing
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from notes import feed
from notes.models import ChangeCounter, Note, PurgedNote
from notes.services import (
    note_attachments_changed,
    note_create,
    note_create_many,
    note_delete_forever,
    note_trash,
    note_update,
    notes_purge,
)
from notes.tests.admin_helpers import confirmation_form
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

URL = "/api/changes/"


def read(client, cursor=None, **params):
    if cursor is not None:
        params["cursor"] = cursor
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return response.json()


def follow(client, cursor=None, limit=None):
    """Every entry from `cursor` to the end of the feed, and the cursor to poll with."""
    entries = []
    while True:
        page = read(client, cursor, **({"limit": limit} if limit else {}))
        entries += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return entries, cursor


def ids(entries):
    return [entry["id"] for entry in entries]


def test_the_feed_answers_changes_cursor_and_has_more(auth_client, user):
    note = NoteFactory(owner=user, title="Groceries", tags=["home"])

    response = auth_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"changes", "cursor", "has_more"}
    assert body["changes"] == [auth_client.get(f"/api/notes/{note.pk}/").json()]
    assert isinstance(body["cursor"], str)
    assert body["has_more"] is False


def test_an_empty_feed_still_hands_out_a_cursor(auth_client):
    body = read(auth_client)

    assert body["changes"] == []
    assert body["has_more"] is False
    assert read(auth_client, body["cursor"])["changes"] == []


def test_the_route_works_without_the_trailing_slash(auth_client, user):
    NoteFactory(owner=user)

    response = auth_client.get("/api/changes")

    assert response.status_code == 200
    assert len(response.json()["changes"]) == 1


def test_changes_come_oldest_first_each_note_once_in_its_latest_state(auth_client, user):
    first, second, third = (NoteFactory(owner=user, title=title) for title in ["one", "two", "three"])
    note_update(note=first, title="one, edited")
    note_update(note=first, title="one, edited again")

    entries, _ = follow(auth_client)

    assert ids(entries) == [second.pk, third.pk, first.pk]
    assert entries[-1]["title"] == "one, edited again"
    assert entries[-1]["version"] == 3


def test_following_the_cursor_gives_only_what_changed_since(auth_client, user):
    kept, edited = NoteFactory(owner=user), NoteFactory(owner=user)
    _, cursor = follow(auth_client)

    note_update(note=edited, content="new words")
    created = NoteFactory(owner=user)
    entries, cursor = follow(auth_client, cursor)

    assert ids(entries) == [edited.pk, created.pk]
    assert entries[0]["content"] == "new words"
    assert kept.pk not in ids(entries)
    assert follow(auth_client, cursor)[0] == []


def test_pages_follow_each_other_without_gaps_or_repeats(auth_client, user):
    notes = [NoteFactory(owner=user) for _ in range(7)]

    first = read(auth_client, limit=3)
    second = read(auth_client, first["cursor"], limit=3)
    third = read(auth_client, second["cursor"], limit=3)

    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)
    assert ids(first["changes"] + second["changes"] + third["changes"]) == [note.pk for note in notes]


def test_a_trashed_note_is_a_tombstone(auth_client, user):
    note = note_trash(note=NoteFactory(owner=user))

    [entry] = read(auth_client)["changes"]

    assert entry == {
        "id": note.pk,
        "deleted": "trashed",
        "deleted_at": note.deleted_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def test_a_restored_note_comes_back_whole(auth_client, user):
    note = note_trash(note=NoteFactory(owner=user, title="Back"))
    _, cursor = follow(auth_client)

    auth_client.post(f"/api/trash/{note.pk}/restore/")
    [entry] = read(auth_client, cursor)["changes"]

    assert entry == auth_client.get(f"/api/notes/{note.pk}/").json()
    assert entry["title"] == "Back"


def test_a_note_deleted_forever_is_a_purged_tombstone(auth_client, user):
    note = note_trash(note=NoteFactory(owner=user))
    _, cursor = follow(auth_client)

    auth_client.delete(f"/api/trash/{note.pk}/")
    [entry] = read(auth_client, cursor)["changes"]

    tombstone = PurgedNote.objects.get()
    assert entry == {
        "id": note.pk,
        "deleted": "purged",
        "deleted_at": tombstone.deleted_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert tombstone.owner == user
    assert not Note.objects.filter(pk=note.pk).exists()


def test_the_feed_shows_only_the_requesting_users_changes(auth_client, user, other_user):
    mine = NoteFactory(owner=user)
    theirs = NoteFactory(owner=other_user)
    note_delete_forever(note=note_trash(note=NoteFactory(owner=other_user)))
    note_update(note=theirs, title="Theirs, edited")

    entries, _ = follow(auth_client)

    assert ids(entries) == [mine.pk]


def test_anonymous_requests_are_401(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


# Parameters


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", "", "٣"])
def test_an_invalid_limit_is_400_naming_it(auth_client, limit):
    response = auth_client.get(URL, {"limit": limit})

    assert response.status_code == 400
    assert response.json() == {"limit": ["Must be an integer from 1 to 1000."]}


def test_limit_takes_1_to_1000_and_defaults_to_200(auth_client, user):
    note_create_many(owner=user, notes=[{"title": f"n{i}"} for i in range(1001)])

    assert len(read(auth_client)["changes"]) == 200
    assert len(read(auth_client, limit=1)["changes"]) == 1
    page = read(auth_client, limit=1000)
    assert len(page["changes"]) == 1000
    assert page["has_more"] is True


@pytest.mark.parametrize("cursor", ["", "nonsense", "WzEsNV0:1xWDxE:forged", signing.dumps([1, 5], salt="other")])
def test_a_tampered_cursor_is_400(auth_client, cursor):
    response = auth_client.get(URL, {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_a_position_always_gives_the_same_cursor(auth_client, user):
    first = read(auth_client)["cursor"]

    again = read(auth_client)["cursor"]

    assert first == again


def test_a_cursor_with_an_edited_position_is_400(auth_client, user):
    cursor = read(auth_client)["cursor"]
    payload, rest = cursor.split(":", 1)
    edited = signing.b64_encode(json.dumps([user.pk, 10**6]).encode()).decode()

    response = auth_client.get(URL, {"cursor": f"{edited}:{rest}"})

    assert payload != edited
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_another_users_cursor_is_400(auth_client, other_client, other_user):
    NoteFactory(owner=other_user)
    theirs = read(other_client)["cursor"]

    response = auth_client.get(URL, {"cursor": theirs})

    assert response.status_code == 400
    assert response.json() == {"cursor": ["This cursor was issued to another user."]}


# Forgetting tombstones: 410


def purged_days_ago(user, days):
    note = note_trash(note=NoteFactory(owner=user))
    note_delete_forever(note=note)
    PurgedNote.objects.filter(note_id=note.pk).update(deleted_at=timezone.now() - timedelta(days=days))


def test_purge_trash_forgets_tombstones_older_than_the_setting(user, settings):
    settings.NOTES_FEED_TOMBSTONE_DAYS = 30
    purged_days_ago(user, 31)
    purged_days_ago(user, 29)
    out = StringIO()

    call_command("purge_trash", stdout=out)

    assert PurgedNote.objects.count() == 1
    assert "Forgot 1 change feed tombstone(s)" in out.getvalue()


def test_a_cursor_older_than_the_forgotten_tombstones_is_410_saying_to_resync(auth_client, user, settings):
    settings.NOTES_FEED_TOMBSTONE_DAYS = 30
    stale_cursor = read(auth_client)["cursor"]
    purged_days_ago(user, 31)
    _, fresh_cursor = follow(auth_client)
    call_command("purge_trash", stdout=StringIO())

    stale = auth_client.get(URL, {"cursor": stale_cursor})
    fresh = auth_client.get(URL, {"cursor": fresh_cursor})

    assert stale.status_code == 410
    assert "Re-sync from the beginning" in stale.json()["detail"]
    assert "without a cursor" in stale.json()["detail"]
    assert fresh.status_code == 200
    assert read(auth_client)["changes"] == []


def test_a_re_sync_after_tombstones_were_forgotten_can_be_polled(auth_client, user, settings):
    # The newest change, a deletion forever, forgotten: the notes left are
    # older than what the feed remembers from, and a re-sync's cursor (at
    # the last of them) was refused on every poll after.
    settings.NOTES_FEED_TOMBSTONE_DAYS = 30
    NoteFactory(owner=user, title="kept")
    purged_days_ago(user, 31)
    call_command("purge_trash", stdout=StringIO())

    titles, cursor = [], None
    while True:
        page = read(auth_client, cursor, limit=1)
        titles += [entry["title"] for entry in page["changes"]]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    polled = auth_client.get(URL, {"cursor": cursor})

    assert titles == ["kept"]
    assert polled.status_code == 200
    assert polled.json()["changes"] == []
    # An empty page hands the cursor on as good as it came: polled again and again.
    assert read(auth_client, read(auth_client, polled.json()["cursor"])["cursor"])["changes"] == []


def test_forgetting_one_users_tombstones_leaves_other_users_cursors_alone(auth_client, user, other_user, settings):
    settings.NOTES_FEED_TOMBSTONE_DAYS = 30
    cursor = read(auth_client)["cursor"]
    purged_days_ago(other_user, 31)

    call_command("purge_trash", stdout=StringIO())

    assert auth_client.get(URL, {"cursor": cursor}).status_code == 200


def test_a_cursor_ahead_of_the_server_is_410(auth_client, user):
    NoteFactory(owner=user)
    cursor = read(auth_client)["cursor"]
    # As if the database were restored from a backup taken before that note.
    ChangeCounter.objects.filter(owner=user).update(last_seq=0)
    Note.objects.all().delete()

    response = auth_client.get(URL, {"cursor": cursor})

    assert response.status_code == 410
    assert "ahead of the server" in response.json()["detail"]


def test_after_forget_feed_cursors_an_earlier_cursor_stays_410_however_many_changes_follow(
    auth_client, other_client, user
):
    for title in ["kept 1", "kept 2", "kept 3"]:
        NoteFactory(owner=user, title=title)
    earlier = follow(auth_client)[1]
    theirs = read(other_client)["cursor"]  # a user with no change yet
    # As after a restore: the database goes on handing out positions, more
    # of them than the cursor had passed.
    call_command("forget_feed_cursors", stdout=StringIO())
    stale_before_changes = auth_client.get(URL, {"cursor": earlier})
    for title in ["new 1", "new 2", "new 3", "new 4"]:
        NoteFactory(owner=user, title=title)

    stale = auth_client.get(URL, {"cursor": earlier})
    resync, cursor = follow(auth_client, limit=1)  # page by page, through positions older than the jump
    their_stale = other_client.get(URL, {"cursor": theirs})
    their_resync = follow(other_client)

    assert stale_before_changes.status_code == stale.status_code == their_stale.status_code == 410
    assert "restored from a backup" in stale.json()["detail"]
    assert [entry["title"] for entry in resync] == ["kept 1", "kept 2", "kept 3", "new 1", "new 2", "new 3", "new 4"]
    assert read(auth_client, cursor)["changes"] == []
    assert read(other_client, their_resync[1])["changes"] == []
    NoteFactory(owner=user, title="after the re-sync")
    assert [entry["title"] for entry in read(auth_client, cursor)["changes"]] == ["after the re-sync"]


# Every path that changes a note feeds it (SPEC 3, "Nothing lost").


@pytest.fixture
def note(user):
    return NoteFactory(owner=user, title="Before", tags=["old"])


@pytest.fixture
def since(auth_client, note):
    """The cursor at the end of the feed, once `note` exists."""
    return follow(auth_client)[1]


def test_api_create_feeds(auth_client, since):
    created = auth_client.post("/api/notes/", {"title": "New"}).json()

    assert read(auth_client, since)["changes"] == [created]


def test_api_put_and_patch_feed(auth_client, note, since):
    put = auth_client.put(f"/api/notes/{note.pk}/", {"title": "Put"}).json()
    after_put = read(auth_client, since)
    patched = auth_client.patch(f"/api/notes/{note.pk}/", {"pinned": True}).json()

    assert after_put["changes"] == [put]
    assert read(auth_client, after_put["cursor"])["changes"] == [patched]


def test_a_write_that_changes_nothing_does_not_feed(auth_client, note, since):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Before"})

    assert read(auth_client, since)["changes"] == []


def test_api_delete_feeds_a_tombstone(auth_client, note, since):
    auth_client.delete(f"/api/notes/{note.pk}/")

    assert read(auth_client, since)["changes"][0]["deleted"] == "trashed"


def test_revision_restore_feeds(auth_client, note, since):
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "After"})
    _, cursor = follow(auth_client, since)

    restored = auth_client.post(f"/api/notes/{note.pk}/revisions/1/restore/").json()

    assert read(auth_client, cursor)["changes"] == [restored]
    assert restored["title"] == "Before"


def test_trash_restore_feeds(auth_client, note):
    note_trash(note=note)
    _, cursor = follow(auth_client)

    restored = auth_client.post(f"/api/trash/{note.pk}/restore/").json()

    assert read(auth_client, cursor)["changes"] == [restored]


def test_delete_forever_feeds(auth_client, note):
    note_trash(note=note)
    _, cursor = follow(auth_client)

    auth_client.delete(f"/api/trash/{note.pk}/")

    assert [(e["id"], e["deleted"]) for e in read(auth_client, cursor)["changes"]] == [(note.pk, "purged")]


def test_emptying_the_trash_feeds_every_note(auth_client, user, note):
    others = [note_trash(note=NoteFactory(owner=user)) for _ in range(3)]
    note_trash(note=note)
    _, cursor = follow(auth_client)

    auth_client.delete("/api/trash/")
    entries = read(auth_client, cursor)["changes"]

    assert sorted(ids(entries)) == sorted([note.pk, *(other.pk for other in others)])
    assert {entry["deleted"] for entry in entries} == {"purged"}


def test_purge_trash_feeds_each_owners_notes(auth_client, other_client, user, other_user, note):
    theirs = NoteFactory(owner=other_user)
    for trashed in [note, theirs]:
        note_trash(note=trashed)
        Note.objects.filter(pk=trashed.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    _, mine_since = follow(auth_client)
    _, theirs_since = follow(other_client)

    call_command("purge_trash", stdout=StringIO())

    assert [(e["id"], e["deleted"]) for e in read(auth_client, mine_since)["changes"]] == [(note.pk, "purged")]
    assert [(e["id"], e["deleted"]) for e in read(other_client, theirs_since)["changes"]] == [(theirs.pk, "purged")]


def test_purging_in_batches_feeds_every_note(auth_client, user):
    notes = [note_trash(note=NoteFactory(owner=user)) for _ in range(5)]
    _, cursor = follow(auth_client)

    notes_purge(notes=Note.objects.owned_by(user), batch_size=2)
    entries, _ = follow(auth_client, cursor)

    assert sorted(ids(entries)) == sorted(note.pk for note in notes)


def test_import_feeds_every_note(auth_client, since):
    response = auth_client.post("/api/import/", [{"title": "a"}, {"title": "b"}], format="json")

    entries = read(auth_client, since)["changes"]

    assert ids(entries) == response.json()["ids"]
    assert [entry["title"] for entry in entries] == ["a", "b"]


def test_bulk_creation_feeds_every_note(auth_client, user, since):
    created = note_create_many(owner=user, notes=[{"title": f"n{i}"} for i in range(3)])

    assert ids(read(auth_client, since)["changes"]) == created


@pytest.fixture
def admin_client(client):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_edits_feed(admin_client, auth_client, note, since):
    admin_client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"title": "From admin", "content": "", "tags": "", "seen_version": note.version},
    )

    [entry] = read(auth_client, since)["changes"]

    assert (entry["id"], entry["title"], entry["version"]) == (note.pk, "From admin", 2)


def test_admin_additions_feed(admin_client, auth_client, user, since):
    admin_client.post("/admin/notes/note/add/", {"owner": user.pk, "title": "Added", "content": "", "tags": ""})

    [entry] = read(auth_client, since)["changes"]

    assert entry["title"] == "Added"


@pytest.mark.parametrize(
    ("action", "expected"),
    [("pin", {"pinned": True}), ("move_to_trash", {"deleted": "trashed"})],
)
def test_admin_bulk_actions_feed(admin_client, auth_client, user, note, action, expected):
    other = NoteFactory(owner=user)
    _, cursor = follow(auth_client)

    admin_client.post("/admin/notes/note/", {"action": action, "_selected_action": [note.pk, other.pk]})
    entries = read(auth_client, cursor)["changes"]

    assert sorted(ids(entries)) == sorted([note.pk, other.pk])
    for entry in entries:
        assert expected.items() <= entry.items()


def test_admin_restore_and_delete_forever_feed(admin_client, auth_client, note):
    note_trash(note=note)
    _, cursor = follow(auth_client)

    admin_client.post("/admin/notes/note/", {"action": "restore_from_trash", "_selected_action": [note.pk]})
    restored = read(auth_client, cursor)
    note_trash(note=Note.objects.get(pk=note.pk))
    url = f"/admin/notes/note/{note.pk}/delete/"
    admin_client.post(url, confirmation_form(admin_client, url))

    assert restored["changes"][0]["title"] == "Before"
    assert read(auth_client, restored["cursor"])["changes"][-1]["deleted"] == "purged"


# Attachments (issue 9 calls note_attachments_changed)


def test_a_note_whose_attachments_changed_comes_again_at_the_same_version(auth_client, note, since):
    before = auth_client.get(f"/api/notes/{note.pk}/").json()

    note_attachments_changed(note=note)
    [entry] = read(auth_client, since)["changes"]

    assert entry == before
    assert note.revisions.count() == 0


def test_an_attachment_change_does_not_conflict_with_an_edit(auth_client, note):
    note_attachments_changed(note=note)

    response = auth_client.patch(f"/api/notes/{note.pk}/", {"title": "Edited"}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 200


# Conflicts and the feed


def test_a_412_answers_the_state_the_feed_brings_next(auth_client, note, since):
    note_update(note=note, title="From another device")

    conflict = auth_client.patch(f"/api/notes/{note.pk}/", {"content": "mine"}, HTTP_IF_MATCH='"1"')

    assert conflict.status_code == 412
    assert read(auth_client, since)["changes"] == [conflict.json()["current"]]
    assert conflict.json()["changed_fields"] == ["title"]


# Positions


def test_positions_grow_by_one_per_change_and_by_n_per_bulk_creation(user):
    first = note_create(owner=user, title="one")
    note_update(note=first, title="one, edited")
    many = note_create_many(owner=user, notes=[{"title": "a"}, {"title": "b"}])
    positions = dict(Note.objects.filter(pk__in=many).values_list("pk", "change_seq"))

    assert [first.change_seq, *(positions[pk] for pk in many)] == [2, 3, 4]
    assert ChangeCounter.objects.get(owner=user).last_seq == 4


def test_a_change_rolled_back_gives_its_position_back(user):
    note_create(owner=user, title="one")

    def create_then_fail():
        with transaction.atomic():
            note_create(owner=user, title="rolled back")
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        create_then_fail()

    assert note_create(owner=user, title="two").change_seq == 2


@pytest.mark.django_db(transaction=True)
def test_taking_a_position_outside_a_transaction_is_refused(user):
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        feed.advance(user.pk)


def test_deleting_the_account_deletes_its_feed(user):
    NoteFactory(owner=user)
    note_delete_forever(note=note_trash(note=NoteFactory(owner=user)))

    user.delete()

    assert not ChangeCounter.objects.exists()
    assert not PurgedNote.objects.exists()


# Cost


def test_reading_200_changes_costs_four_queries(auth_client, user, django_assert_num_queries):
    created = note_create_many(owner=user, notes=[{"title": f"n{i}"} for i in range(300)])
    for pk in created[:50]:
        note_trash(note=Note.objects.get(pk=pk))
    for pk in created[:10]:
        note_delete_forever(note=Note.objects.get(pk=pk))
    cursor = read(auth_client, limit=5)["cursor"]

    # the token with its user; the page (one UNION of notes and tombstones);
    # the owner's counter (is the cursor still answerable?); the notes named
    with django_assert_num_queries(4):
        page = read(auth_client, cursor, limit=200)

    assert len(page["changes"]) == 200


def test_the_first_page_skips_the_cursor_check(auth_client, user, django_assert_num_queries):
    note_create_many(owner=user, notes=[{"title": f"n{i}"} for i in range(300)])

    with django_assert_num_queries(3):  # the token with its user, the page, the notes named
        page = read(auth_client)

    assert len(page["changes"]) == 200


def test_the_api_root_links_the_feed(auth_client):
    assert auth_client.get("/api/").json()["changes"] == "http://testserver/api/changes/"


def test_the_feed_renders_in_the_browsable_api(client, user):
    NoteFactory(owner=user, title="Seen in a browser")
    client.force_login(user)

    response = client.get(URL, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Seen in a browser" in response.content

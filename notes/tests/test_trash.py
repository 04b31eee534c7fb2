"""The trash (SPEC 3, "Nothing lost"): restore a note, or delete it forever."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from notes.models import Note, NoteTag, PurgedNote, Revision
from notes.services import note_trash, note_update, notes_purge
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

TRASHED_FIELDS = {
    "id",
    "url",
    "title",
    "content",
    "pinned",
    "tags",
    "created_at",
    "updated_at",
    "version",
    "deleted_at",
}


@pytest.fixture
def trashed(user):
    return note_trash(note=NoteFactory(owner=user, title="Old", content="words", tags=["home"]))


def trashed_days_ago(note, days):
    Note.objects.filter(pk=note.pk).update(deleted_at=timezone.now() - timedelta(days=days))


def test_deleted_note_is_listed_in_the_trash_with_deleted_at(auth_client, user):
    note = NoteFactory(owner=user, title="Old")

    auth_client.delete(f"/api/notes/{note.pk}/")
    response = auth_client.get("/api/trash/")

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    [item] = body["results"]
    assert set(item) == TRASHED_FIELDS
    assert (item["id"], item["title"], item["version"]) == (note.pk, "Old", 2)
    assert item["url"] == f"http://testserver/api/trash/{note.pk}/"
    assert item["deleted_at"].endswith("Z")


def test_trash_lists_the_most_recently_trashed_first_and_pages(auth_client, user):
    notes = [note_trash(note=NoteFactory(owner=user)) for _ in range(5)]
    for days, note in enumerate(notes):
        trashed_days_ago(note, days)

    first = auth_client.get("/api/trash/", {"limit": 3}).json()
    second = auth_client.get(first["next"]).json()

    assert [n["id"] for n in first["results"] + second["results"]] == [note.pk for note in notes]
    assert second["next"] is None


def test_trash_lists_neither_live_notes_nor_other_users_notes(auth_client, user, other_user, trashed):
    NoteFactory(owner=user)
    note_trash(note=NoteFactory(owner=other_user))

    results = auth_client.get("/api/trash/").json()["results"]

    assert [n["id"] for n in results] == [trashed.pk]


def test_trashed_note_is_shown_with_its_etag(auth_client, trashed):
    response = auth_client.get(f"/api/trash/{trashed.pk}/")

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    assert response.json()["content"] == "words"
    assert auth_client.get(f"/api/trash/{trashed.pk}/", HTTP_IF_NONE_MATCH='"2"').status_code == 304


def test_a_live_note_is_not_in_the_trash(auth_client, user):
    note = NoteFactory(owner=user)

    assert auth_client.get(f"/api/trash/{note.pk}/").status_code == 404
    assert auth_client.post(f"/api/trash/{note.pk}/restore/").status_code == 404
    assert auth_client.delete(f"/api/trash/{note.pk}/").status_code == 404
    assert Note.objects.get(pk=note.pk).version == 1


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("post", "restore/"), ("delete", "")])
def test_another_users_trashed_note_is_404_like_a_missing_one(auth_client, other_user, method, suffix):
    others = note_trash(note=NoteFactory(owner=other_user))

    response = getattr(auth_client, method)(f"/api/trash/{others.pk}/{suffix}")
    missing = getattr(auth_client, method)(f"/api/trash/999999/{suffix}")

    assert response.status_code == 404
    assert response.json() == missing.json()
    others.refresh_from_db()
    assert (others.version, others.is_trashed) == (2, True)


def test_restore_brings_the_note_back_as_a_new_version(auth_client, trashed):
    response = auth_client.post(f"/api/trash/{trashed.pk}/restore/")

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    body = response.json()
    assert (body["id"], body["title"], body["tags"], body["version"]) == (trashed.pk, "Old", ["home"], 3)
    assert body["url"] == f"http://testserver/api/notes/{trashed.pk}/"
    assert auth_client.get(f"/api/notes/{trashed.pk}/").status_code == 200
    assert auth_client.get("/api/trash/").json()["results"] == []
    assert Revision.objects.filter(note=trashed, version=2).exists()


def test_restore_with_matching_if_match(auth_client, trashed):
    assert auth_client.post(f"/api/trash/{trashed.pk}/restore/", HTTP_IF_MATCH='"2"').status_code == 200


def test_delete_forever_removes_the_note_its_revisions_and_tags(auth_client, trashed):
    response = auth_client.delete(f"/api/trash/{trashed.pk}/")

    assert response.status_code == 204
    assert not Note.objects.filter(pk=trashed.pk).exists()
    assert not Revision.objects.filter(note_id=trashed.pk).exists()
    assert not NoteTag.objects.filter(note_id=trashed.pk).exists()
    assert auth_client.get(f"/api/trash/{trashed.pk}/").status_code == 404


def test_emptying_the_trash_deletes_only_the_users_trashed_notes(auth_client, user, other_user, trashed):
    live = NoteFactory(owner=user)
    others = note_trash(note=NoteFactory(owner=other_user))

    response = auth_client.delete("/api/trash/")

    assert response.status_code == 204
    assert not Note.objects.filter(pk=trashed.pk).exists()
    assert Note.objects.filter(pk__in=[live.pk, others.pk]).count() == 2


@pytest.mark.parametrize("slash", ["", "/"])
def test_trash_routes_work_with_and_without_trailing_slash(auth_client, user, slash):
    notes = [note_trash(note=NoteFactory(owner=user)) for _ in range(2)]

    assert auth_client.get(f"/api/trash{slash}").status_code == 200
    assert auth_client.get(f"/api/trash/{notes[0].pk}{slash}").status_code == 200
    assert auth_client.post(f"/api/trash/{notes[0].pk}/restore{slash}").status_code == 200
    assert auth_client.delete(f"/api/trash/{notes[1].pk}{slash}").status_code == 204
    assert auth_client.delete(f"/api/trash{slash}").status_code == 204


def test_anonymous_trash_requests_are_401(api_client, trashed):
    assert api_client.get("/api/trash/").status_code == 401
    assert api_client.get(f"/api/trash/{trashed.pk}/").status_code == 401
    assert api_client.post(f"/api/trash/{trashed.pk}/restore/").status_code == 401
    assert api_client.delete(f"/api/trash/{trashed.pk}/").status_code == 401
    assert api_client.delete("/api/trash/").status_code == 401
    assert Note.objects.filter(pk=trashed.pk).exists()


def test_listing_the_trash_costs_two_queries(auth_client, user, django_assert_num_queries):
    for _ in range(20):
        note_trash(note=NoteFactory(owner=user, tags=["a", "b"]))

    with django_assert_num_queries(2):  # the token with its user, the page
        response = auth_client.get("/api/trash/")

    assert len(response.json()["results"]) == 20


def test_showing_a_trashed_note_costs_two_queries(auth_client, trashed, django_assert_num_queries):
    with django_assert_num_queries(2):  # the token with its user, the note
        auth_client.get(f"/api/trash/{trashed.pk}/")


# Purging


def test_purge_trash_deletes_what_was_trashed_longer_ago_than_the_setting(user, settings):
    settings.NOTES_TRASH_DAYS = 30
    old = note_trash(note=NoteFactory(owner=user))
    recent = note_trash(note=NoteFactory(owner=user))
    live = NoteFactory(owner=user)
    trashed_days_ago(old, 31)
    trashed_days_ago(recent, 29)
    out = StringIO()

    call_command("purge_trash", stdout=out)

    assert set(Note.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
    assert "Deleted 1 note" in out.getvalue()


def test_purge_trash_takes_the_age_from_the_command_line(user):
    note = note_trash(note=NoteFactory(owner=user))
    trashed_days_ago(note, 3)

    call_command("purge_trash", "--days", "2", stdout=StringIO())

    assert not Note.objects.filter(pk=note.pk).exists()


@pytest.mark.parametrize("days", ["1000000", "999999999999"])
def test_purge_trash_takes_days_past_year_one_as_keep_forever(user, days):
    note = note_trash(note=NoteFactory(owner=user))
    trashed_days_ago(note, 3)
    out = StringIO()

    call_command("purge_trash", "--days", days, stdout=out)

    assert Note.objects.filter(pk=note.pk).exists()
    assert "Deleted 0 note(s) trashed before 0001-01-01 00:00 UTC." in out.getvalue()


@pytest.mark.parametrize("tombstone_days", [1_000_000, 999_999_999])
def test_purge_trash_takes_tombstone_days_past_year_one_as_keep_forever(user, settings, tombstone_days):
    settings.NOTES_FEED_TOMBSTONE_DAYS = tombstone_days
    note = note_trash(note=NoteFactory(owner=user))
    trashed_days_ago(note, 3)
    out = StringIO()

    call_command("purge_trash", "--days", "2", stdout=out)

    assert not Note.objects.filter(pk=note.pk).exists()
    assert PurgedNote.objects.filter(note_id=note.pk).exists()
    assert "Forgot 0 change feed tombstone(s) of notes deleted forever before 0001-01-01 00:00 UTC." in out.getvalue()


def test_purge_works_in_batches_until_done(user, other_user):
    for owner in (user, other_user):
        for _ in range(5):
            note_trash(note=NoteFactory(owner=owner))

    deleted = notes_purge(notes=Note.objects.all(), batch_size=2)

    assert deleted == 10
    assert not Note.objects.exists()


def test_purge_leaves_live_notes_alone(user):
    note = NoteFactory(owner=user)
    note_update(note=note, title="edited")

    assert notes_purge(notes=Note.objects.all()) == 0
    assert Note.objects.filter(pk=note.pk).exists()


def test_the_api_root_links_the_trash_export_and_import(auth_client):
    links = auth_client.get("/api/").json()

    assert links["trash"] == "http://testserver/api/trash/"
    assert links["export"] == "http://testserver/api/export/"
    assert links["import"] == "http://testserver/api/import/"

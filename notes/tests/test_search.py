"""Ranked full-text search: GET /api/notes/?search=..."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from notes.models import Note
from notes.search import install_index, search_notes
from notes.searchtext import query_terms
from notes.services import note_create_many, note_trash, note_update
from notes.tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def search(client, text, **params):
    response = client.get("/api/notes/", {"search": text, **params})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(results):
    return [note["id"] for note in results]


def found(owner, word):
    """The ids the index finds for `word` among `owner`'s live notes."""
    queryset = search_notes(Note.objects.owned_by(owner).alive(), owner=owner, terms=query_terms(word))
    return set(queryset.values_list("pk", flat=True))


def test_search_finds_notes_with_every_word(auth_client, user):
    both = NoteFactory(owner=user, title="Groceries", content="buy milk and eggs")
    NoteFactory(owner=user, title="Dairy", content="milk only")
    NoteFactory(owner=user, title="Unrelated", content="nothing here")

    assert ids(search(auth_client, "milk eggs")) == [both.pk]


def test_a_title_match_outranks_a_content_only_match(auth_client, user):
    older_in_title = NoteFactory(owner=user, title="Tomatoes again", content="x")
    in_content = NoteFactory(owner=user, title="Shopping", content="tomatoes, tomatoes and more tomatoes")
    in_title = NoteFactory(owner=user, title="Tomatoes", content="for the sauce")

    results = ids(search(auth_client, "tomatoes"))

    assert results.index(in_title.pk) < results.index(in_content.pk)
    assert results.index(older_in_title.pk) < results.index(in_content.pk)


def test_more_occurrences_rank_higher(auth_client, user):
    once = NoteFactory(owner=user, title="a", content="kiwi and a lot of other words about fruit in general")
    thrice = NoteFactory(owner=user, title="b", content="kiwi kiwi kiwi")

    assert ids(search(auth_client, "kiwi")) == [thrice.pk, once.pk]


def test_search_ignores_case_and_accents(auth_client, user):
    note = NoteFactory(owner=user, title="Crème brûlée", content="")

    assert ids(search(auth_client, "CREME BRULEE")) == [note.pk]


def test_snippet_marks_matches_and_escapes_everything_else(auth_client, user):
    NoteFactory(owner=user, title="t", content='<script>alert("milk")</script> & Milk & more')

    (result,) = search(auth_client, "milk")

    assert result["snippet"] == (
        "&lt;script&gt;alert(&quot;<mark>milk</mark>&quot;)&lt;/script&gt; &amp; <mark>Milk</mark> &amp; more"
    )


def test_snippet_is_an_excerpt_around_the_first_match(auth_client, user):
    NoteFactory(owner=user, title="t", content="filler " * 100 + "needle " + "tail " * 100)

    (result,) = search(auth_client, "needle")

    assert result["snippet"].startswith("…")
    assert result["snippet"].endswith("…")
    assert "<mark>needle</mark>" in result["snippet"]
    assert len(result["snippet"]) < 300


def test_snippet_shows_the_title_when_only_the_title_matches(auth_client, user):
    NoteFactory(owner=user, title="Plan <b>B</b>", content="nothing relevant")

    (result,) = search(auth_client, "plan")

    assert result["snippet"] == "<mark>Plan</mark> &lt;b&gt;B&lt;/b&gt;"


def test_snippet_is_null_outside_a_search(auth_client, user):
    note = NoteFactory(owner=user, title="milk")

    listed = auth_client.get("/api/notes/").json()["results"][0]
    detail = auth_client.get(f"/api/notes/{note.pk}/").json()

    assert listed["snippet"] is None
    assert detail["snippet"] is None


@pytest.mark.parametrize(
    ("query", "expected_mark"),
    [("東京", "東京"), ("タワー", "タワー"), ("京タワ", "京タワ"), ("东京", None)],
)
def test_japanese_is_found_by_two_or_more_characters(auth_client, user, query, expected_mark):
    note = NoteFactory(owner=user, title="旅行", content="東京タワーへ行きました。")

    results = search(auth_client, query)

    if expected_mark is None:
        assert results == []
    else:
        assert ids(results) == [note.pk]
        assert f"<mark>{expected_mark}</mark>" in results[0]["snippet"]


def test_chinese_is_found_inside_a_sentence(auth_client, user):
    note = NoteFactory(owner=user, title="会议", content="我们明天在北京开会。")
    NoteFactory(owner=user, title="other", content="北方")

    assert ids(search(auth_client, "北京")) == [note.pk]
    assert ids(search(auth_client, "明天 开会")) == [note.pk]


def test_cjk_run_must_appear_in_a_row(auth_client, user):
    NoteFactory(owner=user, title="t", content="東京 and タワー apart")

    assert search(auth_client, "東京タワー") == []


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "milk*",
        "-milk",
        "NEAR(milk eggs)",
        "milk AND OR NOT",
        "((milk",
        "milk)",
        "'; DROP TABLE notes_note; --",
        "1' OR '1'='1",
        "title:milk",
        "{title}: milk",
        "^milk",
        "🥛🥚",
        "\\",
        "%_%",
        "milk " * 30,
    ],
)
def test_hostile_queries_answer_200(auth_client, user, query):
    NoteFactory(owner=user, title="milk", content="eggs")

    response = auth_client.get("/api/notes/", {"search": query})

    assert response.status_code == 200


def test_a_query_of_only_symbols_finds_nothing(auth_client, user):
    NoteFactory(owner=user, title="milk")

    assert search(auth_client, "🙂 *** (((") == []


def test_an_empty_search_is_no_search(auth_client, user):
    NoteFactory(owner=user, title="milk")

    results = search(auth_client, "   ")

    assert len(results) == 1
    assert results[0]["snippet"] is None


@pytest.mark.parametrize(
    "query",
    ["x" * 10_000, "word " * 2_000, " ".join(f"w{i}" for i in range(33)), "milk\x00"],
)
def test_overlong_or_bad_search_is_400_naming_it(auth_client, db, query):
    response = auth_client.get("/api/notes/", {"search": query})

    assert response.status_code == 400
    assert "search" in response.json()


def test_search_never_finds_another_users_notes(auth_client, user, other_user):
    NoteFactory(owner=other_user, title="secret milk")

    assert search(auth_client, "milk") == []


def test_search_combines_with_filters(auth_client, user):
    match = NoteFactory(owner=user, title="milk", tags=["home"])
    note_update(note=match, pinned=True)
    NoteFactory(owner=user, title="milk", tags=["home"])  # not pinned
    pinned_other_tag = NoteFactory(owner=user, title="milk", tags=["work"])
    note_update(note=pinned_other_tag, pinned=True)

    results = search(auth_client, "milk", pinned="true", tag="home", updated_since="2000-01-01")

    assert ids(results) == [match.pk]


def test_ordering_overrides_rank_in_a_search(auth_client, user):
    b = NoteFactory(owner=user, title="B milk milk", content="milk")
    a = NoteFactory(owner=user, title="A", content="milk")

    results = search(auth_client, "milk", ordering="title")

    assert ids(results) == [a.pk, b.pk]
    assert all(note["snippet"] for note in results)


def walk_search(client, text, limit):
    seen, url = [], f"/api/notes/?search={text}&limit={limit}"
    while url:
        body = client.get(url).json()
        seen += ids(body["results"])
        url = body["next"]
    return seen


def test_search_pages_walk_the_ranked_results_once(auth_client, user):
    for i in range(9):
        NoteFactory(owner=user, title=f"note {i}", content="milk " * (i % 3 + 1))
    NoteFactory(owner=user, title="milk in the title", content="")

    seen = walk_search(auth_client, "milk", limit=2)

    assert seen == ids(search(auth_client, "milk", limit=50))
    assert len(seen) == 10


def test_search_walk_sees_unchanged_notes_once_while_others_change(auth_client, user):
    matching = [NoteFactory(owner=user, title=f"n{i}", content="milk " * (i % 4 + 1)) for i in range(12)]
    changing = matching[::4]
    stable = {note.pk for note in matching if note not in changing}

    seen, url, step = [], "/api/notes/?search=milk&limit=3", 0
    while url:
        body = auth_client.get(url).json()
        seen += ids(body["results"])
        url = body["next"]
        # Between pages other notes are written, which moves every bm25 rank.
        NoteFactory(owner=user, title="unrelated", content="words " * step)
        NoteFactory(owner=user, title="more milk", content="milk")
        if step < len(changing):
            note = Note.objects.get(pk=changing[step].pk)
            if step % 2:
                note_trash(note=note)
            else:
                note_update(note=note, content="milk milk milk milk milk milk")
        step += 1

    assert len(seen) == len(set(seen))
    assert stable <= set(seen)


def test_other_users_notes_move_no_rank_so_a_walk_sees_each_note_once(auth_client, user, other_user):
    # bm25 weighed each word by every user's notes: after another user wrote notes with "w1",
    # the next page after X ranked Y before X and the walk ended without it.
    x = NoteFactory(owner=user, title="x", content="w1 w1 w1 w2")
    y = NoteFactory(owner=user, title="y", content="w1 w2 w2 w2")
    note_create_many(owner=other_user, notes=[{"title": "t", "content": "w2"}] * 20)
    first = auth_client.get("/api/notes/", {"search": "w1 w2", "limit": 1}).json()

    note_create_many(owner=other_user, notes=[{"title": "t", "content": "w1"}] * 300)
    second = auth_client.get(first["next"]).json()

    assert ids(first["results"]) + ids(second["results"]) in ([x.pk, y.pk], [y.pk, x.pk])
    assert second["next"] is None


@pytest.mark.parametrize("change", ["edited", "trashed"])
def test_a_walk_sees_each_unchanged_note_once_when_the_note_its_cursor_stands_on_changes(auth_client, user, change):
    # The next page was positioned on the cursor note's rank as it was then: when that note moved, so did the walk.
    notes = [NoteFactory(owner=user, title=f"n{i}", content="milk " * (i + 1)) for i in range(8)]
    first = auth_client.get("/api/notes/", {"search": "milk", "limit": 3}).json()
    standing_on = Note.objects.get(pk=first["results"][-1]["id"])
    if change == "edited":
        note_update(note=standing_on, content="milk " * 20)  # now the first of all
    else:
        note_trash(note=standing_on)

    seen, url = ids(first["results"]), first["next"]
    while url:
        body = auth_client.get(url).json()
        seen += ids(body["results"])
        url = body["next"]

    unchanged = {note.pk for note in notes} - {standing_on.pk}
    assert [pk for pk in seen if pk in unchanged] == sorted(unchanged, reverse=True)  # most milk first, each once


@pytest.mark.parametrize(
    ("query", "contents", "expected"),
    [
        # Each occurrence counts, neighbours too (they share no space).
        ("kiwi", ["kiwi", "kiwi kiwi kiwi", "kiwi kiwi"], [1, 2, 0]),
        # A word inside another is no occurrence; a phrase's words in order are.
        ("new york", ["new york new york", "york new york", "newyork new york new"], [0, 2, 1]),
        ("kiwi", ["kiwis kiwi", "akiwi kiwi kiwi"], [1, 0]),
    ],
)
def test_the_rank_counts_whole_occurrences_of_each_term(user, query, contents, expected):
    notes = [NoteFactory(owner=user, title="t", content=content) for content in contents]

    ranked = search_notes(Note.objects.owned_by(user).alive(), owner=user, terms=query_terms(query))

    assert list(ranked.values_list("pk", flat=True)) == [notes[i].pk for i in expected]


def test_a_common_word_ranks_only_the_newest_matches(auth_client, user, settings):
    settings.NOTES_SEARCH_WINDOW = 3
    notes = [NoteFactory(owner=user, title="milk", content="") for _ in range(5)]
    newest = {note.pk for note in notes[-3:]}

    assert set(ids(search(auth_client, "milk"))) == newest


@pytest.mark.parametrize("ordering", [None, "-created_at", "created_at", "title", "-title", "-updated_at"])
def test_a_walk_keeps_the_window_it_started_in_while_notes_are_created(auth_client, user, settings, ordering):
    # The window was the newest matches at each page: notes created during the walk pushed the
    # oldest out of later pages, which `-created_at` shows last (found by the concurrency probe).
    settings.NOTES_SEARCH_WINDOW = 8
    older = [NoteFactory(owner=user, title=f"old {i}", content="milk") for i in range(4)]
    window = [NoteFactory(owner=user, title=f"n{i:02}", content="milk " * (i % 3 + 1)) for i in range(8)]

    seen, url, pages = [], "/api/notes/?search=milk&limit=3" + (f"&ordering={ordering}" if ordering else ""), 0
    while url and pages < 20:
        body = auth_client.get(url).json()
        seen += ids(body["results"])
        url, pages = body["next"], pages + 1
        if pages <= 2:
            NoteFactory.create_batch(4, owner=user, title="new", content="milk")

    assert sorted(pk for pk in seen if pk in {note.pk for note in window}) == sorted(note.pk for note in window)
    assert len(seen) == len(set(seen))
    assert not {note.pk for note in older} & set(seen)  # outside the window when the walk started
    # A new walk starts from the newest matches again.
    assert set(ids(search(auth_client, "milk", limit=50))).isdisjoint(note.pk for note in window)


def test_search_costs_two_queries(auth_client, user, django_assert_num_queries):
    for i in range(30):
        NoteFactory(owner=user, title=f"milk {i}", content="milk", tags=["a", "b"])
    next_page = auth_client.get("/api/notes/?search=milk&limit=10").json()["next"]

    with django_assert_num_queries(2):  # the token with its user, the page
        auth_client.get("/api/notes/?search=milk&limit=30")
    with django_assert_num_queries(2):
        auth_client.get(next_page)


# The index follows every path that writes notes.


def test_index_follows_an_update(user):
    note = NoteFactory(owner=user, title="old title", content="old words")

    note_update(note=note, title="new title", content="fresh words")

    assert found(user, "old") == set()
    assert found(user, "fresh") == {note.pk}
    assert found(user, "new") == {note.pk}


def test_index_follows_a_change_through_the_api(auth_client, user):
    note = NoteFactory(owner=user, title="before", content="")

    auth_client.patch(f"/api/notes/{note.pk}/", {"content": "after"}, format="json")

    assert found(user, "after") == {note.pk}
    assert found(user, "before") == {note.pk}


def test_pinning_keeps_the_note_findable(user):
    note = NoteFactory(owner=user, title="milk")

    note_update(note=note, pinned=True, tags=["x"])

    assert found(user, "milk") == {note.pk}


def test_trash_removes_a_note_from_the_index_and_restore_puts_it_back(user):
    note = NoteFactory(owner=user, title="milk")

    note_trash(note=note)
    assert found(user, "milk") == set()

    # A restore is a write of deleted_at back to null, whatever code does it.
    Note.objects.filter(pk=note.pk).update(deleted_at=None)
    assert found(user, "milk") == {note.pk}


def test_bulk_created_notes_are_indexed(user):
    created = note_create_many(
        owner=user,
        notes=[{"title": "bulk one", "content": "東京タワー"}, {"title": "bulk two", "tags": ["x"]}],
        batch_size=1,
    )

    assert found(user, "bulk") == set(created)
    assert found(user, "タワー") == {created[0]}
    assert list(Note.objects.get(pk=created[1]).tag_index.values_list("name", flat=True)) == ["x"]


def test_tag_rename_keeps_notes_findable(auth_client, user):
    note = NoteFactory(owner=user, title="milk", tags=["home"])

    auth_client.post("/api/tags/rename/", {"from": "home", "to": "house"}, format="json")

    assert found(user, "milk") == {note.pk}


def test_deleting_notes_removes_them_from_the_index(user):
    note = NoteFactory(owner=user, title="milk")

    Note.objects.filter(pk=note.pk).delete()

    assert found(user, "milk") == set()
    assert indexed_rows() == 0


def test_deleting_a_user_removes_their_notes_from_the_index(user, other_user):
    NoteFactory(owner=user, title="milk")
    kept = NoteFactory(owner=other_user, title="milk")

    user.delete()

    assert found(other_user, "milk") == {kept.pk}
    assert indexed_rows() == 1


def indexed_rows():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM notes_fts")
        else:
            cursor.execute("SELECT count(*) FROM notes_note WHERE search_vector IS NOT NULL AND deleted_at IS NULL")
        return cursor.fetchone()[0]


@pytest.mark.sqlite
def test_a_rebuilt_notes_table_gets_its_triggers_back_and_the_index_is_rebuilt(user):
    note = NoteFactory(owner=user, title="milk")
    with connection.cursor() as cursor:
        # What Django's SQLite schema editor does to alter a table: the copy
        # has no triggers, and writes meanwhile miss the index.
        cursor.execute("DROP TRIGGER notes_fts_update")
    note_update(note=note, title="cream")
    assert found(user, "cream") == set()

    install_index(connection)

    assert found(user, "cream") == {note.pk}
    assert found(user, "milk") == set()
    note_update(note=Note.objects.get(pk=note.pk), title="butter")
    assert found(user, "butter") == {note.pk}


def test_the_index_is_left_alone_on_a_notes_table_without_search_text(db, monkeypatch):
    # As after `migrate notes 0002`: triggers naming missing columns would
    # break every insert.
    describe = connection.introspection.get_table_description

    def without_search_text(cursor, table):
        return [column for column in describe(cursor, table) if not column.name.startswith("search_")]

    monkeypatch.setattr(connection.introspection, "get_table_description", without_search_text)

    with CaptureQueriesContext(connection) as queries:
        install_index(connection)

    assert not any("CREATE" in query["sql"] or "ALTER" in query["sql"] for query in queries)


def test_index_follows_an_edit_and_a_bulk_trash_in_the_admin(client, user):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    note = NoteFactory(owner=user, title="draft", content="old words")
    other = NoteFactory(owner=user, title="draft two", content="")

    response = client.post(
        f"/admin/notes/note/{note.pk}/change/",
        {"title": "final", "content": "new words", "tags": "", "seen_version": note.version},
    )
    assert response.status_code == 302
    client.post("/admin/notes/note/", {"action": "move_to_trash", "_selected_action": [other.pk]})

    assert found(user, "new") == {note.pk}
    assert found(user, "old") == set()
    assert found(user, "draft") == set()


def test_index_follows_every_nothing_lost_path(auth_client, user):
    """Trash restore, revision restore, import and delete forever, through the API."""
    note = NoteFactory(owner=user, title="apple")
    auth_client.patch(f"/api/notes/{note.pk}/", {"title": "banana"}, format="json")
    assert found(user, "apple") == set()

    auth_client.post(f"/api/notes/{note.pk}/revisions/1/restore/")
    assert found(user, "apple") == {note.pk}

    auth_client.delete(f"/api/notes/{note.pk}/")
    auth_client.post(f"/api/trash/{note.pk}/restore/")
    assert found(user, "apple") == {note.pk}

    auth_client.delete(f"/api/notes/{note.pk}/")
    auth_client.delete(f"/api/trash/{note.pk}/")
    assert found(user, "apple") == set()

    imported = auth_client.post("/api/import/", [{"title": "cherry imported"}], format="json").json()["ids"]
    assert found(user, "cherry") == set(imported)

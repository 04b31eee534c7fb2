"""Full-text search over notes: one interface, SQLite FTS5 or PostgreSQL text search.

Everything that differs between the databases is here, chosen by
`connection.vendor`; the rest of the code calls `search_notes()` and
`install_index()` and never asks which database it runs on.

Both engines index the search text that `notes.searchtext` computes in
Python (stored on the note by `notes.services`), so a query finds the same
notes on both:

- SQLite: a contentless FTS5 table `notes_fts` (title, content and owner
  columns), kept in step with `notes_note` by triggers, so every write that
  reaches the table (API, admin, bulk inserts, trash, restore, deletes that
  cascade from a user) updates the index in the same transaction. Only live
  notes are indexed. Ranked by the terms' occurrences in the note, the
  title weighted above the content.
- PostgreSQL: a stored generated tsvector column `search_vector` (title
  weighted A, content B) with a GIN index over live notes. Ranked with
  ts_rank.

A search ranks a bounded set: the NOTES_SEARCH_WINDOW most recently created
live notes of the user that contain every term. A rare word has fewer
matches than that and all of them are ranked; a word in half a million
notes ranks only its newest matches, which keeps every search fast. The
window is fixed when a walk over the pages starts: a page's notes carry its
floor (`window_floor`), which the next page's cursor gives back, so notes
created during the walk push no match out of its later pages.
"""

from django.conf import settings
from django.db import connections
from django.db.models import BooleanField, F, FloatField, Func, IntegerField, Lookup, Subquery, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from notes.models import Note, SearchDocumentField

FTS_TABLE = "notes_fts"
TRIGGERS = ("notes_fts_insert", "notes_fts_delete", "notes_fts_update")
# How much more a word in the title counts than one in the content on SQLite
# (PostgreSQL's ts_rank weighs A, the title, 1.0 and B, the content, 0.4).
TITLE_WEIGHT = 10.0


def search_notes(queryset, *, owner, terms, window_floor=None):
    """The notes of `queryset` that contain every term, within the search window.

    `terms` come from `notes.searchtext.query_terms`. Each note is annotated
    with `search_rank`, higher for a better match: 1 plus the relevance if
    a term is in the title, the relevance alone otherwise, the relevance
    between 0 and 1 (occurrences or ts_rank, x / (1 + x)). So a title match always
    outranks a match in the content only. The queryset is ordered by rank,
    then newest first.

    Each note is also annotated with `window_floor`, the id the window starts
    from (the matches at or above it are the window); given back as
    `window_floor`, the window starts there, whatever has been created since.
    """
    if not terms:
        return queryset.none()
    vendor = connections[queryset.db].vendor
    if vendor == "sqlite":
        search, floor = _search_sqlite, SQLiteWindowFloor(match=fts_match(terms, owner=owner), window=search_window())
    elif vendor == "postgresql":
        search, floor = _search_postgresql, _postgresql_window_floor(owner=owner, terms=terms)
    else:
        raise NotImplementedError(f"No full-text search on {vendor}.")
    if window_floor is not None:
        floor = Value(window_floor)
    queryset = search(queryset, terms=terms, floor=floor)
    return queryset.order_by("-search_rank", "-id")


# --- SQLite: FTS5 --------------------------------------------------------------


@SearchDocumentField.register_lookup
class Match(Lookup):
    lookup_name = "match"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", [*lhs_params, *rhs_params]


class SQLiteWindowFloor(Func):
    """The lowest rowid (a note's id) of the owner's newest `window` matches, 0 when none match.

    The index finds those itself (its owner column included), newest first,
    in a fraction of a millisecond however common the words.
    """

    output_field = IntegerField()

    def __init__(self, *, match, window):
        super().__init__()
        self.match, self.window = match, window

    def as_sql(self, compiler, connection, **extra_context):
        sql = (
            f"(SELECT coalesce(min(rowid), 0) FROM (SELECT rowid FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH %s ORDER BY rowid DESC LIMIT %s))"
        )
        return sql, [self.match, self.window]


class InSearchWindow(Func):
    """The index's row is at or above the window's floor: a range of rowids FTS5 seeks to directly."""

    output_field = BooleanField()
    conditional = True

    def as_sql(self, compiler, connection, **extra_context):
        document, floor = self.get_source_expressions()
        rowid = f"{connection.ops.quote_name(document.alias)}.rowid"
        floor_sql, floor_params = compiler.compile(floor)
        return f"{rowid} >= {floor_sql}", floor_params


class OccurrenceRank(Func):
    """search_rank on SQLite, from the note's own words: 1 if a term is in the title, plus the relevance.

    The relevance is x / (1 + x) of the terms' occurrences, one in the title
    counting TITLE_WEIGHT times one in the content. It was bm25, which weighs
    each word by how many notes of the whole index hold it, every user's:
    a note's rank moved whenever anyone wrote, and a walk over a search's
    pages skipped or repeated notes nobody changed. Like ts_rank, this reads
    the note alone, and only the ranked notes (bm25 read the list of every
    note with the word).

    Occurrences are counted in the search text (words between single
    spaces) as SQL's replace() finds them: in the text with its spaces
    doubled, a term's words with theirs doubled and a space either side, so
    that neighbouring occurrences share no space.
    """

    output_field = FloatField()

    def __init__(self, terms):
        super().__init__(F("search_title"), F("search_content"))
        self.patterns = [f" {'  '.join(term)} " for term in terms]

    def as_sql(self, compiler, connection, **extra_context):
        counts, params = [], []
        for expression in self.get_source_expressions():  # the title, then the content
            column, column_params = compiler.compile(expression)
            spaced = f"(' ' || replace({column}, ' ', '  ') || ' ')"
            counts.append(
                " + ".join(
                    f"(length({spaced}) - length(replace({spaced}, %s, ''))) / {len(pattern)}"
                    for pattern in self.patterns
                )
            )
            params += [value for pattern in self.patterns for value in (*column_params, *column_params, pattern)]
        title, content = counts
        hits = f"({TITLE_WEIGHT} * t + c)"
        return f"(SELECT (t > 0) + {hits} / (1.0 + {hits}) FROM (SELECT {title} AS t, {content} AS c))", params


def fts_match(terms, *, owner=None):
    """An FTS5 query for `terms`: every term, as a phrase, in the title or the content.

    Terms are made only of letters, digits and marks (notes.searchtext), so
    quoting them as FTS5 strings is safe: nothing the user typed is ever
    read as FTS5 syntax.
    """
    phrases = " AND ".join(f'"{" ".join(term)}"' for term in terms)
    match = f"{{search_title search_content}} : ({phrases})"
    return f'owner_id : "{owner.pk}" AND {match}' if owner is not None else match


def _search_sqlite(queryset, *, terms, floor):
    return (
        queryset.filter(search_entry__document__match=fts_match(terms))
        .annotate(window_floor=floor)
        .filter(InSearchWindow(F("search_entry__document"), F("window_floor")))
        .annotate(search_rank=OccurrenceRank(terms))
    )


# --- PostgreSQL: tsvector -------------------------------------------------------


def tsquery_text(terms, operator="&"):
    """A to_tsquery() text for `terms`: lexemes quoted, phrases joined with <->."""
    return f" {operator} ".join("(" + " <-> ".join(f"'{word}'" for word in term) + ")" for term in terms)


def _postgresql_matches(terms):
    every = tsquery_text(terms, "&")
    return RawSQL("search_vector @@ to_tsquery('simple'::regconfig, %s)", [every], output_field=BooleanField())


def _postgresql_window_floor(*, owner, terms):
    """The id of the owner's window-th newest match, 0 when fewer match.

    One scalar subquery, run once (an "IN (window)" would be planned as a
    loop over it while the table's statistics are stale, e.g. right after an
    import).
    """
    size = search_window()
    matching = Note.objects.owned_by(owner).alive().filter(_postgresql_matches(terms))
    return Coalesce(Subquery(matching.order_by("-id").values("id")[size - 1 : size]), Value(0))


def _search_postgresql(queryset, *, terms, floor):
    every = tsquery_text(terms, "&")
    rank = RawSQL(
        "(CASE WHEN ts_filter(search_vector, '{a}') @@ to_tsquery('simple'::regconfig, %s) THEN 1 ELSE 0 END)"
        " + ts_rank(search_vector, to_tsquery('simple'::regconfig, %s), 32)",
        [tsquery_text(terms, "|"), every],
        output_field=FloatField(),
    )
    return (
        queryset.filter(_postgresql_matches(terms))
        .annotate(window_floor=floor)
        .filter(pk__gte=F("window_floor"))
        .annotate(search_rank=rank)
    )


def search_window():
    return settings.NOTES_SEARCH_WINDOW


# --- The index: created by a migration, checked after every migrate ---------


def install_index(connection):
    """Create the search index and fill it from the notes table (idempotent).

    Does nothing while the notes table lacks the search text (migrated back
    to before it existed).
    """
    with connection.cursor() as cursor:
        columns = {column.name for column in connection.introspection.get_table_description(cursor, "notes_note")}
    if not {"search_title", "search_content"} <= columns:
        return
    if connection.vendor == "sqlite":
        _install_sqlite(connection)
    elif connection.vendor == "postgresql":
        _install_postgresql(connection)


def uninstall_index(connection):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for trigger in TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS note_search_vector")
            cursor.execute("ALTER TABLE notes_note DROP COLUMN IF EXISTS search_vector")


SQLITE_COLUMNS = "search_title, search_content, owner_id"
SQLITE_TRIGGERS = {
    "notes_fts_insert": f"""
        CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes_note WHEN new.deleted_at IS NULL BEGIN
            INSERT INTO {FTS_TABLE}(rowid, {SQLITE_COLUMNS})
            VALUES (new.id, new.search_title, new.search_content, new.owner_id);
        END""",
    "notes_fts_delete": f"""
        CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes_note WHEN old.deleted_at IS NULL BEGIN
            INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {SQLITE_COLUMNS})
            VALUES ('delete', old.id, old.search_title, old.search_content, old.owner_id);
        END""",
    # Fires only when a column the index reads is written: pinning a note or
    # renaming a tag does not touch the index.
    "notes_fts_update": f"""
        CREATE TRIGGER notes_fts_update
        AFTER UPDATE OF id, search_title, search_content, owner_id, deleted_at ON notes_note BEGIN
            INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {SQLITE_COLUMNS})
            SELECT 'delete', old.id, old.search_title, old.search_content, old.owner_id
            WHERE old.deleted_at IS NULL;
            INSERT INTO {FTS_TABLE}(rowid, {SQLITE_COLUMNS})
            SELECT new.id, new.search_title, new.search_content, new.owner_id
            WHERE new.deleted_at IS NULL;
        END""",
}


def _install_sqlite(connection):
    """The FTS5 table and its triggers; rebuilt if any trigger was missing.

    Django rebuilds a SQLite table for many schema changes (copy, drop,
    rename), which drops its triggers; whatever was written meanwhile is
    then missing from the index, so it is rebuilt from the notes table.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if FTS_TABLE in present and all(trigger in present for trigger in TRIGGERS):
            return
        # The search text is already split into words: the tokenizer only
        # splits on spaces and must not cut words at combining marks.
        cursor.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({SQLITE_COLUMNS}, content='', "
            "tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* M*'\")"
        )
        for name, sql in SQLITE_TRIGGERS.items():
            if name not in present:
                cursor.execute(sql)
        cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('delete-all')")
        cursor.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, {SQLITE_COLUMNS}) "
            f"SELECT id, {SQLITE_COLUMNS} FROM notes_note WHERE deleted_at IS NULL"
        )


def _install_postgresql(connection):
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE notes_note ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple'::regconfig, search_title), 'A') || "
            "setweight(to_tsvector('simple'::regconfig, search_content), 'B')) STORED"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS note_search_vector ON notes_note "
            "USING gin (search_vector) WHERE deleted_at IS NULL"
        )

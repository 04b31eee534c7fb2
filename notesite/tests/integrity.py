"""Integrity checks of a served database, read from outside the server.

SQLite checks its own file (`PRAGMA integrity_check`, `foreign_key_check`).
PostgreSQL keeps its own files consistent through its WAL, so what a test
can usefully check there is that tables and indexes agree (amcheck:
`verify_heapam` on every table, `bt_index_check` with `heapallindexed` on
every B-tree index). On both, the service's own invariants are checked too:
every note's tag index rows mirror its `tags`, and versions start at 1.
"""

import json
import sqlite3
from urllib.parse import urlsplit

import dj_database_url
import psycopg


def integrity_problems(database_url):
    """Everything wrong with the database at `database_url`, as strings; [] when sound."""
    if database_url.startswith("sqlite:"):
        path = urlsplit(database_url).path
        with sqlite3.connect(path) as conn:
            return _sqlite_problems(conn) + _invariant_problems(conn.execute)
    params = dj_database_url.parse(database_url)
    with psycopg.connect(
        dbname=params["NAME"],
        **{key.lower(): params[key] for key in ["HOST", "PORT", "USER", "PASSWORD"] if params.get(key)},
        autocommit=True,
    ) as conn:
        return _postgresql_problems(conn) + _invariant_problems(conn.execute)


def _sqlite_problems(conn):
    problems = [f"integrity_check: {row[0]}" for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    problems += [f"foreign_key_check: {row}" for row in conn.execute("PRAGMA foreign_key_check")]
    return problems


def _postgresql_problems(conn):
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    problems = []
    tables = conn.execute(
        "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r'"
    ).fetchall()
    for oid, name in tables:
        for row in conn.execute("SELECT blkno, offnum, msg FROM verify_heapam(%s)", [oid]):
            problems.append(f"verify_heapam {name}: {row}")
    indexes = conn.execute(
        "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_am am ON am.oid = c.relam WHERE n.nspname = 'public' AND c.relkind = 'i' AND am.amname = 'btree'"
    ).fetchall()
    for oid, name in indexes:
        try:
            conn.execute("SELECT bt_index_check(%s, true)", [oid])
        except psycopg.Error as exc:
            problems.append(f"bt_index_check {name}: {exc}")
    if not indexes:
        problems.append("no B-tree index was found to check")
    return problems


def _invariant_problems(execute):
    """The service's own invariants, the same SQL on both databases."""
    problems = []
    tags = {note_id: _tag_list(raw) for note_id, raw in execute("SELECT id, tags FROM notes_note").fetchall()}
    indexed = {}
    for note_id, name in execute("SELECT note_id, name FROM notes_notetag").fetchall():
        indexed.setdefault(note_id, []).append(name)
    for note_id in tags.keys() | indexed.keys():
        if sorted(tags.get(note_id, [])) != sorted(indexed.get(note_id, [])):
            problems.append(f"note {note_id}: tags {tags.get(note_id)} but tag index {indexed.get(note_id)}")
    for (note_id,) in execute("SELECT id FROM notes_note WHERE version < 1").fetchall():
        problems.append(f"note {note_id}: version below 1")
    return problems


def _tag_list(raw):
    return json.loads(raw) if isinstance(raw, str) else raw

# The tutorial's main.py: five endpoints, FastAPI + sqlite3, a connection per
# request, run with `uvicorn main:app --host 0.0.0.0 --port 8000` (no reload).
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from db import get_conn, init_db

app = FastAPI(title="Notes API")


class NoteIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    content: str = ""
    pinned: bool = False


class Note(NoteIn):
    id: int


@app.on_event("startup")
def startup():
    init_db()


@app.get("/notes", response_model=list[Note])
def list_notes():
    with get_conn() as conn:
        rows = conn.execute("SELECT * FROM notes").fetchall()
    return [dict(row) for row in rows]


@app.get("/notes/{note_id}", response_model=Note)
def get_note(note_id: int):
    with get_conn() as conn:
        row = conn.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Note not found")
    return dict(row)


@app.post("/notes", response_model=Note, status_code=201)
def create_note(note: NoteIn):
    with get_conn() as conn:
        cursor = conn.execute(
            "INSERT INTO notes (title, content, pinned) VALUES (?, ?, ?)",
            (note.title, note.content, int(note.pinned)),
        )
        note_id = cursor.lastrowid
    return {"id": note_id, **note.model_dump()}


@app.put("/notes/{note_id}", response_model=Note)
def update_note(note_id: int, note: NoteIn):
    with get_conn() as conn:
        cursor = conn.execute(
            "UPDATE notes SET title = ?, content = ?, pinned = ? WHERE id = ?",
            (note.title, note.content, int(note.pinned), note_id),
        )
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail="Note not found")
    return {"id": note_id, **note.model_dump()}


@app.delete("/notes/{note_id}", status_code=204)
def delete_note(note_id: int):
    with get_conn() as conn:
        cursor = conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail="Note not found")

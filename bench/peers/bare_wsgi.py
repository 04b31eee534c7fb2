"""The ceiling: a bare WSGI app answering fixed notes, under the service's gunicorn config.

It does what no real service can skip (read the request body, write a JSON
answer) and nothing else: no routing, no database, no framework.
"""

import json

NOTE = {
    "id": 1,
    "url": "http://127.0.0.1/api/notes/1/",
    "title": "Groceries",
    "content": "milk, eggs " * 10,
    "pinned": False,
    "tags": ["home", "shopping"],
    "created_at": "2026-11-24T10:00:00.123456Z",
    "updated_at": "2026-11-24T10:00:00.123456Z",
    "version": 1,
}
ONE = json.dumps(NOTE).encode()
PAGE = json.dumps({"next": "http://127.0.0.1/api/notes/?cursor=x", "previous": None, "results": [NOTE] * 50}).encode()


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    method = environ["REQUEST_METHOD"]
    if method == "POST":
        status, body = "201 Created", ONE
    elif environ["PATH_INFO"].rstrip("/") == "/api/notes":
        status, body = "200 OK", PAGE
    else:
        status, body = "200 OK", ONE
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

"""Search result snippets: a short excerpt, matches in <mark>, everything else escaped.

Neither FTS5's snippet() nor PostgreSQL's ts_headline escapes HTML, so a
note containing `<script>` would come back as markup. The snippet is built
here instead, from the note's own text and the search's terms, with the same
word rules as the index (notes.searchtext), and every character that is not
one of the two tags this module writes is escaped.
"""

import re
import unicodedata
from html import escape

from notes.searchtext import CJK_RUN, fold_word, word_pattern

ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
SNIPPET_CHARS = 200
# Only the start of a very long note is looked through for a match.
SCAN_CHARS = 20_000


def build_snippet(*, title, content, terms):
    """An excerpt of the content around its best match, or the title if only it matches."""
    content_marks = _marks(content[:SCAN_CHARS], terms)
    if content_marks:
        return _excerpt(content, content_marks)
    title_marks = _marks(title, terms)
    if title_marks or not content:
        return _render(title, title_marks, 0, len(title))
    return _excerpt(content, [])


def _marks(text, terms):
    """(start, end) spans of `text` that match a term, in order, not overlapping."""
    words = {term[0] for term in terms if len(term) == 1}
    # A CJK phrase of pairs "東京", "京都" stands for the run "東京都".
    runs = ["".join([term[0], *(pair[1] for pair in term[1:])]) for term in terms if _is_cjk(term)]
    spans = []
    pattern = ASCII_WORD if text.isascii() else word_pattern()
    for match in pattern.finditer(text):
        word, offset = match.group(), match.start()
        position = 0
        for cjk in CJK_RUN.finditer(word):
            if cjk.start() > position:
                spans += _plain_span(word, position, cjk.start(), offset, words)
            spans += _cjk_spans(unicodedata.normalize("NFKC", cjk.group()), offset + cjk.start(), runs, words)
            position = cjk.end()
        if position < len(word):
            spans += _plain_span(word, position, len(word), offset, words)
    return spans


def _is_cjk(term):
    return bool(CJK_RUN.fullmatch(term[0]))


def _plain_span(word, start, end, offset, words):
    folded = list(fold_word(unicodedata.normalize("NFKC", word[start:end])))
    if folded and folded[0] in words:
        return [(offset + start, offset + end)]
    return []


def _cjk_spans(run, offset, runs, words):
    if run in words:  # a one-character run is a word of its own
        return [(offset, offset + len(run))]
    marked = [False] * len(run)
    for needle in runs:
        start = run.find(needle)
        while start != -1:
            marked[start : start + len(needle)] = [True] * len(needle)
            start = run.find(needle, start + 1)
    spans, start = [], None
    for index, flag in enumerate([*marked, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            spans.append((offset + start, offset + index))
            start = None
    return spans


def _excerpt(text, marks):
    """About SNIPPET_CHARS characters of `text`, starting a little before the first mark."""
    if not marks:
        return _render(text, [], 0, min(len(text), SNIPPET_CHARS))
    first = marks[0][0]
    start = max(0, first - SNIPPET_CHARS // 4)
    if start:
        # Begin at a word boundary rather than inside a word.
        space = text.rfind(" ", start - 20 if start > 20 else 0, first)
        start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    end = max(end, marks[0][1])
    return _render(text, marks, start, end)


def _render(text, marks, start, end):
    parts = ["…" if start > 0 else ""]
    position = start
    for mark_start, mark_end in marks:
        if mark_end <= start or mark_start >= end:
            continue
        mark_start, mark_end = max(mark_start, start), min(mark_end, end)
        parts.append(escape(text[position:mark_start]))
        parts.append(f"<mark>{escape(text[mark_start:mark_end])}</mark>")
        position = mark_end
    parts.append(escape(text[position:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)

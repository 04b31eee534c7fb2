"""The words of a note as both search engines index them, computed in Python.

SQLite FTS5 and PostgreSQL's text search split and fold text differently,
and neither finds a word inside Chinese or Japanese text, which has no
spaces. So Python does the splitting for both: a note's title and content
become *search text*, its normalised words separated by single spaces, which
both engines only have to split on spaces. A search query goes through the
same function, so a query matches the same notes on either database.

- Words are runs of letters, digits and combining marks; everything else
  (punctuation, symbols, emoji, underscores) separates them.
- Words are NFKC-normalised (full-width Latin becomes ASCII), case-folded,
  and stripped of accents (``café`` is found by ``cafe``).
- Runs of Chinese, Japanese or Korean characters become their overlapping
  character pairs (``東京都`` -> ``東京 京都``), and a query's runs become a
  phrase of the same pairs, so any two or more consecutive characters find
  the text that contains them. A run of one character stays as it is.
- At most MAX_WORDS words of a text are indexed, and no word longer than
  MAX_WORD_LENGTH, which bounds the index (PostgreSQL's tsvector holds
  positions up to 16,383 and at most 1 MB).
"""

import functools
import re
import unicodedata

MAX_WORDS = 16_000
MAX_WORD_LENGTH = 100
# A budget in characters beside the word count, so a text of long words
# stays well under PostgreSQL's 1 MB per tsvector.
MAX_CHARS = 200_000

# Han (with extensions and compatibility ideographs), Hiragana, Katakana,
# iteration marks, Hangul syllables and jamo.
CJK = (
    "\u1100-\u11ff\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff"
    "\U00020000-\U0003134f"
)
ASCII_WORD = re.compile(r"[a-z0-9]+")
CJK_RUN = re.compile(f"[{CJK}]+")
# Accents to strip: the combining diacritical marks used by Latin, Greek and
# Cyrillic. Marks of other scripts (Devanagari vowel signs, kana voicing
# marks) are part of their letters and stay.
ACCENTS = re.compile("[\u0300-\u036f]")


@functools.cache
def word_pattern():
    """Letters, digits and combining marks, minus underscore: the characters of a word.

    Python's \\w has no combining marks, which would cut Devanagari or Thai
    words apart, so the marks are added from the Unicode database (once, on
    the first text that is not ASCII).
    """
    marks, start = [], None
    for code in range(0x110000):
        is_mark = unicodedata.category(chr(code)).startswith("M")
        if is_mark and start is None:
            start = code
        elif not is_mark and start is not None:
            marks.append(f"{re.escape(chr(start))}-{re.escape(chr(code - 1))}")
            start = None
    return re.compile(f"(?:[^\\W_]|[{''.join(marks)}])+")


def words(text):
    """The normalised words of `text`, CJK runs as character pairs, in order."""
    if text.isascii():
        return ASCII_WORD.findall(text.lower())
    found = []
    for word in word_pattern().findall(unicodedata.normalize("NFKC", text)):
        if word.isascii():
            found.append(word.lower())
        elif CJK_RUN.search(word) is None:
            found.extend(fold_word(word))
        else:
            found.extend(_split_word(word))
    return found


def _split_word(word):
    """A word of any script as search words: CJK runs become pairs."""
    position = 0
    for run in CJK_RUN.finditer(word):
        if run.start() > position:
            yield from fold_word(word[position : run.start()])
        yield from _pairs(run.group())
        position = run.end()
    if position < len(word):
        yield from fold_word(word[position:])


def fold_word(word):
    """One word (no CJK) case-folded and without accents, as zero or one search word."""
    if word.isascii():
        folded = word.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", word.casefold())
        folded = unicodedata.normalize("NFC", ACCENTS.sub("", decomposed))
    if folded:
        yield folded


def _pairs(run):
    if len(run) == 1:
        yield run
    else:
        yield from (run[i : i + 2] for i in range(len(run) - 1))


def search_text(text):
    """`text` as the engines index it: its words, space-separated, within the limits."""
    found = words(text)
    if len(found) <= MAX_WORDS and (not found or max(map(len, found)) <= MAX_WORD_LENGTH):
        joined = " ".join(found)
        if len(joined) <= MAX_CHARS:
            return joined
    kept, budget = [], MAX_CHARS
    for word in found:
        if len(word) > MAX_WORD_LENGTH:
            continue
        budget -= len(word) + 1
        if budget < -1 or len(kept) == MAX_WORDS:
            break
        kept.append(word)
    return " ".join(kept)


def query_terms(text):
    """The terms of a search: each a tuple of words that must appear in a row.

    A plain word is a one-word term; a CJK run is the phrase of its pairs.
    Duplicates collapse; the order of first appearance is kept.
    """
    terms = {}
    if text.isascii():
        for word in ASCII_WORD.findall(text.lower()):
            terms.setdefault((word,), None)
        return list(terms)
    for match in word_pattern().finditer(unicodedata.normalize("NFKC", text)):
        word, position = match.group(), 0
        for run in CJK_RUN.finditer(word):
            if run.start() > position:
                terms.update(((plain,), None) for plain in fold_word(word[position : run.start()]))
            terms.setdefault(tuple(_pairs(run.group())), None)
            position = run.end()
        if position < len(word):
            terms.update(((plain,), None) for plain in fold_word(word[position:]))
    return list(terms)

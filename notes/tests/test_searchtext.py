"""The words both search engines index, computed in Python."""

import pytest

from notes.searchtext import MAX_WORD_LENGTH, MAX_WORDS, query_terms, search_text


def test_words_are_lower_cased_and_split_on_everything_but_letters_and_digits():
    assert search_text("Hello, World! foo_bar 3.14 e-mail@x.org") == "hello world foo bar 3 14 e mail x org"


def test_accents_are_stripped_and_width_folded():
    full_width = "\uff26\uff55\uff4c\uff4c\uff11\uff12"  # "Full12" in full-width forms
    assert search_text(f"Café NAÏVE {full_width} Straße") == "cafe naive full12 strasse"


def test_cjk_runs_become_overlapping_pairs():
    assert search_text("東京タワーへ") == "東京 京タ タワ ワー ーへ"


def test_a_single_cjk_character_stays_a_word():
    assert search_text("猫 is a cat") == "猫 is a cat"


def test_cjk_and_latin_in_one_word_are_split():
    assert search_text("Python入門") == "python 入門"


def test_words_with_combining_marks_stay_whole():
    assert search_text("नमस्ते दुनिया") == "नमस्ते दुनिया"


def test_emoji_and_symbols_are_not_words():
    assert search_text("🙂 ★ ♥ → <script>") == "script"


def test_overlong_words_are_not_indexed():
    assert search_text("a" * (MAX_WORD_LENGTH + 1) + " kept") == "kept"


def test_at_most_max_words_are_indexed():
    assert len(search_text("word " * (MAX_WORDS + 10)).split()) == MAX_WORDS


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ('"quoted phrase"', [("quoted",), ("phrase",)]),
        (
            "a* -b NEAR(c d) x AND y OR z",
            [("a",), ("b",), ("near",), ("c",), ("d",), ("x",), ("and",), ("y",), ("or",), ("z",)],
        ),
        ("'; DROP TABLE notes_note; --", [("drop",), ("table",), ("notes",), ("note",)]),
        ("Milk milk MILK", [("milk",)]),
        ("東京タワー", [("東京", "京タ", "タワ", "ワー")]),
        ("🙂 ((( ", []),
    ],
)
def test_a_query_is_plain_words(query, terms):
    assert query_terms(query) == terms


def test_query_and_text_fold_alike():
    assert query_terms("CAFÉ")[0][0] in search_text("un café").split()

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restore.text import (
    count_words,
    normalize,
    segment,
    split_paragraphs,
    split_sentences,
    tokenize,
)


def texts(spans, text):
    return [text[a:b] for a, b in spans]


def test_tokenize_kinds_and_offsets():
    text = "It’s 9:30 — the U.S. paid $1,200.50 to José's well-known firm!"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "It’s",
        "9:30",
        "—",
        "the",
        "U",
        ".",
        "S",
        ".",
        "paid",
        "$",
        "1,200.50",
        "to",
        "José's",
        "well-known",
        "firm",
        "!",
    ]
    assert all(text[t.start : t.end] == t.text for t in tokens)
    kinds = {t.text: t.kind for t in tokens}
    assert kinds["9:30"] == "number" and kinds["—"] == "other" and kinds["José's"] == "word"


def test_combining_marks_tokenise_like_their_nfc_form():
    decomposed = "Jose\u0301 left"
    assert [t.text for t in tokenize(decomposed)] == ["Jose\u0301", "left"]
    assert len(tokenize(normalize(decomposed))) == len(tokenize(decomposed))


def test_normalize_collapses_whitespace_and_composes():
    assert normalize("  a\t b\n\nc\u00a0d  ") == "a b c d"
    assert normalize("e\u0301") == "\u00e9"


def test_paragraphs_are_split_at_blank_lines_only():
    text = "First line\nsame paragraph.\n\n  \nSecond.\r\n\r\nThird."
    assert texts(split_paragraphs(text), text) == [
        "First line\nsame paragraph.",
        "Second.",
        "Third.",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mr. Smith left. He came back.", ["Mr. Smith left.", "He came back."]),
        ("J. Smith said “Yes.” Then he left!", ["J. Smith said “Yes.”", "Then he left!"]),
        ("It rose 3.5 pct. Shares fell.", ["It rose 3.5 pct.", "Shares fell."]),
        ("Is it? Yes... 2019 was good.", ["Is it?", "Yes...", "2019 was good."]),
        ("no capital. after this", ["no capital. after this"]),
    ],
)
def test_sentences(text, expected):
    assert texts(split_sentences(text), text) == expected


def test_segment_packs_sentences_within_budget():
    text = "One two three. Four five. Six seven eight nine.\n\nTen."
    assert texts(segment(text, max_words=5), text) == [
        "One two three. Four five.",
        "Six seven eight nine.",
        "Ten.",
    ]
    assert texts(segment(text, max_words=5, by="sentence"), text) == [
        "One two three.",
        "Four five.",
        "Six seven eight nine.",
        "Ten.",
    ]


def test_long_sentence_is_cut_preferably_after_a_comma():
    text = "a b c d e f, g h i j k l m n o p."
    units = texts(segment(text, max_words=8), text)
    assert units[0] == "a b c d e f,"
    assert all(count_words(u) <= 8 for u in units)


def test_huge_single_line_is_cut_fast():
    text = "word " * 200_000
    units = segment(text, max_words=48)
    assert len(units) == 200_000 // 48 + 1
    assert sum(count_words(text[a:b]) for a, b in units) == 200_000


def test_bad_arguments():
    with pytest.raises(ValueError):
        segment("x", max_words=0)
    with pytest.raises(ValueError):
        segment("x", by="word")


def test_empty_and_whitespace():
    assert segment("") == [] and segment(" \n\n\t ") == []


_alphabet = st.sampled_from(list("ab Z.,;!?\n\t'’“”-—é0123456789 ") + ["\n\n", "Mr.", "U.S."])


@settings(max_examples=300, deadline=None)
@given(st.lists(_alphabet, max_size=120).map("".join), st.integers(1, 12))
def test_units_cover_every_token_once_with_whitespace_between(text, max_words):
    units = segment(text, max_words=max_words)
    pos = 0
    for a, b in units:
        assert a >= pos and text[pos:a].strip() == ""
        assert text[a:b] == text[a:b].strip() and count_words(text[a:b]) <= max_words
        pos = b
    assert text[pos:].strip() == ""
    joined = [t.text for a, b in units for t in tokenize(text[a:b])]
    assert joined == [t.text for t in tokenize(text)]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_normalize_keeps_tokens_one_to_one(text):
    n = normalize(text)
    assert len(tokenize(n)) == len(tokenize(unicodedata.normalize("NFC", text)))
    assert normalize(n) == n

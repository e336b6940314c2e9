"""Text normalisation, tokenisation and segmentation: the one owner of the text format.

Training (pair synthesis) and inference (the Restorer) both call these functions, so a unit of
text is cut, cleaned and tokenised the same way on both sides. Every function that cuts text
returns character offsets into the string it was given, so callers can reassemble the input
byte for byte around the parts they change.

>>> text = "Mr. Smith left. He came back."
>>> [text[s:e] for s, e in split_sentences(text)]
['Mr. Smith left.', 'He came back.']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

# Combining marks count as word characters so that "e" + U+0301 tokenises like its NFC form "é".
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_LETTER = rf"(?:[^\W\d_]|[{_MARKS}])"
_WORD = rf"{_LETTER}+(?:['’\-]{_LETTER}+)*"
# Numbers keep their separators and unit suffixes together: 1,200.50  3rd  1990s  9/11  10:30.
_NUMBER = r"\d+(?:[.,:/]\d+)*(?:[A-Za-z]{1,3})?"
_TOKEN_RE = re.compile(rf"(?P<word>{_WORD})|(?P<number>{_NUMBER})|(?P<other>\S)")
_SPACE_RUN_RE = re.compile(r"\s+")
_PARAGRAPH_BREAK_RE = re.compile(r"\n[^\S\n]*\n\s*")

# A sentence ends at . ! ? (with closing quotes or brackets) followed by space and a plausible
# sentence start. Abbreviations and initials are filtered out afterwards.
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]*[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sen rep gov gen col lt sgt capt cmdr adm st jr sr rev hon pres inc "
    "corp co ltd llc plc bros dept univ assn vs etc no nos vol fig approx est jan feb mar "
    "apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun u.s u.k u.n e.u a.m "
    "p.m d.c n.y l.a i.e e.g ph.d u.s.a".split()
)


# Tokens after which the next word may start a sentence (so its capital does not mark a name).
_SENTENCE_BREAKS = frozenset(".!?…:;\"'“”‘’()[]-–—")


@dataclass(frozen=True, slots=True)
class Token:
    """A token of ``text[start:end]``; ``kind`` is "word", "number" or "other" (punctuation)."""

    start: int
    end: int
    text: str
    kind: str


def tokenize(text: str) -> list[Token]:
    """Split text into word, number and punctuation tokens with character offsets.

    Whitespace is never part of a token, so the gaps between tokens are whitespace only.

    >>> [t.text for t in tokenize("It’s 9:30 - well-known!")]
    ['It’s', '9:30', '-', 'well-known', '!']
    """
    return [
        Token(m.start(), m.end(), m.group(), m.lastgroup or "other")
        for m in _TOKEN_RE.finditer(text)
    ]


def span_text(text: str, tokens: list[Token], i1: int, i2: int) -> str:
    """The text from the start of ``tokens[i1]`` to the end of ``tokens[i2 - 1]`` ("" if none).

    >>> text = "a  b, c"
    >>> span_text(text, tokenize(text), 1, 3)
    'b,'
    """
    return text[tokens[i1].start : tokens[i2 - 1].end] if i2 > i1 else ""


def is_mid_sentence_capital(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` is a capitalised word that does not start a sentence: most likely a
    name, which spinners leave alone. "I" is a pronoun, not a name.
    """
    token = tokens[i]
    if token.kind != "word" or not token.text[:1].isupper() or i == 0 or token.text == "I":
        return False
    return tokens[i - 1].text not in _SENTENCE_BREAKS


def normalize(text: str) -> str:
    """The model-input form of a unit: NFC, with every whitespace run made one space, stripped.

    Only whitespace and Unicode composition change, so the tokens of the result correspond one
    to one with the tokens of the input.
    """
    return _SPACE_RUN_RE.sub(" ", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True)
class Unit:
    """One unit of a document, prepared once and passed down: the text as written and its
    normalised form (what models read), with the tokens of both, each made on first use and
    kept. ``aligned`` says whether the two token lists correspond one to one, which moving
    offsets from one to the other needs.

    >>> unit = prepare_unit("The  fete\\nended.")
    >>> unit.normal, [t.text for t in unit.tokens], unit.written[1].start, unit.aligned
    ('The fete ended.', ['The', 'fete', 'ended', '.'], 5, True)
    """

    text: str
    normal: str

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        """The tokens of ``normal``."""
        return tuple(tokenize(self.normal))

    @cached_property
    def written(self) -> tuple[Token, ...]:
        """The tokens of ``text``."""
        return tuple(tokenize(self.text))

    @property
    def aligned(self) -> bool:
        return len(self.tokens) == len(self.written)

    def written_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The span of ``text`` written as the whole tokens of ``normal[start:end]``, or None
        when the span holds no whole token or the two token lists do not correspond.

        >>> unit = prepare_unit("The  fete\\nended.")
        >>> unit.written_span(4, 8), unit.written_span(5, 8)
        ((5, 9), None)
        """
        if not self.aligned:
            return None
        inside = [i for i, t in enumerate(self.tokens) if start <= t.start and t.end <= end]
        if not inside:
            return None
        first, last = inside[0], inside[-1]
        if self.tokens[first].start != start or self.tokens[last].end != end:
            return None
        return self.written[first].start, self.written[last].end


def prepare_unit(text: str) -> Unit:
    """A :class:`Unit` of ``text``: normalised once."""
    return Unit(text, normalize(text))


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of the paragraphs of text (separated by blank lines), without surrounding space."""
    spans = []
    start = 0
    for m in _PARAGRAPH_BREAK_RE.finditer(text):
        spans.extend(_strip_span(text, start, m.start()))
        start = m.end()
    spans.extend(_strip_span(text, start, len(text)))
    return spans


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]`` (offsets into ``text``)."""
    end = len(text) if end is None else end
    spans = []
    begin = start
    for m in _SENTENCE_END_RE.finditer(text, start, end):
        if _is_abbreviation(text, begin, m.start(), m.group()):
            continue
        spans.extend(_strip_span(text, begin, m.end()))
        begin = m.end()
    spans.extend(_strip_span(text, begin, end))
    return spans


def segment(text: str, *, max_words: int = 48, by: str = "passage") -> list[tuple[int, int]]:
    """Cut text into units for the model: spans inside one paragraph, each at most ``max_words``.

    ``by="sentence"`` gives one unit per sentence; ``by="passage"`` packs consecutive sentences of
    a paragraph into one unit while they fit. A sentence longer than ``max_words`` is cut at word
    boundaries, preferring a cut after a comma, semicolon or colon. Every token of the text lies
    in exactly one unit, and the text between units is whitespace only.

    >>> segment("One two. Three four.\\n\\nFive.", max_words=3)
    [(0, 8), (9, 20), (22, 27)]
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    if by not in ("sentence", "passage"):
        raise ValueError(f"by must be 'sentence' or 'passage', got {by!r}")
    units: list[tuple[int, int]] = []
    for p_start, p_end in split_paragraphs(text):
        pieces = [
            piece
            for s_start, s_end in split_sentences(text, p_start, p_end)
            for piece in _cut_long(text, s_start, s_end, max_words)
        ]
        units.extend(pieces if by == "sentence" else _pack(text, pieces, max_words))
    return units


def count_words(text: str) -> int:
    """Number of word and number tokens: the budget unit of :func:`segment`."""
    return sum(1 for t in tokenize(text) if t.kind != "other")


def _strip_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if start < end else []


def _is_abbreviation(text: str, begin: int, stop: int, ending: str) -> bool:
    if not ending.startswith(".") or len(ending.rstrip("\"'”’)]")) > 1:
        return False
    word_start = stop
    while word_start > begin and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:stop].lstrip("\"'“‘([").lower()
    # A lone capital is an initial ("J. Smith"); a dotted acronym ("U.S.") keeps its dots.
    initial = stop - word_start == 1 and text[word_start].isupper()
    return initial or word in _ABBREVIATIONS


def _cut_long(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int]]:
    tokens = tokenize(text[start:end])
    counted = [i for i, t in enumerate(tokens) if t.kind != "other"]
    pieces = []
    piece_token = 0  # token index where the current piece begins
    first = 0  # position in counted of the current piece's first word
    while len(counted) - first > max_words:
        limit = counted[first + max_words]  # the first token that does not fit
        cut = limit
        for i in range(limit - 1, counted[first + max_words // 2], -1):
            if tokens[i].text in {",", ";", ":"}:
                cut = i + 1
                break
        pieces.extend(
            _strip_span(text, start + tokens[piece_token].start, start + tokens[cut].start)
        )
        piece_token = cut
        while counted[first] < cut:
            first += 1
    pieces.extend(_strip_span(text, start + tokens[piece_token].start, end))
    return pieces


def _pack(text: str, pieces: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    units: list[tuple[int, int]] = []
    words = 0
    for start, end in pieces:
        n = count_words(text[start:end])
        if units and words + n <= max_words:
            units[-1] = (units[-1][0], end)
            words += n
        else:
            units.append((start, end))
            words = n
    return units

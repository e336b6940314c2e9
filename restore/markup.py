"""Restore the text of an HTML page and keep its markup.

A spun article usually arrives as a web page. Read as plain text, its tags, scripts and styles
would be judged as words, and "restored" too. :func:`extract` keeps what a reader sees: the
text of each block element (a paragraph, a heading, a list item, the title), entities decoded
and whitespace collapsed as a browser shows them, and the page's own summary (its ``<meta>``
description and social-card title and description) and images' alt text, each a block of its
own, as a search result or a screen reader shows them; it leaves out scripts, styles, code,
navigation, form controls and every other attribute, with the page offset of every character it
keeps.
:func:`place` maps a restoration of that text back onto the page: each edit replaces the page's
own words, so the markup, and the text outside the edited words, come back byte for byte. An
edit whose words a tag, comment or entity splits (``press <b>conference</b>``) is not made; its
unit reports ``edit_across_markup``. :func:`decode_page` and :func:`encode_page` read and write
a page's bytes in the encoding it declares.

>>> page = '<h1>Arrests</h1><p>Police <b>dammed</b> deuce&nbsp;men.</p><script>x = 1;</script>'
>>> extract(page).text
'Arrests\\n\\nPolice dammed deuce men.'
"""

from __future__ import annotations

import codecs
import dataclasses
import html
import re
from array import array
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from restore.detection import Detection
    from restore.restorer import Edit, Restoration

# Phrasing elements: a sentence runs on through them. Every other tag ends a block (a unit
# boundary), so no restoration reaches across a paragraph, cell, image or line break.
INLINE_TAGS = frozenset(
    "a abbr b bdi bdo big cite data del dfn em font i ins label mark nobr q s small span strike "
    "strong sub sup time tt u wbr".split()
)
# Elements whose content is not prose to restore: program text, styles, markup languages,
# navigation and the controls of forms.
SKIPPED_TAGS = frozenset(
    "script style noscript template code pre kbd samp var textarea svg math iframe object nav "
    "button select".split()
)
# Attributes whose value is prose a reader meets: the summary a search result or a shared link
# shows (``<meta name|property=... content=...>``), and an image's text alternative.
META_TEXT = frozenset(
    "description og:title og:description twitter:title twitter:description".split()
)
ACROSS_MARKUP = "edit_across_markup"
_BLOCK_BREAK = "\n\n"
_ENTITY_RE = re.compile(r"&(?:#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z][-.a-zA-Z0-9]*);?")
# An attribute of a start tag's text, and its value double-quoted, single-quoted or bare.
_ATTRIBUTE_RE = re.compile(
    r"""(?<=[\s"'/]) (?P<name>[^\s"'>/=]+)
    (?: \s*=\s* (?: "(?P<double>[^"]*)" | '(?P<single>[^']*)' | (?P<bare>[^\s"'=<>`]+) ) )?""",
    re.VERBOSE,
)
_NO_RUN = -1
_PIECE_RE = re.compile(r"\s+|\S+")
_BOM = "\ufeff"
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET_RE = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_WINDOWS_1252_LABELS = frozenset(
    "ascii us-ascii latin1 l1 iso-8859-1 iso8859-1 iso_8859-1 iso88591 cp819 ibm819 "
    "windows-1252 cp1252 x-cp1252".split()
)


@dataclass(frozen=True)
class PageText:
    """What a reader sees of a page: ``text`` (blocks separated by a blank line), and for each of
    its characters the page offset it comes from (``sources``) and the stretch of page text
    between two pieces of markup it belongs to (``runs``; -1 for block breaks and characters
    decoded from entities, which no edit may touch); ``attribute_runs`` are the runs that lie in
    an attribute's value, where a restored quote must be escaped."""

    text: str
    sources: Sequence[int]
    runs: Sequence[int]
    attribute_runs: frozenset[int] = frozenset()

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The page span of ``text[start:end]`` if it lies within one stretch of page text (so
        that replacing it leaves every tag in place), else None."""
        if end <= start or self.runs[start] == _NO_RUN or self.runs[start] != self.runs[end - 1]:
            return None
        return self.sources[start], self.sources[end - 1] + 1

    def cover(self, start: int, end: int) -> tuple[int, int]:
        """The page span from ``text[start]`` to ``text[end - 1]``, markup included (an empty
        span: where ``text[start]`` is, or just past the last character read)."""
        if end > start:
            return self.sources[start], self.sources[end - 1] + 1
        if start < len(self.sources):
            return self.sources[start], self.sources[start]
        at = self.sources[-1] + 1 if self.sources else 0
        return at, at


class _Reader(HTMLParser):
    def __init__(self, page: str):
        # Entities arrive on their own (not decoded into the text around them), so that every
        # character of the text keeps its page offset.
        super().__init__(convert_charrefs=False)
        self.page = page
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", page)]
        self.chars: list[str] = []
        self.sources = array("q")
        self.runs = array("q")
        self.skipping = 0
        self.run = 0
        self.last_end = -1  # page offset just past the last text character read
        self.space: tuple[int, int] | None = None  # a whitespace run waiting to be shown as " "
        self.block_open = False
        self.break_at = 0  # page offset of the markup that ended the last block
        self.attribute_runs: set[int] = set()

    def _at(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        self._markup(tag)
        self._attribute_text(tag, attrs)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self._markup(tag)
        self._attribute_text(tag, attrs)

    def _attribute_text(self, tag: str, attrs) -> None:
        """Read the value of the attribute :data:`META_TEXT` or ``alt`` names as a block."""
        if self.skipping or tag not in ("meta", "img"):
            return
        named = {name: value for name, value in attrs}
        if tag == "img":
            wanted = "alt"
        elif (named.get("name") or named.get("property") or "").strip().lower() in META_TEXT:
            wanted = "content"
        else:
            return
        raw = self.get_starttag_text() or ""
        found = _attribute_value(raw, wanted)
        if found is None:
            return
        at = self._at() + found[0]
        value = raw[found[0] : found[1]]
        for start, text, entity in _value_pieces(value):
            if entity:
                self._add(html.unescape(text), at + start, _NO_RUN, each=False)
            else:
                self.run += 1
                self.attribute_runs.add(self.run)
                self._add(text, at + start, self.run, each=True)
        self.last_end = -1
        if self.block_open:
            self.space = None
            self.block_open = False

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS and self.skipping:
            self.skipping -= 1
        self._markup(tag)

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        at = self._at()
        if at == 0 and data.startswith(_BOM):  # a byte order mark is not text
            data, at = data[1:], 1
        if at != self.last_end:
            self.run += 1
        self._add(data, at, self.run, each=True)
        self.last_end = at + len(data)

    def handle_entityref(self, name: str) -> None:
        self._entity()

    def handle_charref(self, name: str) -> None:
        self._entity()

    def _entity(self) -> None:
        if self.skipping:
            return
        at = self._at()
        match = _ENTITY_RE.match(self.page, at)
        self._add(html.unescape(match.group() if match else "&"), at, _NO_RUN, each=False)
        self.last_end = -1

    def _markup(self, tag: str) -> None:
        self.last_end = -1
        if tag not in INLINE_TAGS and self.block_open:
            self.space = None
            self.block_open = False
            self.break_at = self._at()

    def _add(self, text: str, at: int, run: int, *, each: bool) -> None:
        """Read ``text``, found at page offset ``at`` (``each``: one page character per
        character; else all of it decoded from the entity at ``at``)."""
        for piece in _PIECE_RE.finditer(text):
            source = at + piece.start() if each else at
            if piece.group().isspace():
                if self.block_open and self.space is None:
                    self.space = (source, run)
                continue
            if not self.block_open and self.chars:
                self._emit(_BLOCK_BREAK, self.break_at, _NO_RUN, each=False)
            if self.space is not None:
                self._emit(" ", *self.space, each=False)
                self.space = None
            self._emit(piece.group(), source, run, each=each)
            self.block_open = True

    def _emit(self, chars: str, source: int, run: int, *, each: bool) -> None:
        self.chars.append(chars)
        n = len(chars)
        self.sources.extend(range(source, source + n) if each else (source,) * n)
        self.runs.extend((run,) * n)


def _attribute_value(tag: str, name: str) -> tuple[int, int] | None:
    """Where the value of attribute ``name`` lies in the text of a start ``tag`` (quotes not
    included), or None if the tag has no such attribute with a value."""
    for match in _ATTRIBUTE_RE.finditer(tag):
        if match.group("name").lower() == name:
            for group in ("double", "single", "bare"):
                if match.group(group) is not None:
                    return match.span(group)
    return None


def _value_pieces(value: str) -> Iterator[tuple[int, str, bool]]:
    """``(offset, text, is_entity)`` for the stretches of an attribute's raw value."""
    pos = 0
    for match in _ENTITY_RE.finditer(value):
        if match.start() > pos:
            yield pos, value[pos : match.start()], False
        yield match.start(), match.group(), True
        pos = match.end()
    if pos < len(value):
        yield pos, value[pos:], False


def decode_page(data: bytes, charset: str | None = None) -> tuple[str, str]:
    """A page's text and the encoding it was read with, as a browser picks it: a byte order
    mark, else the ``charset`` its server sent, else a ``<meta charset>`` (or ``http-equiv``)
    declaration in the first 4 KB, else UTF-8. Bytes the encoding leaves undefined come through
    as lone surrogates (``surrogateescape``), which :func:`encode_page` writes back as they
    were; so a page read and written again is byte-identical outside the edits. Raises
    ``LookupError`` for a declared encoding Python does not know, ``UnicodeDecodeError`` for
    bytes that are not UTF-8 on a page that declares nothing.

    >>> decode_page('<meta charset="windows-1252"><p>caf\xe9</p>'.encode("cp1252"))
    ('<meta charset="windows-1252"><p>café</p>', 'cp1252')
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):  # kept as U+FEFF, so that the page is written back with it
            return data.decode(encoding, "surrogateescape"), encoding
    if charset is None:
        declared = _CHARSET_RE.search(data[:4096])
        if declared is None:
            return data.decode("utf-8"), "utf-8"
        charset = declared.group(1).decode("ascii")
    label = charset.strip().lower()
    # As browsers do (the WHATWG Encoding Standard): these labels all mean windows-1252.
    encoding = codecs.lookup("cp1252" if label in _WINDOWS_1252_LABELS else label).name
    if encoding.startswith("utf-16"):  # a declaration in ASCII bytes cannot be UTF-16
        encoding = "utf-8"
    return data.decode(encoding, "surrogateescape"), encoding


def encode_page(page: str, encoding: str) -> bytes:
    """``page`` in the encoding :func:`decode_page` read it with; a restored word the encoding
    cannot write becomes a character reference.

    >>> encode_page("<p>naïve \\udc81</p>", "cp1252")
    b'<p>na\\xefve \\x81</p>'
    >>> encode_page("<p>naïve</p>", "ascii")
    b'<p>na&#239;ve</p>'
    """
    out = bytearray()
    # The undefined bytes a page was read with are runs of lone surrogates: each run goes back
    # as its bytes, and the text between them as itself or as character references.
    for part in re.split("([\\ud800-\\udfff]+)", page):
        try:
            out += part.encode(encoding, "surrogateescape")
        except UnicodeEncodeError:
            out += part.encode(encoding, "xmlcharrefreplace")
    return bytes(out)


def extract(page: str) -> PageText:
    """The text a reader sees on ``page``, with the page offset of each character."""
    if not isinstance(page, str):
        raise TypeError(f"expected str, got {type(page).__name__}")
    reader = _Reader(page)
    reader.feed(page)
    reader.close()
    return PageText(
        "".join(reader.chars), reader.sources, reader.runs, frozenset(reader.attribute_runs)
    )


def read_pages(pages: Iterable[str], read: deque[tuple[str, PageText]]) -> Iterator[str]:
    """The text of each page, for a restorer to read; each page and what was read of it go onto
    ``read`` as its text is handed on, so a caller that takes results in input order pops its
    page from the left to :func:`place` the result."""
    for page in pages:
        seen = extract(page)
        read.append((page, seen))
        yield seen.text


def place_next(read: deque[tuple[str, PageText]], result: Restoration) -> tuple[Restoration, str]:
    """:func:`place` ``result`` on the oldest page :func:`read_pages` put on ``read`` (taking it
    off): the placed result, and the text that was read of the page."""
    page, seen = read.popleft()
    return place(page, seen, result), seen.text


def place(page: str, seen: PageText, result: Restoration) -> Restoration:
    """``result`` (a restoration of ``seen.text``) carried onto ``page``: its text is the page
    with each edit's words replaced (HTML-escaped; in an attribute's value, quotes too), and
    every offset is a page offset."""
    edits, misplaced = _placed(page, seen, result.edits)
    quoted = {
        seen.sources[e.start]
        for e in result.edits
        if e.end > e.start and seen.runs[e.start] in seen.attribute_runs
    }
    suggestions, _ = _placed(page, seen, result.suggestions)
    units = []
    for unit in result.units:
        start, end = seen.cover(unit.start, unit.end)
        reasons = unit.reasons
        if any(unit.start <= e.start < unit.end for e in misplaced):
            reasons = (*reasons, ACROSS_MARKUP)
        units.append(dataclasses.replace(unit, start=start, end=end, reasons=reasons))
    parts, pos = [], 0
    for edit in edits:
        parts += [page[pos : edit.start], html.escape(edit.restored, edit.start in quoted)]
        pos = edit.end
    parts.append(page[pos:])
    return dataclasses.replace(
        result,
        text="".join(parts),
        edits=tuple(edits),
        units=tuple(units),
        word_spin=tuple((*seen.cover(s, e), p) for s, e, p in result.word_spin),
        suggestions=tuple(suggestions),
    )


def place_detection(seen: PageText, detection: Detection) -> Detection:
    """``detection`` (of ``seen.text``) with each word's span a page span (a word that markup
    splits, ``<b>wo</b>rd``, covers the markup too; its ``word`` is the word as read)."""
    words = []
    for word in detection.words:
        start, end = seen.cover(word.start, word.end)
        words.append(dataclasses.replace(word, start=start, end=end))
    return dataclasses.replace(detection, words=tuple(words))


def _placed(page: str, seen: PageText, edits: Sequence[Edit]) -> tuple[list[Edit], list[Edit]]:
    placed, misplaced = [], []
    for edit in edits:
        span = seen.span(edit.start, edit.end)
        if span is None:
            misplaced.append(edit)
            continue
        start, end = span
        placed.append(dataclasses.replace(edit, start=start, end=end, spun=page[start:end]))
    return placed, misplaced

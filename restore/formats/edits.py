"""The ``edits`` format: only what changed, as ``‖ spun ⇒ original`` items in input order.

An empty target means "nothing to change". Every item starts with ``‖`` so that a decoder
chooses between two single tokens (end, or one more item) rather than between the end and a
spread of possible words, which greedy decoding resolves to "nothing" long before the model has
stopped learning. Each item's left side is found in the input from the end of the previous item
on, as whole tokens, so untouched text is copied from the input and cannot be damaged. Where the
left side would be ambiguous, it carries the words before it as context.

>>> from restore.settings import ModelSettings
>>> edits = EditsFormat(ModelSettings(target_format="edits"))
>>> edits.make_target("He ejects the crowd.", "He greets the crowd.")
'‖ ejects ⇒ greets'
>>> edits.apply_target("He ejects the crowd.", "‖ ejects ⇒ greets").text
'He greets the crowd.'
"""

from __future__ import annotations

from restore.align import changed_blocks
from restore.formats.marks import ARROW, EDIT_TOKENS, SEPARATOR
from restore.formats.registry import register
from restore.formats.seq2seq import Applied, Seq2SeqFormat
from restore.text import Token, normalize, span_text, tokenize


@register("edits")
class EditsFormat(Seq2SeqFormat):
    """The model writes an edit list; untouched text is copied from the input."""

    marks = EDIT_TOKENS

    def make_target(self, spun: str, original: str) -> str:
        return format_edits(normalize(spun), normalize(original))

    def apply_target(self, source: str, target: str) -> Applied:
        return apply_edits(normalize(source), target)


def format_edits(spun: str, original: str) -> str:
    """Serialise the word-level differences between two normalised strings."""
    if any(mark in spun or mark in original for mark in EDIT_TOKENS):
        raise ValueError("text contains the edit-format marks ⇒ or ‖")
    a, b = tokenize(spun), tokenize(original)
    items = []
    cursor = 0  # token index in ``a`` after the previous item
    if not a and b:
        raise ValueError("an insertion into empty text cannot be written as an edit")
    for i1, i2, j1, j2 in changed_blocks(a, b):
        # Widen to the left until the left side's first occurrence from the cursor is this one.
        while i1 > cursor and _first_match(spun, a, cursor, span_text(spun, a, i1, i2)) != i1:
            i1, j1 = i1 - 1, j1 - 1
        left, right = span_text(spun, a, i1, i2), span_text(original, b, j1, j2)
        items.append(f"{SEPARATOR} {left} {ARROW} {right}".rstrip())
        cursor = i2
    return " ".join(items)


def apply_edits(source: str, target: str) -> Applied:
    """Apply an edit list to the normalised source; items that cannot be placed are skipped."""
    tokens = tokenize(source)
    parts = []
    pos = 0  # character offset in source
    cursor = 0  # token index
    failed = 0
    placed = []
    length = 0  # characters in parts
    for t_start, t_end in _item_spans(target):
        item = target[t_start:t_end]
        left, arrow, right = item.partition(ARROW)
        left, right = left.strip(), right.strip()
        first = _first_match(source, tokens, cursor, left) if arrow and left else None
        if first is None:
            failed += 1
            continue
        last = first + len(tokenize(left))
        start, end = tokens[first].start, tokens[last - 1].end
        if not right:
            # A deleted span takes one neighbouring space with it: the one before it, or, when
            # it follows a non-space ("2-international mile"), the one after it.
            if start > pos and source[start - 1] == " ":
                start -= 1
            elif source[end : end + 1] == " ":
                end += 1
        parts.append(source[pos:start])
        parts.append(right)
        length += start - pos
        placed.append((length, length + len(right), t_start, t_end))
        length += len(right)
        pos, cursor = end, last
    parts.append(source[pos:])
    return Applied("".join(parts), failed, tuple(placed))


def _item_spans(target: str) -> list[tuple[int, int]]:
    """Spans of the non-empty, stripped items of an edit list."""
    spans = []
    start = 0
    for piece in target.split(SEPARATOR):
        end = start + len(piece)
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        if end - trail > start + lead:
            spans.append((start + lead, end - trail))
        start = end + len(SEPARATOR)
    return spans


def _first_match(text: str, tokens: list[Token], cursor: int, span: str) -> int | None:
    """Index of the first token, from ``cursor`` on, where ``span`` begins as whole tokens."""
    want = [t.text for t in tokenize(span)]
    n = len(want)
    if not n:
        return None
    for i in range(cursor, len(tokens) - n + 1):
        # Tokens must be spaced as in the span, not only equal ("a-b" vs "a - b").
        if (
            tokens[i].text == want[0]
            and [t.text for t in tokens[i : i + n]] == want
            and text[tokens[i].start : tokens[i + n - 1].end] == span
        ):
            return i
    return None

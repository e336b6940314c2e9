"""Word-level alignment of a restored unit with the unit's original text.

The model sees and writes the normalised form of a unit (one space between tokens, NFC). To hand
back the user's text byte for byte outside the words that changed, the restored form is compared
with the normalised input token by token, and each changed block of tokens becomes a
:class:`Change` at character offsets of the *original* unit text. Tokens of a unit and of its
normalised form correspond one to one (``restore.text.normalize`` only touches whitespace and
composition), which is what lets offsets move from one to the other.

>>> from restore.text import prepare_unit
>>> unit = prepare_unit("The  big\\ndog barked.")
>>> [(c.start, c.end, c.replacement) for c in align(unit, "The large dog barked.")]
[(5, 8, 'large')]
>>> apply_changes(unit.text, align(unit, "The large dog barked."))
'The  large\\ndog barked.'
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from restore.text import Token, Unit, tokenize


@dataclass(frozen=True)
class Change:
    """Replace ``unit[start:end]`` by ``replacement``, taken from ``restored[r_start:r_end]``."""

    start: int
    end: int
    replacement: str
    r_start: int
    r_end: int


def align(unit: Unit, restored: str) -> list[Change] | None:
    """The changes that turn ``unit`` into ``restored`` word by word, in order, not overlapping,
    at offsets of the unit as written.

    Returns ``None`` when the unit's tokens do not correspond one to one with those of its
    normalised form (a combining mark after punctuation composes under NFC); the caller then
    keeps the unit as it is. Whitespace differences between equal tokens are not changes.
    """
    if not unit.aligned:
        return None
    original, normal = list(unit.written), list(unit.tokens)
    produced = tokenize(restored)
    changes = []
    for i1, i2, j1, j2 in split_blocks(changed_blocks(normal, produced), normal, produced):
        start, end = original[i1].start, original[i2 - 1].end
        if j2 > j1:
            r_start, r_end = produced[j1].start, produced[j2 - 1].end
        else:
            r_start = r_end = produced[j1].start if j1 < len(produced) else len(restored)
            start, end = _widen_deletion(unit.text, original, i1, i2)
        changes.append(Change(start, end, restored[r_start:r_end], r_start, r_end))
    return changes


def apply_changes(unit: str, changes: Sequence[Change]) -> str:
    """``unit`` with ``changes`` (ordered, not overlapping) applied."""
    parts = []
    pos = 0
    for change in changes:
        parts.append(unit[pos : change.start])
        parts.append(change.replacement)
        pos = change.end
    parts.append(unit[pos:])
    return "".join(parts)


def changed_blocks(a: list[Token], b: list[Token]) -> list[tuple[int, int, int, int]]:
    """Changed blocks ``a[i1:i2] -> b[j1:j2]``, each covering at least one token of ``a``.

    A pure insertion is anchored on the token before it (or after it, at the start), so every
    change replaces some input word and carries the inserted words with it; blocks that then
    overlap are merged. With ``a`` empty there is nothing to anchor on and no change is made.
    """
    if not a:
        return []
    matcher = difflib.SequenceMatcher(None, [t.text for t in a], [t.text for t in b], False)
    blocks: list[tuple[int, int, int, int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if i1 == i2:
            if i1 > 0:
                i1, j1 = i1 - 1, j1 - 1
            else:
                i2, j2 = i2 + 1, j2 + 1
        if blocks and i1 < blocks[-1][1]:
            p1, _, q1, _ = blocks.pop()
            i1, j1 = p1, q1
        blocks.append((i1, i2, j1, j2))
    return blocks


def split_blocks(
    blocks: list[tuple[int, int, int, int]], a: list[Token], b: list[Token]
) -> list[tuple[int, int, int, int]]:
    """Cut a block that replaces n tokens by n tokens into one change per differing token, so
    the gaps between them ("big\u00a0dog" -> "large\u00a0hound") stay as they were."""
    out = []
    for i1, i2, j1, j2 in blocks:
        if i2 - i1 > 1 and i2 - i1 == j2 - j1:
            out.extend(
                (i, i + 1, j1 + k, j1 + k + 1)
                for k, i in enumerate(range(i1, i2))
                if a[i].text != b[j1 + k].text
            )
        else:
            out.append((i1, i2, j1, j2))
    return out


def _widen_deletion(unit: str, tokens: list[Token], i1: int, i2: int) -> tuple[int, int]:
    """The span a deletion of ``tokens[i1:i2]`` removes: the words and one neighbouring gap.

    The gap before goes ("pay up, and" -> "pay, and"); when the words follow a non-space
    ("2-international mile"), the gap after goes instead ("2-mile").
    """
    start, end = tokens[i1].start, tokens[i2 - 1].end
    if i1 > 0 and tokens[i1 - 1].end < start:
        return tokens[i1 - 1].end, end
    if i2 < len(tokens) and end < tokens[i2].start:
        return start, tokens[i2].start
    return start, end

"""What the slot formats (``choices`` and ``tags``) share: slots, candidates, choice targets.

A slot is a word or phrase of the unit that our spinner plausibly wrote, found in the model's
candidate table (:mod:`restore.candidates`) with its likely originals. The model picks one
choice per slot; the target lists the picks, ``⟦1⟧⟨1⟩`` (``⟨0⟩`` keeps the word). The model
can restore only words in the table, to one of the shown originals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from restore.align import changed_blocks, split_blocks
from restore.candidates import Match, match_case
from restore.errors import ModelFormatError
from restore.formats.marks import CHOICE_TOKENS, MAX_CHOICES, MAX_SLOTS, SLOT_TOKENS
from restore.formats.seq2seq import Applied, Seq2SeqFormat, Seq2SeqSettings
from restore.settings import FormatSettings
from restore.text import Token, normalize, span_text, tokenize

CHOICE_RE = re.compile(r"⟦(\d+)⟧\s*⟨(\d+)⟩")


@dataclass(frozen=True)
class SlotSettings(Seq2SeqSettings):
    """A slot format's section of ``restore.json``."""

    slots: int = 24  # most slots per unit
    choices: int = 3  # most candidates shown per slot

    def validate(self) -> None:
        super().validate()
        if not (1 <= self.slots <= MAX_SLOTS and 1 <= self.choices <= MAX_CHOICES):
            raise ModelFormatError(
                f"slots must lie in [1, {MAX_SLOTS}] and choices in [1, {MAX_CHOICES}]"
            )


class SlotFormat(Seq2SeqFormat):
    """A format whose model picks, for each slot of the unit, one of the shown candidates."""

    uses_candidates: ClassVar[bool] = True
    settings_class: ClassVar[type[FormatSettings]] = SlotSettings

    def slots(self, text: str) -> list[Match]:
        """The slots of a normalised unit, with at most ``options.choices`` candidates each."""
        if self.candidates is None:
            raise ModelFormatError(f"the {self.name} format needs a candidate table")
        shown = self.options.choices
        return [
            Match(m.start, m.end, m.candidates[:shown], m.share)
            for m in self.candidates.match(text, limit=self.options.slots)
        ]

    def make_target(self, spun: str, original: str) -> str:
        spun, original = normalize(spun), normalize(original)
        a, b = tokenize(spun), tokenize(original)
        blocks = split_blocks(changed_blocks(a, b), a, b)
        first = {t.start: i for i, t in enumerate(a)}
        after = {t.end: i + 1 for i, t in enumerate(a)}
        items = []
        for i, slot in enumerate(self.slots(spun)):
            want = _original_of(first[slot.start], after[slot.end], blocks, original, b)
            j = slot.candidates.index(want) + 1 if want in slot.candidates else 0
            items.append(SLOT_TOKENS[i] + CHOICE_TOKENS[j])
        return "".join(items)

    def apply_target(self, source: str, target: str) -> Applied:
        source = normalize(source)
        return apply_choices(source, target, self.slots(source))


def _original_of(p: int, q: int, blocks, original: str, b: list[Token]) -> str | None:
    """What spun tokens ``p:q`` were in the original (lower case), or None when they were not
    changed or a change reaches outside them."""
    inside = [block for block in blocks if block[0] < q and p < block[1]]
    if not inside or inside[0][0] < p or inside[-1][1] > q:
        return None
    # Unchanged tokens around the changes inside the span map one to one.
    j_start = inside[0][2] - (inside[0][0] - p)
    j_end = inside[-1][3] + (q - inside[-1][1])
    return span_text(original, b, j_start, j_end).lower()


def apply_choices(source: str, target: str, slots: list[Match]) -> Applied:
    """Replace each slot's words by the candidate the target picked for it.

    Items naming a slot that does not exist, or a slot a second time, are skipped and counted
    as failed; a choice that does not exist keeps the word.
    """
    picked: dict[int, tuple[int, int, int]] = {}
    failed = 0
    for item in CHOICE_RE.finditer(target):
        i, j = int(item[1]) - 1, int(item[2])
        if not 0 <= i < len(slots) or i in picked:
            failed += 1
            continue
        # A choice past the slot's candidates (a slot with fewer than were shown elsewhere)
        # keeps the word.
        picked[i] = (j if j <= len(slots[i].candidates) else 0, item.start(), item.end())
    parts = []
    placed = []
    pos = length = 0
    for i, (j, t_start, t_end) in sorted(picked.items()):
        if j == 0:
            continue
        slot = slots[i]
        word = match_case(source[slot.start : slot.end], slot.candidates[j - 1])
        parts.append(source[pos : slot.start])
        length += slot.start - pos
        parts.append(word)
        placed.append((length, length + len(word), t_start, t_end))
        length += len(word)
        pos = slot.end
    parts.append(source[pos:])
    return Applied("".join(parts), failed, tuple(placed))

"""The ``choices`` format: the model generates one pick per slot shown in its input.

The source carries, after every slot, its mark and the slot's likely originals:
``ejects⟦1⟧⟨1⟩ greets⟨2⟩ expels``; the target picks one choice per slot, ``⟦1⟧⟨1⟩``. Marks
touch the text before them because a mark after a space costs a second token (a lone "▁"). The
model only classifies, which a small model learns in CPU hours where generating words from
scratch was not learned at all.

>>> from restore.candidates import CandidateTable
>>> from restore.formats.slots import SlotSettings
>>> from restore.settings import ModelSettings
>>> table = CandidateTable({"ejects": (0.9, ["greets", "expels"])})
>>> settings = ModelSettings(target_format="choices", options=SlotSettings(choices=2))
>>> choices = ChoicesFormat(settings, table)
>>> choices.encode_source("She ejects them.")
'She ejects⟦1⟧⟨1⟩ greets⟨2⟩ expels them.'
>>> choices.apply_target("She ejects them.", "⟦1⟧⟨2⟩").text
'She expels them.'
"""

from __future__ import annotations

import re

from restore.formats.marks import ARROW, CHOICE_TOKENS, SLOT_TOKENS
from restore.formats.registry import register
from restore.formats.slots import CHOICE_RE, SlotFormat


@register("choices")
class ChoicesFormat(SlotFormat):
    """Slots and their candidates in the input; the model writes ``⟦slot⟧⟨choice⟩`` items."""

    marks = SLOT_TOKENS + CHOICE_TOKENS
    card_note = "picks among candidate originals from `candidates.json.gz`, shown in the input"

    def encode_normal(self, text: str) -> str:
        parts = []
        pos = 0
        for i, slot in enumerate(self.slots(text)):
            shown = "".join(f"{CHOICE_TOKENS[j]} {c}" for j, c in enumerate(slot.candidates, 1))
            parts.append(f"{text[pos : slot.end]}{SLOT_TOKENS[i]}{shown}")
            pos = slot.end
        parts.append(text[pos:])
        return self.options.prefix + "".join(parts)

    def reveal(self, source: str, target: str) -> str:
        """The source with each slot's answer written after its mark (``⟦1⟧⇒⟨2⟩``): a
        copy-first curriculum for a share of the training pairs, never done at inference."""
        answers = {slot: choice for slot, choice in CHOICE_RE.findall(target)}
        return re.sub(
            r"⟦(\d+)⟧",
            lambda m: f"{m[0]}{ARROW}⟨{answers[m[1]]}⟩" if m[1] in answers else m[0],
            source,
        )

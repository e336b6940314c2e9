"""The ``tags`` format: the model reads its input once and picks a choice at each slot mark.

The source carries, after every slot, its candidates, then a mark of how often the word was
spinner output in the training data (``⟪9⟫``: at least 90%), then the slot mark:
``ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧``. The decoder is not asked to generate: it reads the
source again (``decoder_input_ids``) and, at each slot mark, predicts that slot's choice, all
in one forward pass (a :class:`restore.backends.SlotTagger`). Looking a slot up across the encoder
is what small models from scratch failed to learn in CPU hours; a decoder that sees the slot's
own words just before the mark only has to judge them, with the encoder's view of the whole
unit to help. Training labels only the slot marks, with their choices.

>>> from restore.candidates import CandidateTable
>>> from restore.formats.slots import SlotSettings
>>> from restore.settings import ModelSettings
>>> table = CandidateTable({"ejects": (0.9, ["greets", "expels"])})
>>> tags = TagsFormat(ModelSettings(target_format="tags", options=SlotSettings(choices=2)), table)
>>> tags.encode_source("She ejects them.")
'She ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧ them.'
>>> tags.apply_target("She ejects them.", "⟦1⟧⟨1⟩").text
'She greets them.'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from restore.backends import Generation, SlotTagger
from restore.detection import slot_word_spin
from restore.errors import ModelFormatError
from restore.formats.marks import CHOICE_TOKENS, SHARE_TOKENS, SLOT_TOKENS
from restore.formats.registry import register
from restore.formats.slots import SlotFormat
from restore.text import Unit


@register("tags")
class TagsFormat(SlotFormat):
    """Slots, candidates and spun shares in the input; a choice read off at each slot mark."""

    marks = SLOT_TOKENS + CHOICE_TOKENS + SHARE_TOKENS
    runtime = SlotTagger
    generates = False
    detects = True
    card_note = (
        "the decoder reads the input and picks, at each slot mark, one of the candidate "
        "originals from `candidates.json.gz` shown before it, in one forward pass: run it with "
        "the torch backends; `generate` is not how it is used"
    )

    def encode_normal(self, text: str) -> str:
        parts = []
        pos = 0
        for i, slot in enumerate(self.slots(text)):
            shown = "".join(f"{CHOICE_TOKENS[j]} {c}" for j, c in enumerate(slot.candidates, 1))
            share = SHARE_TOKENS[min(int(slot.share * 10), 9)]
            parts.append(f"{text[pos : slot.end]}{shown}{share}{SLOT_TOKENS[i]}")
            pos = slot.end
        parts.append(text[pos:])
        return self.options.prefix + "".join(parts)

    def run(self, runtime: Any, batch: Sequence[Sequence[int]], encoder: Any) -> list[Generation]:
        slot_ids, choice_ids = self.mark_ids(encoder.token_to_id)
        return runtime.tag(batch, slot_ids, choice_ids)

    def word_spin(self, unit: Unit, output: Generation) -> tuple[tuple[int, int, float], ...]:
        """Every word with a slot gets 1 - P(keep) at its slot mark, slot by slot in order."""
        if not output.spin_probs:
            return ()
        slots = [(s.start, s.end) for s in self.slots(unit.normal)]
        return slot_word_spin(unit, slots, output.spin_probs)

    def mark_ids(self, token_id: Callable[[str], int | None]) -> tuple[list[int], list[int]]:
        """The ids of the slot marks and of the choices this model may pick (``⟨0⟩`` to
        ``⟨choices⟩``): the one lookup of them, for inference and training alike."""
        slots = [token_id(t) for t in SLOT_TOKENS]
        choices = [token_id(t) for t in CHOICE_TOKENS[: self.options.choices + 1]]
        if None in slots or None in choices:
            raise ModelFormatError("the tokenizer lacks the tags format's marks")
        return slots, choices

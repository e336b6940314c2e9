"""The ``tags`` format: the model reads its input once and picks a choice at each slot mark.

The source carries, after every slot, its candidates, then a mark of how often the word was
spinner output in the training data (``⟪9⟫``: at least 90%), then the slot mark:
``ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧``. The decoder is not asked to generate: it reads the
source again (``decoder_input_ids``) and, at each slot mark, predicts that slot's choice, all
in one forward pass (a :class:`restore.backends.Tagger`). Looking a slot up across the encoder
is what small models from scratch failed to learn in CPU hours; a decoder that sees the slot's
own words just before the mark only has to judge them, with the encoder's view of the whole
unit to help. Training labels only the slot marks, with their choices.

>>> from restore.candidates import CandidateTable
>>> from restore.format import ModelSettings
>>> table = CandidateTable({"ejects": (0.9, ["greets", "expels"])})
>>> tags = TagsFormat(ModelSettings(target_format="tags", choices=2), table)
>>> tags.encode_source("She ejects them.")
'She ejects⟨1⟩ greets⟨2⟩ expels⟪9⟫⟦1⟧ them.'
>>> tags.apply_target("She ejects them.", "⟦1⟧⟨1⟩").text
'She greets them.'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from restore.backends import Generation, Tagger
from restore.detection import slot_word_spin
from restore.errors import ModelFormatError
from restore.formats.base import TokenId
from restore.formats.marks import CHOICE_TOKENS, SHARE_TOKENS, SLOT_TOKENS
from restore.formats.registry import register
from restore.formats.slots import CHOICE_RE, SlotFormat
from restore.text import normalize

IGNORE = -100  # the label of positions that are not slot marks


@register("tags")
class TagsFormat(SlotFormat):
    """Slots, candidates and spun shares in the input; a choice read off at each slot mark."""

    marks = SLOT_TOKENS + CHOICE_TOKENS + SHARE_TOKENS
    runtime = Tagger
    generates = False
    detects = True
    card_note = (
        "the decoder reads the input and picks, at each slot mark, one of the candidate "
        "originals from `candidates.json.gz` shown before it, in one forward pass: run it with "
        "the torch backends; `generate` is not how it is used"
    )

    def encode_source(self, unit: str) -> str:
        text = normalize(unit)
        parts = []
        pos = 0
        for i, slot in enumerate(self.slots(text)):
            shown = "".join(f"{CHOICE_TOKENS[j]} {c}" for j, c in enumerate(slot.candidates, 1))
            share = SHARE_TOKENS[min(int(slot.share * 10), 9)]
            parts.append(f"{text[pos : slot.end]}{shown}{share}{SLOT_TOKENS[i]}")
            pos = slot.end
        parts.append(text[pos:])
        return self.settings.prefix + "".join(parts)

    def run(
        self, runtime: Any, batch: Sequence[Sequence[int]], token_id: TokenId
    ) -> list[Generation]:
        slot_ids, choice_ids = self._mark_ids(token_id)
        return runtime.tag(batch, slot_ids, choice_ids)

    def word_spin(self, source: str, output: Generation) -> tuple[tuple[int, int, float], ...]:
        """Every word with a slot gets 1 - P(keep) at its slot mark, slot by slot in order."""
        if not output.spin_probs:
            return ()
        slots = [(s.start, s.end) for s in self.slots(normalize(source))]
        return slot_word_spin(source, slots, output.spin_probs)

    def _mark_ids(self, token_id: TokenId) -> tuple[list[int], list[int]]:
        """The ids of the slot marks and of the choices this model may pick (``⟨0⟩`` to
        ``⟨choices⟩``): the one lookup of them, for inference and training alike."""
        slots = [token_id(t) for t in SLOT_TOKENS]
        choices = [token_id(t) for t in CHOICE_TOKENS[: self.settings.choices + 1]]
        if None in slots or None in choices:
            raise ModelFormatError("the tokenizer lacks the tags format's marks")
        return slots, choices

    # -- training ------------------------------------------------------------------------------

    def label_columns(
        self, sources: list[list[int]], targets: list[str], tokenizer
    ) -> dict[str, list[list[int]]]:
        """The decoder reads the source; labels are IGNORE but at slot marks: their choice."""
        slot_ids, choice_ids = self._mark_ids(tokenizer.convert_tokens_to_ids)
        slots = {token: i for i, token in enumerate(slot_ids, 1)}
        labels = []
        for ids, target in zip(sources, targets):
            picked = {int(slot): choice_ids[int(j)] for slot, j in CHOICE_RE.findall(target)}
            labels.append([picked.get(slots.get(token, 0), IGNORE) for token in ids])
        return {"labels": labels, "decoder_input_ids": [list(ids) for ids in sources]}

    def fits(self, labels: Sequence[int]) -> bool:
        return True  # the labels run along the source, whose length is checked

    def collator(self, tokenizer, model) -> Callable:
        """Pads input_ids and decoder_input_ids with the pad id, labels with IGNORE."""
        import torch

        pad_id = tokenizer.pad_token_id

        def collate(features):
            width = max(len(f["input_ids"]) for f in features)

            def column(key, fill):
                return torch.tensor([f[key] + [fill] * (width - len(f[key])) for f in features])

            input_ids = column("input_ids", pad_id)
            return {
                "input_ids": input_ids,
                "attention_mask": (input_ids != pad_id).long(),
                "decoder_input_ids": column("decoder_input_ids", pad_id),
                "labels": column("labels", IGNORE),
            }

        return collate

    def preprocess_logits(self, tokenizer) -> Callable:
        """The likeliest choice id at each position, so evaluation keeps ids, not logits."""
        choice_ids = self._mark_ids(tokenizer.convert_tokens_to_ids)[1]

        def best(logits, labels):
            import torch

            logits = logits[0] if isinstance(logits, tuple) else logits
            ids = torch.tensor(choice_ids, device=logits.device)
            return ids[logits[..., ids].argmax(-1)]

        return best

    def decode_predictions(self, predictions, label_ids, tokenizer) -> list[str]:
        """Each row's choices at its labelled positions (the slot marks), in order."""
        return [
            "".join(
                f"{SLOT_TOKENS[k]}{tokenizer.convert_ids_to_tokens(int(i))}"
                for k, i in enumerate(row[gold >= 0])
            )
            for row, gold in zip(predictions, label_ids)
        ]

    def token_accuracy(self, predictions, label_ids) -> float:
        return float((predictions == label_ids)[label_ids >= 0].mean())

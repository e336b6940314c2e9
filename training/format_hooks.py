"""What training needs of a seq2seq format beyond strings, kept out of the inference library:
the label columns of a tokenised batch, which rows fit, a collator, and how to read predictions
back at evaluation. ``hooks_for(format)`` gives a format's hooks; the defaults suit a format the
model generates token by token, and the tags format, whose decoder reads the source and is
labelled only at slot marks, has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from restore.formats.marks import SLOT_TOKENS
from restore.formats.seq2seq import Seq2SeqFormat
from restore.formats.slots import CHOICE_RE
from restore.formats.tags import TagsFormat

IGNORE = -100  # the label of positions the loss skips


class TrainingHooks:
    """The hooks of a format whose model generates its target."""

    def __init__(self, model_format: Seq2SeqFormat):
        self.format = model_format

    def label_columns(
        self, sources: list[list[int]], targets: list[str], tokenizer
    ) -> dict[str, list[list[int]]]:
        """The columns besides ``input_ids`` of tokenised training rows: the target's ids."""
        return {"labels": tokenizer(text_target=targets).input_ids}

    def fits(self, labels: Sequence[int]) -> bool:
        """Whether a row's labels fit the model (over-long rows are dropped, never cut)."""
        return 0 < len(labels) <= self.format.options.max_target_tokens

    def collator(self, tokenizer, model) -> Callable:
        """Pads a list of tokenised rows into a batch."""
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=IGNORE)

    def preprocess_logits(self, tokenizer) -> Callable | None:
        """``preprocess_logits_for_metrics`` of the Trainer; None keeps the logits."""
        return None

    def decode_predictions(self, predictions, label_ids, tokenizer) -> list[str]:
        """The model outputs of an evaluation, as target strings."""
        ids = np.where(predictions < 0, tokenizer.pad_token_id, predictions)
        return tokenizer.batch_decode(ids, skip_special_tokens=True)

    def token_accuracy(self, predictions, label_ids) -> float:
        """Share of label tokens that the generated sequence has at the same position."""
        # Generated ids start with the decoder start token; labels do not.
        predicted = predictions[:, 1:]
        width = min(predicted.shape[1], label_ids.shape[1])
        mask = label_ids[:, :width] >= 0
        correct = (predicted[:, :width] == label_ids[:, :width]) & mask
        return float(correct.sum() / max(int(np.count_nonzero(label_ids >= 0)), 1))


class TagsHooks(TrainingHooks):
    """The tags format: the decoder reads the source; labels are IGNORE but at slot marks."""

    format: TagsFormat

    def label_columns(
        self, sources: list[list[int]], targets: list[str], tokenizer
    ) -> dict[str, list[list[int]]]:
        slot_ids, choice_ids = self.format.mark_ids(tokenizer.convert_tokens_to_ids)
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
        choice_ids = self.format.mark_ids(tokenizer.convert_tokens_to_ids)[1]

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


def hooks_for(model_format: Seq2SeqFormat) -> TrainingHooks:
    """The training hooks of a bound seq2seq format."""
    if isinstance(model_format, TagsFormat):
        return TagsHooks(model_format)
    return TrainingHooks(model_format)

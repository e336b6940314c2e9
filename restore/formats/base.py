"""What every format does, and the defaults of the formats a model generates.

Training builds (source, target) strings with :meth:`Format.encode_source` and
:meth:`Format.make_target`; inference builds the source the same way, runs the model through
:meth:`Format.run` and turns its output back into text with :meth:`Format.apply_target`. Both
sides take the format's settings from ``restore.json``, so they cannot drift apart.

A format also says which kind of backend can run it (``runtime``, a protocol of
:mod:`restore.backends`), and gives training what it needs beyond strings: the label columns of
a tokenised batch, a collator, and how to read predictions back at evaluation. Those methods
take a transformers tokenizer and import torch or transformers only when called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from restore.align import Change
from restore.backends import Generation, Generator
from restore.candidates import CANDIDATES_FILE, CandidateTable
from restore.errors import ModelFormatError
from restore.format import ModelSettings
from restore.text import normalize

TokenId = Callable[[str], "int | None"]
Region = list[tuple[int, int]]


@dataclass(frozen=True)
class Reading:
    """What a unit's model output says: the restored (normalised) unit, the model's overall
    confidence, whether it finished, how many target items could not be placed, the words it
    judged (``(start, end, probability)`` in the unit), and each change's confidence."""

    text: str
    confidence: float
    edit_confidence: Callable[[Sequence[Change]], list[float]]
    finished: bool = True
    failed_items: int = 0
    word_spin: tuple[tuple[int, int, float], ...] = ()
    withheld: int = 0  # proposals the format left out as less sure than the guard's threshold


@dataclass(frozen=True)
class Applied:
    """The text a target gives for a source, and how many target items could not be placed.

    ``placed`` maps each placed item of the target to where it came from: ``(start, end,
    t_start, t_end)`` is the item's replacement at ``text[start:end]`` and the item itself at
    ``target[t_start:t_end]`` (empty for the text format), so a restored word can be traced to
    the output tokens that wrote it.
    """

    text: str
    failed_items: int = 0
    placed: tuple[tuple[int, int, int, int], ...] = ()


class Format:
    """One target format, bound to a model's settings (and candidate table, if it uses one).

    Subclasses register with ``@register("name")`` and implement :meth:`make_target` and
    :meth:`apply_target`; the defaults here suit a format the model generates token by token.
    """

    name: ClassVar[str] = ""
    marks: ClassVar[tuple[str, ...]] = ()  # marks it writes, each a single token
    uses_candidates: ClassVar[bool] = False  # reads candidates.json.gz from the model dir
    runtime: ClassVar[type] = Generator  # the backend protocol that runs it
    generates: ClassVar[bool] = True  # the model writes the target token by token
    card_note: ClassVar[str] = ""  # what the model card says of the format
    detects: ClassVar[bool] = False  # its outputs say which words a spinner wrote
    weighs_documents: ClassVar[bool] = False  # weigh_document looks at a document's outputs

    def __init__(self, settings: ModelSettings, candidates: CandidateTable | None = None):
        if self.uses_candidates and candidates is None:
            raise ModelFormatError(f"the {self.name} format needs a candidate table")
        self.settings = settings
        self.candidates = candidates

    @classmethod
    def load(cls, model_dir: str | Path, settings: ModelSettings) -> Format:
        """The format of the model in ``model_dir``, with its candidate table if it uses one."""
        if not cls.uses_candidates:
            return cls(settings)
        path = Path(model_dir) / CANDIDATES_FILE
        try:
            return cls(settings, CandidateTable.load(path))
        except FileNotFoundError as err:
            raise ModelFormatError(
                f"{model_dir} uses the {cls.name} format but has no {path.name}"
            ) from err
        except (OSError, ValueError) as err:
            raise ModelFormatError(f"cannot read {path}: {err}") from err

    @classmethod
    def runs_on(cls, backend_class: type) -> bool:
        """Whether instances of ``backend_class`` can run this format."""
        return issubclass(backend_class, cls.runtime)

    # -- text and targets ----------------------------------------------------------------------

    def encode_source(self, unit: str) -> str:
        """The model input for one unit of text."""
        return self.settings.prefix + normalize(unit)

    def make_target(self, spun: str, original: str) -> str:
        """The training target for a (spun, original) unit pair."""
        raise NotImplementedError

    def apply_target(self, source: str, target: str) -> Applied:
        """Turn a model output back into restored text for ``source`` (the unit, no prefix)."""
        raise NotImplementedError

    def reveal(self, source: str, target: str) -> str:
        """``source`` with the target's answers written in (a training curriculum); formats
        without one return ``source``."""
        return source

    # -- running the model ---------------------------------------------------------------------

    def run(
        self, runtime: Any, batch: Sequence[Sequence[int]], token_id: TokenId
    ) -> list[Generation]:
        """The model's output for each source of ``batch`` (``token_id`` maps a mark to its id)."""
        return runtime.generate(batch)

    def weigh_document(self, outputs: list[Any]) -> list[Any]:
        """The outputs of one document's units, in order, before each is read: a format whose
        decisions depend on the whole document adjusts them here."""
        return outputs

    # -- loading and reading a model -----------------------------------------------------------

    def load_runtime(self, model_dir: Path, backend: str, threads: int | None) -> tuple[Any, Any]:
        """The backend that runs this format (a class of ``backend`` satisfying ``runtime``)
        and the tokenizer the Restorer encodes sources with."""
        from restore.backends import build_backend
        from restore.loading import load_decoding, load_tokenizer

        decoding = load_decoding(model_dir, self.settings)
        tokenizer = load_tokenizer(model_dir, decoding)
        runtime = build_backend(backend, model_dir, decoding, runtime=self.runtime, threads=threads)
        return runtime, tokenizer

    def model_input(self, tokenizer, unit: str) -> tuple[Any, int] | None:
        """The model input of one unit and its length in tokens; None when the tokenizer does
        not give the text back as written (a literal "▁" decodes as a space), so nothing the
        model writes back could be trusted to keep it."""
        source = self.encode_source(unit)
        ids = tokenizer.encode(source).ids
        if tokenizer.decode(ids, skip_special_tokens=True) != source:
            return None
        return ids, len(ids)

    def read(
        self, source: str, output: Generation, tokenizer, attribution, min_confidence: float = 0.0
    ) -> Reading:
        """The restoration a generated (or tagged) output gives for ``source``: the target
        applied, and each change's confidence as the lowest probability of the output tokens
        that wrote it (``restore.attribution``). The guard withholds changes less sure than
        ``min_confidence`` afterwards; a format whose proposals are independent may leave them
        out here instead."""
        import math

        from restore.attribution import lowest

        text = tokenizer.decode(list(output.token_ids), skip_special_tokens=True)
        applied = self.apply_target(source, text)
        probs = [math.exp(lp) for lp in output.log_probs]
        confidence = sum(probs) / len(probs) if probs else 0.0

        def edit_confidence(changes: Sequence[Change]) -> list[float]:
            spans = attribution.token_spans(output, text)
            regions = self.output_regions(changes, applied, len(text))
            return [lowest(spans, region, confidence) for region in regions]

        return Reading(
            applied.text,
            confidence,
            edit_confidence,
            finished=output.finished,
            failed_items=applied.failed_items,
            word_spin=self.word_spin(source, output),
        )

    def word_spin(self, source: str, output: Any) -> tuple[tuple[int, int, float], ...]:
        """``(start, end, probability)`` in ``source`` of each word the model judged as spun or
        not, from its output for that unit; formats that do not judge words (``detects`` is
        false) return nothing."""
        return ()

    def output_regions(
        self, changes: Sequence[Change], applied: Applied, size: int
    ) -> list[Region]:
        """For each change of the restored text, the character ranges of the model output (of
        length ``size``) that wrote it: the placed target items it touches."""
        return [
            [
                (t_start, t_end)
                for start, end, t_start, t_end in applied.placed
                if _touches(start, end, change.r_start, change.r_end)
            ]
            for change in changes
        ]

    # -- training ------------------------------------------------------------------------------

    def label_columns(
        self, sources: list[list[int]], targets: list[str], tokenizer
    ) -> dict[str, list[list[int]]]:
        """The columns besides ``input_ids`` of tokenised training rows: the target's ids."""
        return {"labels": tokenizer(text_target=targets).input_ids}

    def fits(self, labels: Sequence[int]) -> bool:
        """Whether a row's labels fit the model (over-long rows are dropped, never cut)."""
        return 0 < len(labels) <= self.settings.max_target_tokens

    def collator(self, tokenizer, model) -> Callable:
        """Pads a list of tokenised rows into a batch."""
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)

    def preprocess_logits(self, tokenizer) -> Callable | None:
        """``preprocess_logits_for_metrics`` of the Trainer; None keeps the logits."""
        return None

    def decode_predictions(self, predictions, label_ids, tokenizer) -> list[str]:
        """The model outputs of an evaluation, as target strings."""
        import numpy as np

        ids = np.where(predictions < 0, tokenizer.pad_token_id, predictions)
        return tokenizer.batch_decode(ids, skip_special_tokens=True)

    def token_accuracy(self, predictions, label_ids) -> float:
        """Share of label tokens that the generated sequence has at the same position."""
        import numpy as np

        # Generated ids start with the decoder start token; labels do not.
        predicted = predictions[:, 1:]
        width = min(predicted.shape[1], label_ids.shape[1])
        mask = label_ids[:, :width] >= 0
        correct = (predicted[:, :width] == label_ids[:, :width]) & mask
        return float(correct.sum() / max(int(np.count_nonzero(label_ids >= 0)), 1))


def _touches(a0: int, a1: int, b0: int, b1: int) -> bool:
    """Whether two ranges overlap; an empty range counts where it touches the other."""
    if a0 == a1 or b0 == b1:
        return a0 <= b1 and b0 <= a1
    return a0 < b1 and b0 < a1

"""What the formats of a T5-style model share: a source string in, a target string out.

Training builds (source, target) strings with :meth:`Seq2SeqFormat.encode_source` and
:meth:`Seq2SeqFormat.make_target`; inference builds the source the same way, runs the model and
turns its output back into text with :meth:`Seq2SeqFormat.apply_target`. Both sides take the
format's settings from ``restore.json`` (:class:`Seq2SeqSettings`), so they cannot drift apart.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from restore.align import Change
from restore.backends import Generation, Generator
from restore.errors import ModelFormatError
from restore.formats.base import Format, Reading
from restore.settings import FormatSettings
from restore.text import Unit, normalize

Region = list[tuple[int, int]]


@dataclass(frozen=True)
class Seq2SeqSettings(FormatSettings):
    """A seq2seq format's section of ``restore.json``."""

    prefix: str = ""  # written before every source
    max_target_tokens: int = 128

    def validate(self) -> None:
        if self.max_target_tokens < 1:
            raise ModelFormatError("max_target_tokens must be >= 1")


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


class Seq2SeqFormat(Format):
    """A format with a target string: subclasses implement :meth:`make_target` and
    :meth:`apply_target`; the defaults here suit a target the model generates token by token."""

    runtime: ClassVar[type] = Generator
    settings_class: ClassVar[type[FormatSettings]] = Seq2SeqSettings
    marks: ClassVar[tuple[str, ...]] = ()  # marks it writes, each a single token
    generates: ClassVar[bool] = True  # the model writes the target token by token

    # -- text and targets ----------------------------------------------------------------------

    def encode_source(self, unit: str) -> str:
        """The model input for one unit of text."""
        return self.encode_normal(normalize(unit))

    def encode_normal(self, normal: str) -> str:
        """The model input for one unit already normalised (``restore.text.normalize``)."""
        return self.options.prefix + normal

    @abstractmethod
    def make_target(self, spun: str, original: str) -> str:
        """The training target for a (spun, original) unit pair."""

    @abstractmethod
    def apply_target(self, source: str, target: str) -> Applied:
        """Turn a model output back into restored text for ``source`` (the unit, no prefix)."""

    def reveal(self, source: str, target: str) -> str:
        """``source`` with the target's answers written in (a training curriculum); formats
        without one return ``source``."""
        return source

    # -- running the model ---------------------------------------------------------------------

    def load_runtime(self, model_dir: Path, backend: str, threads: int | None) -> tuple[Any, Any]:
        from restore.backends import build_backend
        from restore.loading import load_decoding, load_tokenizer

        decoding = load_decoding(model_dir, self.options.max_target_tokens)
        tokenizer = load_tokenizer(model_dir, decoding)
        runtime = build_backend(backend, model_dir, decoding, runtime=self.runtime, threads=threads)
        return runtime, tokenizer

    def model_input(self, tokenizer, unit: Unit) -> tuple[Any, int] | None:
        """The source's token ids; None when the tokenizer does not give the text back as
        written (a literal "▁" decodes as a space), so nothing the model writes back could be
        trusted to keep it."""
        source = self.encode_normal(unit.normal)
        ids = tokenizer.encode(source).ids
        if tokenizer.decode(ids, skip_special_tokens=True) != source:
            return None
        return ids, len(ids)

    def run(self, runtime: Any, batch: Sequence[Sequence[int]], encoder: Any) -> list[Generation]:
        return runtime.generate(batch)

    def read(
        self, unit: Unit, output: Generation, tokenizer, attribution, min_confidence: float = 0.0
    ) -> Reading:
        """The target applied, and each change's confidence as the lowest probability of the
        output tokens that wrote it (``restore.attribution``)."""
        from restore.attribution import lowest

        text = tokenizer.decode(list(output.token_ids), skip_special_tokens=True)
        applied = self.apply_target(unit.normal, text)
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
            word_spin=self.word_spin(unit, output),
        )

    def word_spin(self, unit: Unit, output: Any) -> tuple[tuple[int, int, float], ...]:
        """``(start, end, probability)`` in the unit as written of each word the model judged
        as spun or not; formats that do not judge words (``detects`` is false) return nothing."""
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


def _touches(a0: int, a1: int, b0: int, b1: int) -> bool:
    """Whether two ranges overlap; an empty range counts where it touches the other."""
    if a0 == a1 or b0 == b1:
        return a0 <= b1 and b0 <= a1
    return a0 < b1 and b0 < a1

"""The Restorer: restore spun text with a model directory, keeping the user's formatting.

>>> from restore import Restorer
>>> restorer = Restorer.from_pretrained("default")           # or a model directory
>>> restorer.restore("The council ejected the plan on Tuesday.")
'The council approved the plan on Tuesday.'
>>> result = restorer.restore_detailed("The council ejected the plan.")
>>> [(e.start, e.end, e.spun, e.restored) for e in result.edits]
[(12, 20, 'ejected', 'approved')]

How a document is restored:

1. ``restore.text.segment`` cuts it into units, exactly as training cut its pairs; a unit whose
   source is longer than the model's ``max_source_tokens`` is cut again with a smaller word
   budget, and a single word that is still too long is left as it is.
2. Units are generated in batches, sorted by length inside a read-ahead window; results come
   back in input order, one per input.
3. ``restore.format.apply_target`` turns each output into the restored (normalised) unit, which
   is aligned word by word with the input unit (``restore.align``). Only the words that changed
   are replaced, at character offsets of the original text, so all other characters (spacing,
   line breaks, quotes, dashes, composition) stay byte-identical.
4. The guard (``restore.guard``) keeps the input of any unit whose restoration changes a number
   or a name, changes the length too much, is unsure, or did not finish.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore import guard as guards
from restore.align import Change, align
from restore.backends import Generation, Generator, build_generator
from restore.candidates import CandidateTable
from restore.detection import (
    DETECTING_FORMATS,
    Calibration,
    Detection,
    DetectionUnavailable,
    build_detection,
    load_calibration,
    slot_word_spin,
)
from restore.errors import BackendError
from restore.format import (
    CHOICE_TOKENS,
    SLOT_TOKENS,
    GuardSettings,
    ModelFormatError,
    ModelSettings,
    apply_target,
    encode_source,
    load_candidates,
    load_settings,
)
from restore.loading import load_decoding, load_tokenizer, resolve_model
from restore.text import normalize, segment

logger = logging.getLogger(__name__)

RESTORED = "restored"  # the unit's restoration was accepted (it has edits)
UNCHANGED = "unchanged"  # the model left the unit's words as they were
REJECTED = "rejected"  # the guard kept the input; ``reasons`` says why
SKIPPED = "skipped"  # the unit was not sent to the model; ``reasons`` says why
SOURCE_TOO_LONG = "source_too_long"
TOKEN_MISMATCH = "token_mismatch"
UNREPRESENTABLE = "unrepresentable"  # the tokenizer does not round-trip the unit


@dataclass(frozen=True)
class Edit:
    """``text[start:end]`` of the input (``spun``) became ``restored``; ``confidence`` in [0, 1]
    is the lowest probability of the output tokens that wrote this edit."""

    start: int
    end: int
    spun: str
    restored: str
    confidence: float


@dataclass(frozen=True)
class UnitReport:
    """What happened to one unit ``text[start:end]`` of the input.

    ``status`` is "restored", "unchanged", "rejected" (the guard kept the input, see
    ``reasons``) or "skipped" (never sent to the model). ``confidence`` is the mean probability
    of the output tokens; ``proposal`` is the model's restoration of the unit (normalised,
    before the guard), for every unit that went to the model.
    """

    start: int
    end: int
    status: str
    reasons: tuple[str, ...] = ()
    confidence: float | None = None
    proposal: str | None = None


@dataclass(frozen=True)
class Restoration:
    """A restored document, its edits (in input offsets, in order) and a report per unit.

    ``word_spin`` holds ``(start, end, probability)`` (input offsets) for each word the model
    judged, from the same forward pass: the probability that a spinner put it there. Words the
    model did not judge count as 0; ``restore.detection`` turns this into a :class:`Detection`.
    """

    text: str
    edits: tuple[Edit, ...] = ()
    units: tuple[UnitReport, ...] = ()
    word_spin: tuple[tuple[int, int, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"text", "edits": [...], "units": [...]}``."""
        return {
            "text": self.text,
            "edits": [dataclasses.asdict(e) for e in self.edits],
            "units": [{**dataclasses.asdict(u), "reasons": list(u.reasons)} for u in self.units],
        }


@dataclass
class _Unit:
    start: int
    end: int
    source_ids: list[int] | None  # None: too long for the model, kept as it is
    edits: tuple[Edit, ...] = ()
    report: UnitReport | None = None
    word_spin: tuple[tuple[int, int, float], ...] = ()  # offsets in the unit


@dataclass
class _Document:
    text: str
    units: list[_Unit]

    def result(self) -> Restoration:
        edits = tuple(e for unit in self.units for e in unit.edits)
        parts = []
        pos = 0
        for edit in edits:
            parts.append(self.text[pos : edit.start])
            parts.append(edit.restored)
            pos = edit.end
        parts.append(self.text[pos:])
        reports = tuple(unit.report for unit in self.units if unit.report is not None)
        spin = tuple((u.start + a, u.start + b, p) for u in self.units for a, b, p in u.word_spin)
        return Restoration("".join(parts), edits, reports, spin)


class Restorer:
    """Restores spun text with a generator, a tokenizer and a model's settings.

    Most users call :meth:`from_pretrained`. The constructor is the seam for other runtimes and
    for tests: ``generator`` is any object with ``generate(batch) -> list[Generation]`` (see
    ``restore.backends``), ``tokenizer`` a ``tokenizers.Tokenizer``.

    ``batch_size`` units go to the model at a time; ``read_ahead`` units (default 16 batches)
    are collected and sorted by length before batching. ``candidates`` is the model's
    candidate table, needed by the choices and tags formats only. ``calibration`` turns word
    spin probabilities into P(spun) for :meth:`detect` (``detection.json`` in the model dir).
    """

    def __init__(
        self,
        generator: Generator,
        tokenizer,
        settings: ModelSettings,
        *,
        guard: GuardSettings | Mapping[str, Any] | None = None,
        batch_size: int = 32,
        read_ahead: int | None = None,
        candidates: CandidateTable | None = None,
        calibration: Calibration | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.generator = generator
        self.tokenizer = tokenizer
        self.settings = settings
        self.candidates = candidates
        self.calibration = calibration
        self.guard = _resolve_guard(settings.guard, guard)
        self.batch_size = batch_size
        self.read_ahead = max(read_ahead or 16 * batch_size, batch_size)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = "default",
        *,
        backend: str = "torch",
        guard: GuardSettings | Mapping[str, Any] | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        revision: str | None = None,
    ) -> Restorer:
        """Load a model: ``"default"`` (shipped with the package), a directory, or a Hub name.

        ``backend`` is "torch" (float32), "torch-int8" (dynamic int8) or "ctranslate2" (needs
        a CTranslate2 export: the directory itself, or its ``ctranslate2/`` subdirectory; see
        ``restore export-ct2``). ``guard`` overrides the model's guard thresholds, as a
        :class:`GuardSettings` or a mapping of the fields to change. ``threads`` sets the
        backend's CPU threads (for torch, process-wide).

        >>> Restorer.from_pretrained("runs/tiny/model", guard={"min_confidence": 0.5})
        """
        model_dir = resolve_model(name_or_path, revision=revision)
        settings = load_settings(model_dir)
        if settings.target_format == "tags" and backend == "ctranslate2":
            raise BackendError(
                f"{model_dir} is a tags-format model, which is read in one forward pass: "
                "use backend='torch' or 'torch-int8' (CTranslate2 only generates)"
            )
        candidates = load_candidates(model_dir, settings)
        decoding = load_decoding(model_dir, settings)
        tokenizer = load_tokenizer(model_dir, decoding)
        generator = build_generator(backend, model_dir, decoding, threads=threads)
        logger.info("loaded %s with the %s backend", model_dir, backend)
        return cls(
            generator,
            tokenizer,
            settings,
            guard=guard,
            batch_size=batch_size,
            candidates=candidates,
            calibration=load_calibration(model_dir),
        )

    # -- public API ----------------------------------------------------------------------------

    def restore(self, text: str) -> str:
        """The restored text; everything outside the edited words is the input, byte for byte."""
        return self.restore_detailed(text).text

    def restore_batch(self, texts: Iterable[str]) -> list[str]:
        """Restore many documents; one output per input, in input order."""
        return list(self.restore_iter(texts))

    def restore_iter(self, texts: Iterable[str]) -> Iterator[str]:
        """Stream restorations of ``texts`` in input order, reading a window ahead."""
        for result in self.restore_detailed_iter(texts):
            yield result.text

    def restore_detailed(self, text: str) -> Restoration:
        """The restored text, its edits and the guard's decision for every unit."""
        return next(self.restore_detailed_iter([text]))

    def restore_detailed_iter(self, texts: Iterable[str]) -> Iterator[Restoration]:
        """:meth:`restore_detailed` over a stream of documents, in input order."""
        for window in self.iter_windows(texts):
            yield from window

    def iter_windows(self, texts: Iterable[str]) -> Iterator[list[Restoration]]:
        """Restorations in input order, grouped by the read-ahead window that computed them.

        A window holds whole documents, is cut as soon as it holds ``read_ahead`` units, and
        its units are batched among themselves only. So the windows (and every float in the
        results) from a given document on depend only on the documents from there on: a batch
        job that checkpoints at window ends resumes with byte-identical output.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("restore_batch/restore_iter take an iterable of str, not one str")
        documents: list[_Document] = []
        window: list[tuple[_Document, _Unit]] = []
        for text in texts:
            document = self._plan(text)
            documents.append(document)
            window.extend((document, u) for u in document.units if u.source_ids is not None)
            if len(window) >= self.read_ahead:
                self._run(window)
                yield [d.result() for d in documents]
                documents, window = [], []
        if documents:
            self._run(window)
            yield [d.result() for d in documents]

    def detect(self, text: str) -> Detection:
        """How likely each word, and the text as a whole, was written by a spinner.

        >>> d = Restorer.from_pretrained("default").detect("The celebration ejects the press.")
        >>> round(d.spin_score, 2), [w.word for w in d.words if w.probability > 0.5]
        (0.21, ['ejects'])
        """
        return self.detect_batch([text])[0]

    @property
    def detects(self) -> bool:
        """Whether this model judges words as spun or not (its format gives word spin)."""
        return self.settings.target_format in DETECTING_FORMATS

    def detect_batch(self, texts: Iterable[str]) -> list[Detection]:
        """:meth:`detect` for many documents; one output per input, in input order.

        Raises :class:`restore.detection.DetectionUnavailable` for a model whose format gives
        no word spin probabilities (text, edits, choices), rather than reporting zeros.
        """
        if not self.detects:
            raise DetectionUnavailable(
                f"a {self.settings.target_format}-format model gives no word spin "
                f"probabilities; detection needs a model of format {', '.join(DETECTING_FORMATS)}"
            )
        texts = list(texts)
        return [
            build_detection(text, result.word_spin, self.calibration)
            for text, result in zip(texts, self.restore_detailed_iter(texts))
        ]

    # -- planning ------------------------------------------------------------------------------

    def _plan(self, text: str) -> _Document:
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        s = self.settings
        spans = segment(text, max_words=s.max_words, by=s.segmentation)
        units = self._fit(text, spans, s.max_words)
        return _Document(text, units)

    def _fit(self, text: str, spans: list[tuple[int, int]], max_words: int) -> list[_Unit]:
        """Units for ``spans`` whose sources fit the model; longer ones are cut again with half
        the word budget, and a unit that cannot be cut further is kept as it is."""
        if not spans:
            return []
        sources = [
            encode_source(text[start:end], self.settings, self.candidates) for start, end in spans
        ]
        units = []
        for (start, end), source in zip(spans, sources):
            ids = self.tokenizer.encode(source).ids
            if self.tokenizer.decode(ids, skip_special_tokens=True) != source:
                # The model could not see this text as written (a literal "▁" decodes as a
                # space), so nothing it writes back can be trusted to keep it.
                report = UnitReport(start, end, SKIPPED, (UNREPRESENTABLE,))
                units.append(_Unit(start, end, None, report=report))
                continue
            if len(ids) <= self.settings.max_source_tokens:
                units.append(_Unit(start, end, ids))
                continue
            smaller = max_words // 2
            pieces = segment(text[start:end], max_words=smaller, by="sentence") if smaller else []
            if len(pieces) > 1:
                offset = [(start + a, start + b) for a, b in pieces]
                units.extend(self._fit(text, offset, smaller))
            else:
                report = UnitReport(start, end, SKIPPED, (SOURCE_TOO_LONG,))
                units.append(_Unit(start, end, None, report=report))
        return units

    # -- generation ----------------------------------------------------------------------------

    def _run(self, window: list[tuple[_Document, _Unit]]) -> None:
        order = sorted(range(len(window)), key=lambda i: len(window[i][1].source_ids))
        for first in range(0, len(order), self.batch_size):
            chunk = [window[i] for i in order[first : first + self.batch_size]]
            generations = self._generate([unit.source_ids for _, unit in chunk])
            if len(generations) != len(chunk):
                raise RuntimeError(
                    f"the generator returned {len(generations)} outputs for {len(chunk)} inputs"
                )
            for (document, unit), generation in zip(chunk, generations):
                self._finish(document.text, unit, generation)

    def _generate(self, batch: list[list[int]]) -> list[Generation]:
        if self.settings.target_format != "tags":
            return self.generator.generate(batch)
        return self.generator.tag(batch, *self._tag_ids)

    @functools.cached_property
    def _tag_ids(self) -> tuple[list[int], list[int]]:
        """The ids of the slot marks and of the choices a tags-format model may pick."""
        ids = [
            [self.tokenizer.token_to_id(t) for t in tokens]
            for tokens in (SLOT_TOKENS, CHOICE_TOKENS[: self.settings.choices + 1])
        ]
        if None in ids[0] or None in ids[1]:
            raise ModelFormatError("the tokenizer lacks the tags format's marks")
        return ids[0], ids[1]

    def _finish(self, text: str, unit: _Unit, generation: Generation) -> None:
        """Turn one output into the unit's edits and report."""
        source = text[unit.start : unit.end]
        unit.word_spin = self._word_spin(source, generation)
        output = self.tokenizer.decode(list(generation.token_ids), skip_special_tokens=True)
        applied = apply_target(source, output, self.settings, self.candidates)
        probs = [math.exp(lp) for lp in generation.log_probs]
        confidence = sum(probs) / len(probs) if probs else 0.0
        changes = align(source, applied.text)
        proposal = applied.text
        if changes is None:
            unit.report = UnitReport(
                unit.start, unit.end, SKIPPED, (TOKEN_MISMATCH,), confidence, proposal
            )
            return
        if not changes:
            unit.report = UnitReport(unit.start, unit.end, UNCHANGED, (), confidence, proposal)
            return
        reasons = guards.check(
            normalize(source),
            applied.text,
            confidence=confidence,
            guard=self.guard,
            finished=generation.finished,
            failed_items=applied.failed_items,
        )
        if reasons:
            unit.report = UnitReport(unit.start, unit.end, REJECTED, reasons, confidence, proposal)
            return
        token_probs = self._token_probs(generation, output, probs)
        regions = self._output_regions(changes, applied.placed, len(output))
        edits = [
            Edit(
                unit.start + change.start,
                unit.start + change.end,
                source[change.start : change.end],
                change.replacement,
                _lowest(token_probs, region, confidence),
            )
            for change, region in zip(changes, regions)
        ]
        unit.edits = tuple(e for e in edits if e.confidence >= self.guard.min_edit_confidence)
        withheld = (guards.LOW_EDIT_CONFIDENCE,) if len(unit.edits) < len(edits) else ()
        status = RESTORED if unit.edits else UNCHANGED
        unit.report = UnitReport(unit.start, unit.end, status, withheld, confidence, proposal)

    def _word_spin(self, source: str, generation: Generation) -> tuple[tuple[int, int, float], ...]:
        """``(start, end, probability)`` in ``source`` of each word the model judged as spun or
        not: the one place a model family tells detection what it knows. The tags format judges
        every word with a slot, slot by slot in order."""
        if not generation.spin_probs or self.candidates is None:
            return ()
        slots = self.candidates.match(normalize(source), limit=self.settings.slots)
        return slot_word_spin(source, [(m.start, m.end) for m in slots], generation.spin_probs)

    def _token_probs(
        self, generation: Generation, output: str, probs: list[float]
    ) -> list[tuple[int, int, float]]:
        """``(start, end, probability)`` of each output token in ``output``, the end token
        last, just past the text. Offsets come from decoding growing prefixes, so a token that
        only completes a character (byte fallback) gets an empty span."""
        ids = list(generation.token_ids)
        spans = []
        pos = 0
        for end, prob in zip(self._token_ends(ids, output), probs):
            spans.append((pos, end, prob))
            pos = end
        if generation.finished and len(probs) > len(ids):
            spans.append((len(output), len(output) + 1, probs[len(ids)]))
        return spans

    def _token_ends(self, ids: list[int], output: str) -> list[int]:
        """End offset in ``output`` of each token of ``ids``.

        Fast path: decode every token after a fixed anchor token (so the decoder's handling of
        a leading space is the same for all) and check that the pieces add up to ``output``.
        Byte-fallback pieces do not decode alone; then decode growing prefixes instead.
        """
        anchor = self._anchor
        width = len(self.tokenizer.decode(anchor, skip_special_tokens=True))
        # Plain loops rather than decode_batch/encode_batch: these are short, and the batch
        # calls' thread-pool handoff costs more than the work on a busy machine.
        decode = self.tokenizer.decode
        pieces = [decode([*anchor, i], skip_special_tokens=True)[width:] for i in ids]
        joined = "".join(pieces)
        # The decoder drops the space a text starts with (SentencePiece's dummy prefix).
        skip = len(joined) - len(output)
        if joined.endswith(output) and joined[:skip].isspace():
            ends, pos = [], -skip
            for piece in pieces:
                pos += len(piece)
                ends.append(max(pos, 0))
            return ends
        prefixes = [decode(ids[: k + 1], skip_special_tokens=True) for k in range(len(ids))]
        ends, pos = [], 0
        for prefix in prefixes:
            # A prefix cut inside a character's bytes decodes to U+FFFD and is no prefix.
            if len(prefix) >= pos and output.startswith(prefix):
                pos = len(prefix)
            ends.append(pos)
        return ends

    @functools.cached_property
    def _anchor(self) -> list[int]:
        return self.tokenizer.encode("x", add_special_tokens=False).ids

    def _output_regions(
        self, changes: list[Change], placed: Sequence[tuple[int, int, int, int]], size: int
    ) -> list[list[tuple[int, int]]]:
        """For each change, the character ranges of the model output that wrote it."""
        regions = []
        for change in changes:
            if self.settings.target_format == "text":
                # The restored text is the output: the change's own span (a deletion: the
                # token that follows it, which the model wrote instead of the deleted words).
                end = change.r_end if change.r_end > change.r_start else change.r_start + 1
                regions.append([(change.r_start, min(end, size + 1))])
            else:
                regions.append(
                    [
                        (t_start, t_end)
                        for start, end, t_start, t_end in placed
                        if _touches(start, end, change.r_start, change.r_end)
                    ]
                )
        return regions


def _resolve_guard(
    base: GuardSettings, override: GuardSettings | Mapping[str, Any] | None
) -> GuardSettings:
    if override is None:
        result = base
    elif isinstance(override, GuardSettings):
        result = override
    else:
        try:
            result = dataclasses.replace(base, **dict(override))
        except TypeError as err:
            raise ValueError(f"unknown guard setting: {err}") from err
    if not 0.0 <= result.min_confidence <= 1.0:
        raise ValueError("guard min_confidence must lie in [0, 1]")
    if not 0.0 <= result.min_edit_confidence <= 1.0:
        raise ValueError("guard min_edit_confidence must lie in [0, 1]")
    if result.max_length_ratio < 1.0:
        raise ValueError("guard max_length_ratio must be at least 1")
    return result


def _touches(a0: int, a1: int, b0: int, b1: int) -> bool:
    """Whether two ranges overlap; an empty range counts where it touches the other."""
    if a0 == a1 or b0 == b1:
        return a0 <= b1 and b0 <= a1
    return a0 < b1 and b0 < a1


def _lowest(
    tokens: list[tuple[int, int, float]], region: list[tuple[int, int]], fallback: float
) -> float:
    probs = [p for s, e, p in tokens if s < e and any(s < r1 and r0 < e for r0, r1 in region)]
    return min(probs) if probs else fallback

"""The Restorer: restore spun text with a model directory, keeping the user's formatting.

>>> from restore import Restorer
>>> restorer = Restorer.from_pretrained("default")           # or a model directory
>>> spun = "The minister enumerated newspapermen that the rumbles would continue next week."
>>> restorer.restore(spun)
'The minister told reporters that the talks would continue next week.'
>>> result = restorer.restore_detailed(spun)
>>> [(e.spun, e.restored) for e in result.edits]
[('enumerated', 'told'), ('newspapermen', 'reporters'), ('rumbles', 'talks')]
>>> [(e.start, e.end) for e in result.edits]
[(13, 23), (24, 36), (46, 53)]

Each edit, and each suggestion (an edit too unsure to make), names the other originals the model
found likely, for a reader to weigh ("Measles is highly contagious ...", spun by our spinner):

>>> [edit] = restorer.restore_detailed("Measles is inordinately contagious and can kill.").edits
>>> edit.restored, round(edit.confidence, 2)
('extremely', 0.59)
>>> [(a.restored, round(a.confidence, 2)) for a in edit.alternatives]
[('highly', 0.54)]

How a document is restored, in three steps:

1. **Plan.** ``restore.text.segment`` cuts it into units, exactly as training cut its pairs,
   and the model's format (``restore.formats``) encodes each; a unit whose source is longer
   than the model's ``max_source_tokens`` is cut again with a smaller word budget, and a single
   word that is still too long is left as it is.
2. **Run.** Units go to the backend in batches, sorted by length inside a read-ahead window,
   through the format (which asks its runtime: a Generator generates, a SlotTagger tags slots, a
   UnitScorer scores whole units); results come
   back in input order, one per input.
3. **Finish.** The format turns each output into the restored (normalised) unit, which is
   aligned word by word with the input unit (``restore.align``). Only the words that changed
   are replaced, at character offsets of the original text, so all other characters (spacing,
   line breaks, quotes, dashes, composition) stay byte-identical. The guard
   (``restore.guard``) keeps the input of any unit whose restoration changes a number or a
   name, changes the length too much, is unsure, or did not finish, and withholds edits less
   sure than its threshold; ``restore.attribution`` gives each edit its confidence.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore import guard as guards
from restore.align import align
from restore.attribution import Attribution
from restore.backends import backend_class
from restore.candidates import CandidateTable
from restore.detection import (
    Calibration,
    Detection,
    DetectionUnavailable,
    build_detection,
    load_calibration,
)
from restore.errors import BackendError
from restore.formats import get_format, load_settings
from restore.guard import (
    REJECTED,
    RESTORED,
    SKIPPED,
    SOURCE_TOO_LONG,
    TOKEN_MISMATCH,
    UNCHANGED,
    UNREPRESENTABLE,
)
from restore.loading import resolve_model
from restore.markup import PageText, extract, place_detection, place_next, read_pages
from restore.memory import release_free_memory
from restore.settings import GuardSettings, ModelSettings
from restore.text import Unit, prepare_unit, segment

__all__ = [
    "REJECTED",
    "RESTORED",
    "SKIPPED",
    "SOURCE_TOO_LONG",
    "TOKEN_MISMATCH",
    "UNCHANGED",
    "UNREPRESENTABLE",
    "Alternative",
    "Edit",
    "ModelCheck",
    "Restoration",
    "Restorer",
    "UnitReport",
    "check_model",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alternative:
    """Another original the model weighed for an edit's words, with the confidence the edit
    would have with it (lower than the edit's own)."""

    restored: str
    confidence: float


@dataclass(frozen=True)
class Edit:
    """``text[start:end]`` of the input (``spun``) became ``restored``; ``confidence`` in [0, 1]
    is how sure the model is of it (a tagger's edit rule; for a seq2seq model, the lowest
    probability of the output tokens that wrote it). ``alternatives`` are the next likeliest
    originals, likeliest first (a tagger names up to three; other formats none)."""

    start: int
    end: int
    spun: str
    restored: str
    confidence: float
    alternatives: tuple[Alternative, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the edit, its alternatives a list of dicts."""
        data = dataclasses.asdict(self)
        return {**data, "alternatives": list(data["alternatives"])}


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

    ``suggestions`` are edits the model proposed but was less sure of than the guard's
    ``min_edit_confidence``, down to its ``min_suggestion_confidence`` (0.3), in input offsets
    and in order: *not* made in ``text``, for a reader to judge (how often they are right:
    docs/experiments.md, "Suggestions").
    """

    text: str
    edits: tuple[Edit, ...] = ()
    units: tuple[UnitReport, ...] = ()
    word_spin: tuple[tuple[int, int, float], ...] = ()
    suggestions: tuple[Edit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``{"text", "edits": [...], "units": [...], "suggestions":
        [...]}``."""
        return {
            "text": self.text,
            "edits": [e.to_dict() for e in self.edits],
            "units": [{**dataclasses.asdict(u), "reasons": list(u.reasons)} for u in self.units],
            "suggestions": [e.to_dict() for e in self.suggestions],
        }


@dataclass(frozen=True)
class ModelCheck:
    """A model found and its settings read, without loading its weights (no torch, no
    transformers): what :func:`check_model` returns."""

    model_dir: Path
    settings: ModelSettings
    guard: GuardSettings

    @property
    def detects(self) -> bool:
        """Whether the model's format judges words as spun or not."""
        return get_format(self.settings.target_format).detects

    def require_detection(self) -> None:
        """Raise :class:`DetectionUnavailable` for a model whose format judges no words."""
        if not self.detects:
            raise _no_detection(self.settings.target_format)


def _no_detection(target_format: str) -> DetectionUnavailable:
    return DetectionUnavailable(
        f"a {target_format}-format model gives no word spin probabilities; detection needs a "
        "model whose format judges words"
    )


def _has_surrogates(text: str) -> bool:
    """Whether ``text`` holds lone surrogates (from bytes decoded with ``surrogateescape``), which
    no tokenizer takes: such a unit passes through unchanged."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_model(
    name_or_path: str | Path = "default",
    *,
    backend: str = "torch",
    guard: GuardSettings | Mapping[str, Any] | None = None,
    revision: str | None = None,
) -> ModelCheck:
    """Everything :meth:`Restorer.from_pretrained` checks before it loads the weights: the model
    is found, its settings are valid, ``backend`` can run its format and ``guard`` is valid.

    Raises as ``from_pretrained`` does (:class:`restore.errors.ModelNotFoundError`,
    ``ModelFormatError``, :class:`BackendError`, ValueError for a bad guard). The command line
    answers empty input with this alone: there is nothing for a model to do.

    >>> check_model("default").settings.target_format
    'tagger'
    """
    model_dir = resolve_model(name_or_path, revision=revision)
    settings = load_settings(model_dir)
    model_format = get_format(settings.target_format)
    if backend_class(backend, model_format.runtime) is None:
        raise BackendError(
            f"{model_dir} is a {model_format.name}-format model, which needs a "
            f"{model_format.runtime.__name__} backend: the {backend} backend has none"
        )
    return ModelCheck(model_dir, settings, guards.resolve_guard(settings.guard, guard))


@dataclass
class _Planned:
    """A unit of a document on its way through the model."""

    start: int
    end: int
    unit: Unit | None  # prepared once (normalised, tokenised); None once finished
    model_input: Any  # the format's input for it; None: kept as it is
    size: int = 0  # the input's length in the model's tokens
    edits: tuple[Edit, ...] = ()
    report: UnitReport | None = None
    word_spin: tuple[tuple[int, int, float], ...] = ()  # offsets in the unit
    suggestions: tuple[Edit, ...] = ()


@dataclass
class _Document:
    text: str
    units: list[_Planned]

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
        suggestions = tuple(s for unit in self.units for s in unit.suggestions)
        return Restoration("".join(parts), edits, reports, spin, suggestions)


class Restorer:
    """Restores spun text with a runtime, an encoder and a model's settings.

    Most users call :meth:`from_pretrained`. The constructor is the seam for other runtimes and
    for tests: ``runtime`` is any object that satisfies the protocol the model's format runs
    on (``restore.backends``: a Generator with ``generate(batch) -> list[Generation]`` for the
    generating formats, a SlotTagger for the tags format, a UnitScorer for the tagger), ``encoder``
    what the format makes model inputs with (a ``tokenizers.Tokenizer``, or a tagger's
    :class:`restore.tagger.engine.TaggerEngine`).

    ``batch_size`` units go to the model at a time; ``read_ahead`` units (default 16 batches)
    are collected and sorted by length before batching. ``candidates`` is the model's
    candidate table, needed by the formats that show candidates only. ``calibration`` turns
    word spin probabilities into P(spun) for :meth:`detect` (``detection.json`` in the model
    dir).
    """

    def __init__(
        self,
        runtime,
        encoder,
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
        self.format = get_format(settings.target_format)(settings, candidates)
        if not isinstance(runtime, self.format.runtime):
            raise BackendError(
                f"{self.format.name}-format models need a {self.format.runtime.__name__} "
                f"backend; {type(runtime).__name__} is not one"
            )
        self.runtime = runtime
        self.encoder = encoder
        self.settings = settings
        self.candidates = candidates
        self.calibration = calibration
        self.guard = guards.resolve_guard(settings.guard, guard)
        self.batch_size = batch_size
        self.read_ahead = max(read_ahead or 16 * batch_size, batch_size)
        self._attribution = Attribution(encoder)

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
        ``restore export-ct2``); a backend that cannot run the model's format is refused.
        ``guard`` overrides the model's guard thresholds, as a :class:`GuardSettings` or a
        mapping of the fields to change. ``threads`` sets the backend's CPU threads (for torch,
        process-wide).

        >>> Restorer.from_pretrained("default", guard={"min_edit_confidence": 0.9}).guard
        GuardSettings(min_confidence=0.0, min_edit_confidence=0.9, max_length_ratio=1.5, \
keep_numbers=True, keep_names=True, min_suggestion_confidence=0.3)
        """
        checked = check_model(name_or_path, backend=backend, guard=guard, revision=revision)
        model_dir, settings = checked.model_dir, checked.settings
        bound = get_format(settings.target_format).load(model_dir, settings)
        runtime, encoder = bound.load_runtime(model_dir, backend, threads)
        logger.info("loaded %s with the %s backend", model_dir, backend)
        return cls(
            runtime,
            encoder,
            settings,
            guard=guard,
            batch_size=batch_size,
            candidates=bound.candidates,
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

    def restore_html(self, page: str) -> Restoration:
        """Restore the text a reader sees on an HTML page and keep its markup
        (:mod:`restore.markup`): the result's text is the page with the edited words replaced,
        its edits, suggestions, units and words in page offsets. Scripts, styles, code,
        navigation, form controls and attributes are not read.

        >>> page = '<p class="lead">Police <a href="/x">dammed</a> deuce men.</p>'
        >>> Restorer.from_pretrained("default").restore_html(page).text
        '<p class="lead">Police <a href="/x">arrested</a> two men.</p>'
        """
        return next(self.restore_html_iter([page]))

    def restore_html_iter(self, pages: Iterable[str]) -> Iterator[Restoration]:
        """:meth:`restore_html` over a stream of pages, in input order."""
        if isinstance(pages, (str, bytes)):
            raise TypeError("restore_html_iter takes an iterable of str, not one str")
        read: deque[tuple[str, PageText]] = deque()
        for result in self.restore_detailed_iter(read_pages(pages, read)):
            yield place_next(read, result)[0]

    def iter_windows(
        self, texts: Iterable[str], *, max_documents: int | None = None
    ) -> Iterator[list[Restoration]]:
        """Restorations in input order, grouped by the read-ahead window that computed them.

        A window holds whole documents, is cut as soon as it holds ``read_ahead`` units (or
        ``max_documents`` documents), and its units are batched among themselves only. So the
        windows (and every float in the results) from a given document on depend only on the
        documents from there on: a batch job that checkpoints at window ends resumes with
        byte-identical output.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("restore_batch/restore_iter take an iterable of str, not one str")
        if max_documents is not None and max_documents < 1:
            raise ValueError(f"max_documents must be at least 1, got {max_documents}")
        documents: list[_Document] = []
        window: list[tuple[_Document, _Planned]] = []
        for text in texts:
            document = self._plan(text)
            documents.append(document)
            window.extend((document, u) for u in document.units if u.model_input is not None)
            if len(window) >= self.read_ahead or len(documents) == max_documents:
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
        (0.25, ['ejects'])
        """
        return self.detect_batch([text])[0]

    def detect_html(self, page: str) -> Detection:
        """:meth:`detect` of the text a reader sees on an HTML page, in page offsets."""
        return self.detect_html_batch([page])[0]

    def detect_html_batch(self, pages: Iterable[str]) -> list[Detection]:
        """:meth:`detect_html` for many pages; one output per input, in input order."""
        if isinstance(pages, (str, bytes)):
            raise TypeError("detect_html_batch takes an iterable of str, not one str")
        seen = [extract(page) for page in pages]
        detections = self.detect_batch([s.text for s in seen])
        return [place_detection(s, d) for s, d in zip(seen, detections)]

    @property
    def detects(self) -> bool:
        """Whether this model judges words as spun or not (its format gives word spin)."""
        return self.format.detects

    def detect_batch(self, texts: Iterable[str]) -> list[Detection]:
        """:meth:`detect` for many documents; one output per input, in input order.

        Raises :class:`restore.detection.DetectionUnavailable` for a model whose format gives
        no word spin probabilities (text, edits, choices), rather than reporting zeros.
        """
        if not self.detects:
            raise _no_detection(self.settings.target_format)
        texts = list(texts)
        return [
            build_detection(text, result.word_spin, self.calibration)
            for text, result in zip(texts, self.restore_detailed_iter(texts))
        ]

    # -- plan: units and their model inputs ----------------------------------------------------

    def _plan(self, text: str) -> _Document:
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        s = self.settings
        spans = segment(text, max_words=s.max_words, by=s.segmentation)
        return _Document(text, self._fit(text, spans, s.max_words))

    def _fit(self, text: str, spans: list[tuple[int, int]], max_words: int) -> list[_Planned]:
        """Units for ``spans`` whose sources fit the model; longer ones are cut again with half
        the word budget, and a unit that cannot be cut further is kept as it is."""
        units = []
        for start, end in spans:
            unit = prepare_unit(text[start:end])
            prepared = (
                None if _has_surrogates(unit.text) else self.format.model_input(self.encoder, unit)
            )
            if prepared is None:
                report = UnitReport(start, end, SKIPPED, (UNREPRESENTABLE,))
                units.append(_Planned(start, end, None, None, report=report))
                continue
            model_input, size = prepared
            if size <= self.settings.max_source_tokens:
                units.append(_Planned(start, end, unit, model_input, size))
                continue
            smaller = max_words // 2
            pieces = segment(text[start:end], max_words=smaller, by="sentence") if smaller else []
            if len(pieces) > 1:
                offset = [(start + a, start + b) for a, b in pieces]
                units.extend(self._fit(text, offset, smaller))
            else:
                report = UnitReport(start, end, SKIPPED, (SOURCE_TOO_LONG,))
                units.append(_Planned(start, end, None, None, report=report))
        return units

    # -- run: batches through the backend ------------------------------------------------------

    def _run(self, window: list[tuple[_Document, _Planned]]) -> None:
        outputs = self._outputs([unit for _, unit in window])
        if not self.format.weighs_documents:
            # Each unit is finished as its batch returns, so no output outlives its batch.
            for i, output in outputs:
                document, unit = window[i]
                self._finish(unit, output)
            return
        # Each output is held until its whole document is weighed; the input it came from is
        # not needed any more (finishing reads the prepared unit and the output).
        held = {}
        for i, output in outputs:
            held[i] = output
            window[i][1].model_input = None
        documents: dict[int, list[int]] = {}
        for i, (document, _) in enumerate(window):
            documents.setdefault(id(document), []).append(i)
        for indices in documents.values():
            weighed = self.format.weigh_document([held.pop(i) for i in indices])
            for i, output in zip(indices, weighed):
                document, unit = window[i]
                self._finish(unit, output)

    def _outputs(self, units: list[_Planned]) -> Iterator[tuple[int, Any]]:
        """``(index, output)`` for every unit, batch by batch; a batch holds units of similar
        size."""
        order = sorted(range(len(units)), key=lambda i: units[i].size)
        for first in range(0, len(order), self.batch_size):
            chunk = order[first : first + self.batch_size]
            batch = [units[i].model_input for i in chunk]
            generations = self.format.run(self.runtime, batch, self.encoder)
            release_free_memory()  # the batch's activations: see restore.memory
            if len(generations) != len(chunk):
                raise RuntimeError(
                    f"the backend returned {len(generations)} outputs for {len(chunk)} inputs"
                )
            yield from zip(chunk, generations)

    def unit_spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of each unit of ``text`` that goes to the model, in order."""
        return [(u.start, u.end) for u in self._plan(text).units if u.model_input is not None]

    def unit_outputs(self, texts: Sequence[str]) -> list[list[tuple[int, int, Any]]]:
        """Per text, ``(start, end, output)`` for each unit that goes to the model: its raw
        output (for a tagger, every proposal with its evidence), before the format weighs the
        document and before the guard. Calibration fits edit rules on these."""
        documents = [self._plan(text) for text in texts]
        units = [u for d in documents for u in d.units if u.model_input is not None]
        held = dict(self._outputs(units))
        outputs = (held[i] for i in range(len(units)))
        return [
            [(u.start, u.end, next(outputs)) for u in d.units if u.model_input is not None]
            for d in documents
        ]

    # -- finish: output -> edits and report ----------------------------------------------------

    def _finish(self, unit: _Planned, output: Any) -> None:
        # Released here: a finished unit keeps only its edits and report.
        prepared, unit.unit, unit.model_input = unit.unit, None, None
        source = prepared.text
        reading = self.format.read(
            prepared,
            output,
            self.encoder,
            self._attribution,
            min_confidence=self.guard.min_edit_confidence,
        )
        unit.word_spin = reading.word_spin

        def others(start: int, end: int) -> tuple[Alternative, ...]:
            return tuple(Alternative(*a) for a in reading.alternatives.get((start, end), ()))

        suggested = [
            Edit(
                unit.start + start,
                unit.start + end,
                source[start:end],
                restored,
                confidence,
                others(start, end),
            )
            for start, end, restored, confidence in reading.suggestions
        ]
        changes = align(prepared, reading.text)
        verdict = guards.judge(
            prepared,
            reading.text,
            changes,
            confidence=reading.confidence,
            guard=self.guard,
            finished=reading.finished,
            failed_items=reading.failed_items,
        )
        # Proposals the format left out as unsure count as withheld edits, as the guard's are.
        withheld = (guards.LOW_EDIT_CONFIDENCE,) if reading.withheld else ()
        if verdict is not None:
            status, reasons = verdict
            if status == UNCHANGED:
                reasons = (*reasons, *withheld)
            unit.report = UnitReport(
                unit.start, unit.end, status, reasons, reading.confidence, reading.text
            )
            unit.suggestions = self._suggestions(suggested)
            return
        edits = [
            Edit(
                unit.start + change.start,
                unit.start + change.end,
                source[change.start : change.end],
                change.replacement,
                confidence,
                others(change.start, change.end),
            )
            for change, confidence in zip(changes, reading.edit_confidence(changes))
        ]
        unit.edits, unsure, status, reasons = guards.withhold(edits, self.guard)
        unit.suggestions = self._suggestions([*suggested, *unsure])
        reasons = reasons or withheld
        unit.report = UnitReport(
            unit.start, unit.end, status, reasons, reading.confidence, reading.text
        )

    def _suggestions(self, edits: Sequence[Edit]) -> tuple[Edit, ...]:
        floor = self.guard.min_suggestion_confidence
        return tuple(sorted((e for e in edits if e.confidence >= floor), key=lambda e: e.start))

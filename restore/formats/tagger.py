"""The ``tagger`` format: a pretrained encoder reads the unit as text and judges every word.

The model (:mod:`restore.tagger`, trained by ``training.tagger``) is not a seq2seq model and
writes no target. Its engine (:class:`restore.tagger.engine.TaggerEngine`) encodes each
prepared unit's word pieces once (which also measure it), and at batch time finds its sites
(the words of its inverse thesaurus) and their candidate originals with their count evidence.
Its backend (a :class:`restore.backends.UnitScorer`) returns, per unit, the probability that
each word was written by a spinner and the best original at every site with its confidence. A
model calibrated with a learned edit rule (the ``tagger`` section's ``edit_rule``;
:mod:`restore.tagger.edit_rule`) has each proposal's confidence replaced by the rule's, which
also weighs how spun the rest of its unit and document look.
Only proposals at least as sure as the guard's ``min_edit_confidence`` are applied: each site's
proposal is independent of the others, and applying an unsure one beside a sure one would let
the alignment merge them into one change that the guard then withholds whole. The others, down
to :data:`PROPOSAL_FLOOR`, are the unit's suggestions: shown to a reader, never applied. An edit
or suggestion keeps the other originals its proposal names where the alignment places it at the
proposal's own span (an edit the alignment cut to part of a phrase names none), each with the
confidence the edit would have with it: the edit's, times P(that original | spun) / P(the chosen
one | spun).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import restore.tagger.backend  # noqa: F401 - registers the tagger's backends
from restore.align import Change
from restore.backends import UnitScorer, build_backend
from restore.detection import slot_word_spin
from restore.formats.base import Format, Reading
from restore.formats.registry import register
from restore.settings import FormatSettings
from restore.tagger.engine import TaggerEngine, UnitScores, apply_proposals
from restore.tagger.input import UnitPieces
from restore.tagger.settings import TaggerSettings
from restore.text import Unit

# Proposals less sure than this are never applied, even with a threshold of 0: a unit's text is
# not rewritten at every thesaurus word (and judged, say, too long).
PROPOSAL_FLOOR = 0.1


@register("tagger")
class TaggerFormat(Format):
    """Word spin and originals from one encoder pass over the unit's text."""

    runtime: ClassVar[type] = UnitScorer  # TorchTaggerScorer, as "torch" and "torch-int8"
    settings_class: ClassVar[type[FormatSettings]] = TaggerSettings
    detects = True
    weighs_documents = True
    card_note = (
        "a pretrained encoder (all-MiniLM-L6-v2's lower layers, fine-tuned) judges every word "
        "and chooses among the originals that the inverse thesaurus `inverse.npz` lists for it, "
        "with trigram evidence from `ngram/` and topic vectors from `context.npz`: run it with "
        "the torch backends"
    )

    def load_runtime(self, model_dir: Path, backend: str, threads: int | None) -> tuple[Any, Any]:
        """The scorer, and its engine, which makes each unit's input (and measures it in word
        pieces against ``max_source_tokens``)."""
        scorer = build_backend(
            backend, model_dir, self.options, runtime=UnitScorer, threads=threads
        )
        return scorer, scorer.engine

    def model_input(self, encoder: TaggerEngine, unit: Unit) -> tuple[UnitPieces, int]:
        pieces = encoder.measure(unit)
        return pieces, len(pieces.ids)

    def run(self, runtime: Any, batch: Sequence[UnitPieces], encoder: Any) -> list[UnitScores]:
        return runtime.score_units(batch)

    def weigh_document(self, outputs: list[UnitScores]) -> list[UnitScores]:
        rule = self.options.edit_rule
        return rule.weigh(outputs) if rule is not None else outputs

    def read(
        self,
        unit: Unit,
        output: UnitScores,
        tokenizer,
        attribution,
        min_confidence: float = 0.0,
    ) -> Reading:
        floor = max(PROPOSAL_FLOOR, min_confidence)
        applied = sorted(
            (p for p in output.proposals if p.confidence >= floor), key=lambda p: p.start
        )
        withheld = [p for p in output.proposals if PROPOSAL_FLOOR <= p.confidence < floor]
        suggestions, alternatives = [], {}
        for p in sorted((*applied, *withheld), key=lambda p: p.start):
            span = unit.written_span(p.start, p.end)
            if span is None:
                continue
            if p.confidence < floor:
                suggestions.append((*span, p.restored, p.confidence))
            if p.alternatives and p.evidence is not None:
                # On the edit's own scale: its confidence, times how likely each other
                # original is against the chosen one.
                scale = p.confidence / p.evidence.choice
                alternatives[span] = tuple((w, q * scale) for w, q in p.alternatives)
        text = apply_proposals(unit.normal, applied)
        placed = []
        shift = 0
        for p in applied:
            start = p.start + shift
            placed.append((start, start + len(p.restored), p.confidence))
            shift += len(p.restored) - (p.end - p.start)
        spans = [(start, end) for start, end, _ in output.words]
        probs = [prob for _, _, prob in output.words]

        def edit_confidence(changes: Sequence[Change]) -> list[float]:
            return [
                min(
                    (c for s, e, c in placed if s < change.r_end and change.r_start < e),
                    default=0.0,
                )
                for change in changes
            ]

        confidence = max((p.confidence for p in applied), default=1.0)
        return Reading(
            text,
            confidence,
            edit_confidence,
            word_spin=slot_word_spin(unit, spans, probs),
            withheld=len(withheld),
            suggestions=tuple(suggestions),
            alternatives=alternatives,
        )

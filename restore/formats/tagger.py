"""The ``tagger`` format: a pretrained encoder reads the unit as text and judges every word.

The model (``restore.tagger_model``, trained by ``training.tagger``) is not a seq2seq model and
writes no target. Its backend (a :class:`restore.backends.UnitScorer`) finds the words of its
inverse thesaurus in the normalised unit, scores their candidate originals with the encoder and
the trigram counts it ships, and returns, per unit, the probability that each word was written
by a spinner and the best original at every site with its confidence (``restore.tagger_engine``).
A model calibrated with a learned edit rule (``restore.json``'s ``edit_rule``;
:mod:`restore.edit_rule`) has each proposal's confidence replaced by the rule's, which also weighs
how spun the rest of its unit and document look.
Only proposals at least as sure as the guard's ``min_edit_confidence`` are applied: each site's
proposal is independent of the others, and applying an unsure one beside a sure one would let
the alignment merge them into one change that the guard then withholds whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from restore.align import Change
from restore.backends import UnitScorer, build_backend
from restore.detection import slot_word_spin
from restore.formats.base import Format, Reading
from restore.formats.registry import register
from restore.tagger_backend import NGRAM_DIR  # noqa: F401 - registers the tagger's backends
from restore.tagger_engine import UnitScores, apply_proposals
from restore.text import normalize, tokenize

# Proposals less sure than this are never applied, even with a threshold of 0: a unit's text is
# not rewritten at every thesaurus word (and judged, say, too long).
PROPOSAL_FLOOR = 0.1


@register("tagger")
class TaggerFormat(Format):
    """Word spin and originals from one encoder pass over the unit's text."""

    runtime = UnitScorer  # TorchTaggerScorer, as "torch" and "torch-int8"
    generates = False
    detects = True
    weighs_documents = True
    card_note = (
        "a pretrained encoder (all-MiniLM-L6-v2's lower layers, fine-tuned) judges every word "
        "and chooses among the originals that the inverse thesaurus `inverse.npz` lists for it, "
        "with trigram evidence from `ngram/` and topic vectors from `context.npz`: run it with "
        "the torch backends"
    )

    def encode_source(self, unit: str) -> str:
        return normalize(unit)

    def load_runtime(self, model_dir: Path, backend: str, threads: int | None) -> tuple[Any, Any]:
        """The scorer, and its word-piece tokenizer (which measures units against
        ``max_source_tokens``)."""
        scorer = build_backend(
            backend, model_dir, self.settings, runtime=UnitScorer, threads=threads
        )
        return scorer, scorer.tokenizer

    def model_input(self, tokenizer, unit: str) -> tuple[Any, int] | None:
        source = self.encode_source(unit)
        words = [t.text for t in tokenize(source)]
        size = len(tokenizer.encode(words, is_pretokenized=True).ids) if words else 0
        return source, size

    def run(self, runtime: Any, batch: Sequence[str], token_id: Any) -> list[UnitScores]:
        return runtime.score_units(batch)

    def weigh_document(self, outputs: list[UnitScores]) -> list[UnitScores]:
        rule = self.settings.edit_rule
        return rule.weigh(outputs) if rule is not None else outputs

    def read(
        self,
        source: str,
        output: UnitScores,
        tokenizer,
        attribution,
        min_confidence: float = 0.0,
    ) -> Reading:
        normal = normalize(source)
        floor = max(PROPOSAL_FLOOR, min_confidence)
        applied = sorted(
            (p for p in output.proposals if p.confidence >= floor), key=lambda p: p.start
        )
        withheld = sum(PROPOSAL_FLOOR <= p.confidence < floor for p in output.proposals)
        text = apply_proposals(normal, applied)
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
            word_spin=slot_word_spin(source, spans, probs),
            withheld=withheld,
        )

    def make_target(self, spun: str, original: str) -> str:
        raise NotImplementedError("tagger models are trained by training.tagger, not as seq2seq")

    def apply_target(self, source: str, target: str):
        raise NotImplementedError("a tagger model writes no target")

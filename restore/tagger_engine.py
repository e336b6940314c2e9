"""Running a tagger model over units: word spin probabilities and chosen originals.

The engine owns the decision rule shared by training-time evaluation and the Restorer: at each
site, the original with the highest probability is put back when

    P(the site's first word was written by a spinner) x P(that original | spun)

reaches ``min_edit_confidence``; that product is the edit's confidence. Casing follows the
spun words (``restore.candidates.match_case``).

A spinner rewrites whole texts, so a suspicious word with no other suspicious word near it is
more often a rare word its author chose: :func:`weigh_lone_edits` lowers the confidence of an
edit in a unit where few other words look spun (the model's settings say how few and by how
much; calibrated on clean and spun valid text, it cuts edits of clean text at little cost in
spun text).

>>> scores = UnitScores(
...     words=((0, 3, 0.1), (4, 9, 0.9), (10, 15, 0.2)),
...     proposals=(Proposal(4, 9, "fetes", "parties", 0.8),),
... )
>>> weigh_lone_edits(scores, spun_unit_words=1, lone_edit_factor=0.5).proposals[0].confidence
0.4
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from restore.candidates import match_case
from restore.context import ContextVectors
from restore.inverse import InverseTable
from restore.ngram import NgramModel
from restore.tagger_input import UnitInput, encode_unit

if TYPE_CHECKING:  # torch loads only when a tagger runs, not when its format is looked up
    from restore.tagger_batch import PieceEncoder
    from restore.tagger_model import SpinTagger


@dataclass(frozen=True)
class Proposal:
    """``unit[start:end]`` (``spun``) would become ``restored`` with ``confidence``."""

    start: int
    end: int
    spun: str
    restored: str
    confidence: float


@dataclass(frozen=True)
class UnitScores:
    """A unit's word spin probabilities ``(start, end, p)`` (word tokens only) and its best
    proposal at every site, before any threshold."""

    words: tuple[tuple[int, int, float], ...]
    proposals: tuple[Proposal, ...]

    def edits(self, min_confidence: float) -> list[Proposal]:
        return [p for p in self.proposals if p.confidence >= min_confidence]


class TaggerEngine:
    def __init__(
        self,
        model: SpinTagger,
        pieces: PieceEncoder,
        table: InverseTable,
        lm: NgramModel | None,
        *,
        context: ContextVectors | None = None,
        max_candidates: int,
    ):
        self.model = model
        self.pieces = pieces
        self.table = table
        self.lm = lm
        self.context = context
        self.max_candidates = max_candidates

    def encode(self, text: str) -> UnitInput:
        return encode_unit(
            text, self.table, self.lm, context=self.context, max_candidates=self.max_candidates
        )

    def score(self, units: Sequence[UnitInput]) -> list[UnitScores]:
        """One :class:`UnitScores` per unit, in order (one forward pass for the batch)."""
        import torch

        from restore.tagger_batch import collate

        if not units:
            return []
        batch = collate(units, self.pieces).to(next(self.model.parameters()).device)
        with torch.inference_mode():
            out = self.model(batch)
        word_probs = torch.sigmoid(out.word_logits).tolist()
        cand_probs = torch.softmax(out.cand_logits, dim=-1) if len(out.cand_logits) else None
        results = []
        site_index = 0
        for b, unit in enumerate(units):
            words = tuple(
                (t.start, t.end, word_probs[b][i])
                for i, t in enumerate(unit.tokens)
                if t.kind == "word"
            )
            proposals = []
            for site in unit.sites:
                i = site_index
                site_index += 1
                if not site.candidates:
                    continue
                probs = cand_probs[i, : len(site.candidates)]
                k = int(torch.argmax(probs))
                spun = unit.text[site.start : site.end]
                confidence = word_probs[b][site.first] * float(probs[k])
                restored = match_case(spun, site.candidates[k])
                proposals.append(Proposal(site.start, site.end, spun, restored, confidence))
            results.append(UnitScores(words, tuple(proposals)))
        return results


# A word at least this likely spun counts as a sign that its unit was spun.
SUSPECT = 0.5


def weigh_lone_edits(
    scores: UnitScores, *, spun_unit_words: int, lone_edit_factor: float
) -> UnitScores:
    """``scores`` with the confidence of each proposal multiplied by ``lone_edit_factor`` where
    fewer than ``spun_unit_words`` of the unit's other words are :data:`SUSPECT`."""
    if spun_unit_words <= 0 or lone_edit_factor >= 1.0:
        return scores
    suspects = [(s, e) for s, e, q in scores.words if q >= SUSPECT]
    proposals = []
    for p in scores.proposals:
        own = sum(s < p.end and p.start < e for s, e in suspects)
        if len(suspects) - own < spun_unit_words:
            p = dataclasses.replace(p, confidence=p.confidence * lone_edit_factor)
        proposals.append(p)
    return dataclasses.replace(scores, proposals=tuple(proposals))


def apply_proposals(text: str, proposals: Sequence[Proposal]) -> str:
    """``text`` with each proposal's span replaced (proposals do not overlap)."""
    parts, pos = [], 0
    for p in sorted(proposals, key=lambda p: p.start):
        parts.append(text[pos : p.start])
        parts.append(p.restored)
        pos = p.end
    parts.append(text[pos:])
    return "".join(parts)

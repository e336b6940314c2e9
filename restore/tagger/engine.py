"""Running a tagger model over units: word spin probabilities and chosen originals.

The engine owns the decision rule shared by training-time evaluation and the Restorer: at each
site, the original with the highest probability is put back when

    P(the site's first word was written by a spinner) x P(that original | spun)

reaches ``min_edit_confidence``; that product is the edit's confidence. Casing follows the
spun words (``restore.candidates.match_case``). Each proposal also names the site's next likeliest
originals (:data:`MAX_ALTERNATIVES` of them, at least :data:`MIN_ALTERNATIVE` likely): where the
first choice is wrong, the original is often among them, for a reader to pick.

A model calibrated with a learned choice rule (:mod:`restore.tagger.choice_rule`) has
P(original | spun) weighed against how the thesaurus links each candidate to the written word,
and one with a learned edit rule (:mod:`restore.tagger.edit_rule`) has the confidence replaced
by one that also weighs the rest of the unit and document.

>>> scores = UnitScores(
...     words=((0, 3, 0.1), (4, 9, 0.9), (10, 15, 0.2)),
...     proposals=(Proposal(4, 9, "fetes", "parties", 0.8),),
... )
>>> [p.restored for p in scores.edits(0.6)], apply_proposals("The fetes ended", scores.edits(0.6))
(['parties'], 'The parties ended')
>>> probs = np.array([0.5, 0.3, 0.04, 0.16])
>>> alternatives("Fetes", ("party", "feast", "fair", "gala"), probs, np.argsort(-probs))
(('Feast', 0.3), ('Gala', 0.16))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restore.candidates import match_case
from restore.tagger.choice_rule import ChoiceRule
from restore.tagger.context import ContextVectors
from restore.tagger.input import (
    PieceEncoder,
    SiteInput,
    UnitInput,
    UnitPieces,
    encode_unit,
    refit_sites,
)
from restore.tagger.inverse import InverseTable
from restore.tagger.ngram import NgramModel
from restore.text import Unit, prepare_unit

if TYPE_CHECKING:  # torch loads only when a tagger runs, not when its format is looked up
    from restore.tagger.model import SpinTagger

# A proposal names at most this many other originals, each at least this likely. On 500 valid
# paragraphs spun at rate 0.3, at the swaps whose original is a candidate, the first choice is
# the original at 69% and the first choice or one of these at 84% (docs/experiments.md,
# "Alternatives").
MAX_ALTERNATIVES = 3
MIN_ALTERNATIVE = 0.05


@dataclass(frozen=True)
class Evidence:
    """What the model said of a site, for a learned edit rule (:mod:`restore.tagger.edit_rule`).

    ``choice`` and ``runner_up`` are the best and second-best P(original | spun) (the choice
    rule's, where the model has one); ``candidate`` holds the chosen candidate's features
    (``restore.tagger.input.CANDIDATE_FEATURE_NAMES``) and ``site`` the site's
    (``SITE_FEATURE_NAMES``).
    """

    spin: float  # P(spun) of the site's first word
    choice: float
    runner_up: float
    candidates: int  # how many candidates the site has
    candidate: tuple[float, ...]
    site: tuple[float, ...]


@dataclass(frozen=True)
class Proposal:
    """``unit[start:end]`` (``spun``) would become ``restored`` with ``confidence``;
    ``evidence`` is what the model said of the site, ``alternatives`` its next likeliest
    originals ``(restored, P(original | spun))``, likeliest first."""

    start: int
    end: int
    spun: str
    restored: str
    confidence: float
    evidence: Evidence | None = None
    alternatives: tuple[tuple[str, float], ...] = ()


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
        trained_candidates: int | None = None,
        choice_rule: ChoiceRule | None = None,
        refine_above: float | None = None,
    ):
        self.model = model
        self.pieces = pieces
        self.table = table
        self.lm = lm
        self.context = context
        self.max_candidates = max_candidates
        self.trained_candidates = trained_candidates
        self.choice_rule = choice_rule
        # Sites at least this sure are put back first and the others re-scored in that context
        # (TaggerSettings.refine_above); None scores every site in the spun context only.
        self.refine_above = refine_above

    def measure(self, unit: Unit) -> UnitPieces:
        """A prepared unit's word pieces, encoded once: they measure it and feed the network."""
        return self.pieces.unit(unit)

    def encode_text(self, text: str) -> UnitInput:
        """One unit of ``text`` as the network reads it: prepared, measured and encoded."""
        return self.encode(self.measure(prepare_unit(text)))

    def encode(self, pieces: UnitPieces) -> UnitInput:
        """A measured unit as the network reads it: its sites, candidates and evidence."""
        return encode_unit(
            pieces,
            self.table,
            lm=self.lm,
            context=self.context,
            max_candidates=self.max_candidates,
            trained_candidates=self.trained_candidates,
        )

    def forward(self, units: Sequence[UnitInput]) -> tuple[list[list[float]], np.ndarray]:
        """Per unit, each token's P(spun) (its words' at least), and per site of all units in
        order, the network's log P(original | spun) of each candidate slot (-inf past the
        site's candidates)."""
        import torch

        from restore.tagger.batch import collate

        batch = collate(units, self.pieces).to(next(self.model.parameters()).device)
        with torch.inference_mode():
            out = self.model(batch)
        word_probs = torch.sigmoid(out.word_logits).tolist()
        if not len(out.cand_logits):
            return word_probs, np.zeros((0, 0))
        return word_probs, torch.log_softmax(out.cand_logits, dim=-1).float().cpu().numpy()

    def relations(self, site: SiteInput) -> np.ndarray:
        """How each of ``site``'s candidates' thesaurus entries lists its key
        (``InverseTable.relations``), looked up only for a choice rule."""
        return self.table.relations(site.key)[: len(site.candidates)]

    def choice(self, site: SiteInput, log_probs: np.ndarray) -> np.ndarray:
        """P(original | spun) of each of ``site``'s candidates (the choice rule's, if any)."""
        log_probs = log_probs[: len(site.candidates)]
        if self.choice_rule is None:
            return np.exp(log_probs)
        return self.choice_rule.probabilities(log_probs, self.relations(site), site.features)

    def score(self, units: Sequence[UnitInput]) -> list[UnitScores]:
        """One :class:`UnitScores` per unit, in order (one forward pass for the batch)."""
        if not units:
            return []
        word_probs, cand_log_probs = self.forward(units)
        results = []
        first = 0
        for b, unit in enumerate(units):
            spins = word_probs[b]
            sites = list(unit.sites)
            log_probs = [
                cand_log_probs[first + k][: len(site.candidates)] for k, site in enumerate(sites)
            ]
            first += len(sites)
            if self.refine_above is not None:
                sites, log_probs = self.refine(unit, spins, log_probs)
            words = tuple(
                (t.start, t.end, spins[i]) for i, t in enumerate(unit.tokens) if t.kind == "word"
            )
            proposals = tuple(
                self._propose(unit, site, self.choice(site, lp), spins[site.first])
                for site, lp in zip(sites, log_probs)
                if site.candidates
            )
            results.append(UnitScores(words, proposals))
        return results

    def refine(
        self, unit: UnitInput, spins: Sequence[float], log_probs: list[np.ndarray]
    ) -> tuple[list[SiteInput], list[np.ndarray]]:
        """The unit's sites and their candidates' log P(original | spun) after a second look:
        the sites at least ``refine_above`` sure are put back, and the others' count evidence
        is recomputed with them as context. The encoder's view stays; only the evidence term
        of each re-scored candidate changes, so this costs count lookups and the evidence
        head, not a second forward pass."""
        sites = list(unit.sites)
        sure, unsure = {}, []
        for k, (site, lp) in enumerate(zip(sites, log_probs)):
            if not site.candidates:
                continue
            probs = self.choice(site, lp)
            j = int(np.argmax(probs))
            if spins[site.first] * float(probs[j]) >= self.refine_above:
                sure[k] = site.candidates[j]
            else:
                unsure.append(k)
        if not sure or not unsure:
            return sites, log_probs
        refit = refit_sites(
            unit,
            sure,
            unsure,
            self.table,
            lm=self.lm,
            context=self.context,
            max_candidates=self.max_candidates,
            trained_candidates=self.trained_candidates,
        )
        before = self._evidence([sites[k].features for k in unsure])
        after = self._evidence([site.features for site in refit])
        log_probs = list(log_probs)
        for k, site, old, new in zip(unsure, refit, before, after):
            shifted = log_probs[k] - old + new
            log_probs[k] = shifted - np.logaddexp.reduce(shifted)
            sites[k] = site
        return sites, log_probs

    def _evidence(self, features: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The evidence head's term of each site's candidates."""
        import torch

        rows = torch.from_numpy(np.concatenate(features))
        head = self.model.evidence
        with torch.inference_mode():
            terms = head(rows.to(next(head.parameters()).device)).squeeze(-1).float().cpu().numpy()
        return np.split(terms, np.cumsum([len(f) for f in features])[:-1])

    def _propose(
        self, unit: UnitInput, site: SiteInput, probs: np.ndarray, spin: float
    ) -> Proposal:
        ranked = np.argsort(-probs, kind="stable")  # ties: the first candidate, as argmax
        k = int(ranked[0])
        best = float(probs[k])
        second = float(probs[ranked[1]]) if len(probs) > 1 else 0.0
        spun = unit.text[site.start : site.end]
        evidence = Evidence(
            spin,
            best,
            second,
            len(site.candidates),
            tuple(site.features[k].tolist()),
            tuple(site.site_features.tolist()),
        )
        restored = match_case(spun, site.candidates[k])
        others = alternatives(spun, site.candidates, probs, ranked)
        return Proposal(site.start, site.end, spun, restored, spin * best, evidence, others)


def alternatives(
    spun: str, candidates: Sequence[str], probs: np.ndarray, ranked: np.ndarray
) -> tuple[tuple[str, float], ...]:
    """The candidates after the likeliest (``ranked``: their indices, likeliest first), at most
    :data:`MAX_ALTERNATIVES` of them at least :data:`MIN_ALTERNATIVE` likely, cased like
    ``spun``, with their probabilities."""
    return tuple(
        (match_case(spun, candidates[j]), float(probs[j]))
        for j in ranked[1 : 1 + MAX_ALTERNATIVES]
        if probs[j] >= MIN_ALTERNATIVE
    )


def apply_proposals(text: str, proposals: Sequence[Proposal]) -> str:
    """``text`` with each proposal's span replaced (proposals do not overlap)."""
    parts, pos = [], 0
    for p in sorted(proposals, key=lambda p: p.start):
        parts.append(text[pos : p.start])
        parts.append(p.restored)
        pos = p.end
    parts.append(text[pos:])
    return "".join(parts)

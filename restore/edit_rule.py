"""A learned edit rule: how likely a tagger's proposal restores the original, judged with what
the rest of its unit and document say.

The tagger judges each site by itself: P(spun) x P(original | spun). A spinner rewrites whole
texts, so a suspicious word among plain ones is more often its author's rare choice, and one
among many suspicious words more often a swap; and a near tie between two candidates is a
coin toss whatever P(spun) says. :class:`EditRule` is a logistic model over
:data:`FEATURES` of each proposal (the model's evidence at the site, and how spun the other
words of its unit and its document look); its probability replaces the proposal's confidence,
and the guard's ``min_edit_confidence`` then applies to it. ``scripts/calibrate.py`` fits it on
valid paragraphs, spun and clean, and stores it in ``restore.json`` (``edit_rule``).

>>> from restore.tagger_engine import Proposal, UnitScores
>>> evidence = (0.9, 0.8, 0.1, 3.0) + (0.0,) * 10
>>> fetes = Proposal(4, 9, "fetes", "parties", 0.72, evidence)
>>> unit = UnitScores(((0, 3, 0.1), (4, 9, 0.9)), (fetes,))
>>> n = len(FEATURES)
>>> rule = EditRule(FEATURES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 2.0)  # bias only
>>> round(rule.weigh([unit])[0].proposals[0].confidence, 4)  # sigmoid(2.0)
0.8808
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from restore.errors import ModelFormatError
from restore.tagger_engine import Proposal, UnitScores
from restore.tagger_input import CANDIDATE_FEATURE_NAMES

# Proposal.evidence holds P(spun), the best and second P(original | spun), the candidate count,
# then the chosen candidate's features and the site's (restore.tagger_input).
_EVIDENCE = 14
_EPS = 1e-4
FEATURES = (
    "spin_logit",
    "log_choice",
    "choice_margin",
    "log_confidence",
    "log_candidates",
    *CANDIDATE_FEATURE_NAMES,
    "site_best_lm_gain",
    "site_spun_zipf",
    "site_candidates",
    "site_topic_fit",
    "unit_other_suspects",
    "unit_lone",
    "unit_other_mean_spin",
    "unit_other_max_spin",
    "log_unit_words",
    "doc_other_suspect_share",
    "log_doc_other_suspects",
    "log_doc_words",
)
# A word at least this likely spun counts as a sign that its unit was spun.
SUSPECT = 0.5
# Fewer other suspicious words than this in its unit make an edit "lone".
LONE_BELOW = 3


@dataclass(frozen=True)
class EditRule:
    """``sigmoid(weights . (features - mean) / scale + bias)`` over :data:`FEATURES`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self):
        if tuple(self.features) != FEATURES:
            raise ModelFormatError(
                f"edit_rule.features must be {list(FEATURES)} (this restore's features), "
                f"got {list(self.features)}"
            )
        sizes = {len(self.mean), len(self.scale), len(self.weights)}
        if sizes != {len(FEATURES)}:
            raise ModelFormatError(f"edit_rule needs {len(FEATURES)} means, scales and weights")
        values = (*self.mean, *self.scale, *self.weights, self.bias)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ModelFormatError("edit_rule's numbers must be finite")
        if min(self.scale) <= 0:
            raise ModelFormatError("edit_rule's scales must be positive")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EditRule:
        try:
            return cls(
                tuple(data["features"]),
                tuple(data["mean"]),
                tuple(data["scale"]),
                tuple(data["weights"]),
                data["bias"],
            )
        except (KeyError, TypeError) as err:
            raise ModelFormatError(f"edit_rule is malformed: {err!r}") from err

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.asarray(self.mean), np.asarray(self.scale), np.asarray(self.weights)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the edit restores the original) for each row of ``features``."""
        mean, scale, weights = self._arrays
        return 1.0 / (1.0 + np.exp(-(((features - mean) / scale) @ weights + self.bias)))

    def weigh(self, units: Sequence[UnitScores]) -> list[UnitScores]:
        """The units of one document, each proposal's confidence replaced by the rule's."""
        if not units:
            return []
        confidence = iter(self.probabilities(np.concatenate(document_features(units))).tolist())
        return [
            dataclasses.replace(
                unit,
                proposals=tuple(
                    dataclasses.replace(p, confidence=next(confidence)) for p in unit.proposals
                ),
            )
            for unit in units
        ]


def document_features(units: Sequence[UnitScores]) -> list[np.ndarray]:
    """Per unit of one document, a ``(proposals, len(FEATURES))`` array."""
    doc_spin = [q for unit in units for _, _, q in unit.words]
    doc_suspects = sum(q >= SUSPECT for q in doc_spin)
    log_doc_words = math.log1p(len(doc_spin))
    out = []
    for unit in units:
        rows = []
        for p in unit.proposals:
            own, others = [], []
            for s, e, q in unit.words:
                (own if s < p.end and p.start < e else others).append(q)
            suspects = sum(q >= SUSPECT for q in others)
            doc_others = doc_suspects - sum(q >= SUSPECT for q in own)
            rows.append(
                [
                    *_site_features(p),
                    min(suspects, 10) / 10,
                    float(suspects < LONE_BELOW),
                    sum(others) / len(others) if others else 0.0,
                    max(others, default=0.0),
                    math.log1p(len(unit.words)),
                    doc_others / max(1, len(doc_spin) - len(own)),
                    math.log1p(doc_others),
                    log_doc_words,
                ]
            )
        out.append(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES)))
    return out


def _site_features(p: Proposal) -> list[float]:
    if len(p.evidence) != _EVIDENCE:
        raise ValueError(f"a proposal needs {_EVIDENCE} evidence values, got {len(p.evidence)}")
    spin, best, second, candidates, *rest = p.evidence
    return [
        math.log(spin + _EPS) - math.log(1 - spin + _EPS),
        math.log(best + _EPS),
        math.log(best + _EPS) - math.log(second + _EPS),
        math.log(spin * best + _EPS),
        math.log(candidates),
        *rest,
    ]

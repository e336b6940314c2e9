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
:class:`EditTrees` is the same judgement made by gradient-boosted regression trees over the same
features (stored with their ``roots``); :func:`edit_rule_from_dict` reads either.

>>> from restore.tagger.engine import Evidence, Proposal, UnitScores
>>> evidence = Evidence(0.9, 0.8, 0.1, 3, (0.0,) * 6, (0.0,) * 4)
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
from restore.tagger.engine import Proposal, UnitScores
from restore.tagger.input import CANDIDATE_FEATURE_NAMES, SITE_FEATURE_NAMES

_EPS = 1e-4
FEATURES = (
    "spin_logit",
    "log_choice",
    "choice_margin",
    "log_confidence",
    "log_candidates",
    *CANDIDATE_FEATURE_NAMES,
    *(f"site_{name}" for name in SITE_FEATURE_NAMES),
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
_ROWS_AT_ONCE = 4096


class _ProposalRule:
    """What both edit rules share: each proposal's confidence becomes the rule's probability,
    the logistic function of the rule's log odds."""

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """P(the edit restores the original) for each row of ``features``."""
        # The logistic function as tanh, which cannot overflow where the log odds are far out.
        return 0.5 * (1.0 + np.tanh(0.5 * self.log_odds(features)))

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


def _check_features(features: Sequence[str]) -> None:
    if tuple(features) != FEATURES:
        raise ModelFormatError(
            f"edit_rule.features must be {list(FEATURES)} (this restore's features), "
            f"got {list(features)}"
        )


@dataclass(frozen=True)
class EditRule(_ProposalRule):
    """``sigmoid(weights . (features - mean) / scale + bias)`` over :data:`FEATURES`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self):
        _check_features(self.features)
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

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        mean, scale, weights = self._arrays
        return ((features - mean) / scale) @ weights + self.bias


@dataclass(frozen=True)
class EditTrees(_ProposalRule):
    """``sigmoid(bias + the sum of every tree's leaf)`` over :data:`FEATURES`.

    The trees' nodes lie in flat arrays, each tree's from its root in ``roots``: an inner node
    sends a row to ``left`` when its ``feature`` is at most ``threshold``, else to ``right``
    (children always come after their parent, so every walk ends); a leaf has ``feature`` -1
    and its ``value``.
    """

    features: tuple[str, ...]
    roots: tuple[int, ...]
    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]
    bias: float

    def __post_init__(self):
        _check_features(self.features)
        nodes = len(self.feature)
        arrays = (self.threshold, self.left, self.right, self.value)
        if not self.roots or not nodes or any(len(a) != nodes for a in arrays):
            raise ModelFormatError("edit_rule's trees need roots and equally long node arrays")
        numbers = (*self.threshold, *self.value, self.bias)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
            raise ModelFormatError("edit_rule's numbers must be finite")
        if not all(0 <= r < nodes for r in self.roots):
            raise ModelFormatError("edit_rule's tree roots must be nodes")
        for i, (f, left, right) in enumerate(zip(self.feature, self.left, self.right)):
            leaf = f == -1
            if not (leaf or 0 <= f < len(FEATURES)) or (
                not leaf and not (i < left < nodes and i < right < nodes)
            ):
                raise ModelFormatError(f"edit_rule's tree node {i} is malformed")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EditTrees:
        try:
            return cls(
                tuple(data["features"]),
                *(tuple(int(v) for v in data[k]) for k in ("roots", "feature")),
                tuple(data["threshold"]),
                *(tuple(int(v) for v in data[k]) for k in ("left", "right")),
                tuple(data["value"]),
                data["bias"],
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFormatError(f"edit_rule is malformed: {err!r}") from err

    @cached_property
    def _arrays(self) -> tuple[np.ndarray, ...]:
        feature = np.asarray(self.feature)
        inner = feature >= 0
        own = np.arange(len(feature))
        # A leaf leads to itself, so every row can take the same number of steps.
        left = np.where(inner, self.left, own)
        right = np.where(inner, self.right, own)
        return (
            np.asarray(self.roots),
            np.where(inner, feature, 0),
            np.asarray(self.threshold),
            left,
            right,
            np.asarray(self.value),
            inner,
        )

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """``bias`` plus the leaf each tree sends each row of ``features`` to."""
        x = np.asarray(features, dtype=np.float64)
        # Walked a block of rows at a time: a whole document's proposals at once make
        # (rows x trees) index arrays of hundreds of megabytes.
        blocks = [self._walk(x[i : i + _ROWS_AT_ONCE]) for i in range(0, len(x), _ROWS_AT_ONCE)]
        return np.concatenate(blocks) if blocks else np.zeros(0)

    def _walk(self, x: np.ndarray) -> np.ndarray:
        roots, feature, threshold, left, right, value, inner = self._arrays
        rows = np.arange(len(x))[:, None]
        node = np.broadcast_to(roots, (len(x), len(roots)))
        while inner[node].any():
            goes_left = x[rows, feature[node]] <= threshold[node]
            node = np.where(goes_left, left[node], right[node])
        return self.bias + value[node].sum(axis=1)


def edit_rule_from_dict(data: Mapping[str, Any]) -> EditRule | EditTrees:
    """The edit rule ``restore.json`` holds: trees when it has ``roots``, else logistic."""
    if not isinstance(data, Mapping):
        raise ModelFormatError("edit_rule is malformed: it must be an object")
    return (EditTrees if "roots" in data else EditRule).from_dict(data)


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
    e = p.evidence
    if e is None:
        raise ValueError("an edit rule needs the evidence of every proposal")
    return [
        math.log(e.spin + _EPS) - math.log(1 - e.spin + _EPS),
        math.log(e.choice + _EPS),
        math.log(e.choice + _EPS) - math.log(e.runner_up + _EPS),
        math.log(e.spin * e.choice + _EPS),
        math.log(e.candidates),
        *e.candidate,
        *e.site,
    ]

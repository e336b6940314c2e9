"""A learned choice rule: which of a site's candidates was the original, with the network's
judgement weighed against the thesaurus's.

The tagger network scores each candidate original from the encoder's view of the site and
the candidate's evidence (trigram gain, topic fit, frequencies), but it never sees how the
thesaurus links the candidate to the written word. A spinner draws from the original's entry,
so an original that lists the written word among a handful of WordNet synonyms is a likelier
source than one whose Moby entry lists it among two hundred related words.
:class:`ChoiceRule` is a conditional logit over :data:`FEATURES` of each candidate: the
network's log P(original | spun), those relation flags and entry sizes
(``restore.tagger.inverse.InverseTable.relations``) and the candidate's evidence; its softmax over a
site's candidates replaces the network's. ``scripts/calibrate.py`` fits it on valid paragraphs
and stores it in ``restore.json`` (``choice_rule``).

>>> import numpy as np
>>> n = len(FEATURES)
>>> trust = ChoiceRule(FEATURES, (1.0,) + (0.0,) * (n - 1))  # the network alone
>>> log_probs = np.log([0.7, 0.3])
>>> trust.probabilities(log_probs, np.zeros((2, 10)), np.zeros((2, 6))).round(2).tolist()
[0.7, 0.3]
>>> synonyms = ChoiceRule(FEATURES, (1.0, 2.0) + (0.0,) * (n - 2))  # WordNet synonyms first
>>> relations = np.zeros((2, 10)); relations[1, 0] = 1.0  # the second lists it as a synonym
>>> synonyms.probabilities(log_probs, relations, np.zeros((2, 6))).round(2).tolist()
[0.24, 0.76]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from restore.errors import ModelFormatError
from restore.tagger.input import CANDIDATE_FEATURE_NAMES
from restore.tagger.inverse import RELATIONS

FEATURES = (
    "log_choice",
    *(f"listed_{r}" for r in RELATIONS),
    *(f"log_entry_{r}" for r in RELATIONS),
    *CANDIDATE_FEATURE_NAMES,
)


@dataclass(frozen=True)
class ChoiceRule:
    """``softmax(features @ weights)`` over a site's candidates, :data:`FEATURES` per row."""

    features: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if tuple(self.features) != FEATURES:
            raise ModelFormatError(
                f"choice_rule.features must be {list(FEATURES)} (this restore's features), "
                f"got {list(self.features)}"
            )
        if len(self.weights) != len(FEATURES):
            raise ModelFormatError(f"choice_rule needs {len(FEATURES)} weights")
        if not all(isinstance(w, (int, float)) and math.isfinite(w) for w in self.weights):
            raise ModelFormatError("choice_rule's weights must be finite numbers")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceRule:
        try:
            return cls(tuple(data["features"]), tuple(data["weights"]))
        except (KeyError, TypeError) as err:
            raise ModelFormatError(f"choice_rule is malformed: {err!r}") from err

    @cached_property
    def _weights(self) -> np.ndarray:
        return np.asarray(self.weights)

    def probabilities(
        self, log_probs: np.ndarray, relations: np.ndarray, evidence: np.ndarray
    ) -> np.ndarray:
        """P(original) of each of a site's candidates, from the network's log-probabilities,
        their relation features and their evidence (one row per candidate)."""
        scores = features(log_probs, relations, evidence) @ self._weights
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()


def features(log_probs: np.ndarray, relations: np.ndarray, evidence: np.ndarray) -> np.ndarray:
    """The ``(candidates, len(FEATURES))`` rows a :class:`ChoiceRule` weighs."""
    return np.concatenate([np.asarray(log_probs)[:, None], relations, evidence], axis=1)

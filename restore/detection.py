"""Detection: how likely each word, and the whole text, is the work of a spinner.

A model gives the Restorer a probability for some words of each unit (its ``word_spin``: the
tags format judges every word that has a slot, with 1 - P(keep)); every other word counts as 0.
This module turns those into a :class:`Detection`: a probability per word, the document's
**spin score** (the expected share of spun words: the mean word probability) and a
**calibrated probability that the text was spun at all**, from a logistic fit on document
features stored in the model directory (``detection.json``, written by
``scripts/calibrate_detection.py``). Words are the ``word`` tokens of ``restore.text.tokenize``:
numbers and punctuation are never spun and are not counted.

>>> d = build_detection("He ejects the crowd.", [(3, 9, 0.8)])
>>> [(w.word, w.probability) for w in d.words]
[('He', 0.0), ('ejects', 0.8), ('the', 0.0), ('crowd', 0.0)]
>>> d.spin_score
0.2
>>> d.spun_probability is None  # no calibration given
True
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore.text import Unit, tokenize

logger = logging.getLogger(__name__)

CALIBRATION_FILE = "detection.json"
CALIBRATION_VERSION = 1
FEATURES = ("mean", "max", "log1p_sum")


class DetectionUnavailable(ValueError):
    """The model gives no word spin probabilities (its format does not judge words)."""


class CalibrationError(ValueError):
    """A detection calibration file is missing fields, has unknown features or a newer version."""


@dataclass(frozen=True)
class WordSpin:
    """``text[start:end]`` is ``word``; ``probability`` that a spinner put it there."""

    start: int
    end: int
    word: str
    probability: float


@dataclass(frozen=True)
class Calibration:
    """P(spun) = sigmoid(bias + sum(weights[i] * feature[i])) over :data:`FEATURES`.

    ``fitted_on`` records what the fit saw (split, rates, paragraphs), for the model card.
    """

    weights: tuple[float, ...]
    bias: float
    features: tuple[str, ...] = FEATURES
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if tuple(self.features) != FEATURES:
            raise CalibrationError(f"features must be {list(FEATURES)}, got {list(self.features)}")
        if len(self.weights) != len(self.features):
            raise CalibrationError("one weight per feature is needed")

    def probability(self, features: Sequence[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features))
        return _sigmoid(z)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": CALIBRATION_VERSION,
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "fitted_on": self.fitted_on,
        }


@dataclass(frozen=True)
class Detection:
    """Every word with its spin probability, the spin score and the calibrated P(spun).

    ``spun_probability`` is None when the model has no calibration (no ``detection.json``).
    """

    words: tuple[WordSpin, ...]
    spin_score: float
    spun_probability: float | None

    @property
    def features(self) -> tuple[float, ...]:
        return document_features([w.probability for w in self.words])

    def to_dict(self, *, words: bool = True) -> dict[str, Any]:
        """JSON-ready: ``{"spin_score", "spun_probability", "words": [...]}``."""
        out: dict[str, Any] = {
            "spin_score": self.spin_score,
            "spun_probability": self.spun_probability,
        }
        if words:
            out["words"] = [
                {"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
                for w in self.words
            ]
        return out


def build_detection(
    text: str,
    word_spin: Sequence[tuple[int, int, float]],
    calibration: Calibration | None = None,
) -> Detection:
    """A :class:`Detection` for ``text`` from the model's ``(start, end, probability)`` spans
    (input offsets; a word inside a span gets its probability, other words 0)."""
    judged = sorted(word_spin)
    words = []
    k = 0
    for token in tokenize(text):
        if token.kind != "word":
            continue
        while k < len(judged) and judged[k][1] <= token.start:
            k += 1
        inside = k < len(judged) and judged[k][0] <= token.start and token.end <= judged[k][1]
        prob = min(max(float(judged[k][2]), 0.0), 1.0) if inside else 0.0
        words.append(WordSpin(token.start, token.end, token.text, prob))
    probs = [w.probability for w in words]
    score = sum(probs) / len(probs) if probs else 0.0
    spun = calibration.probability(document_features(probs)) if calibration else None
    return Detection(tuple(words), score, spun)


def document_features(probs: Sequence[float]) -> tuple[float, ...]:
    """The calibration's features of a document's word probabilities (see :data:`FEATURES`):
    the mean, the maximum and log(1 + sum), the expected number of spun words."""
    if not probs:
        return (0.0, 0.0, 0.0)
    total = float(sum(probs))
    return (total / len(probs), float(max(probs)), math.log1p(total))


def slot_word_spin(
    unit: Unit, slots: Sequence[tuple[int, int]], spin_probs: Sequence[float]
) -> tuple[tuple[int, int, float], ...]:
    """Per-word ``(start, end, probability)`` in the unit as written, for slots given in offsets
    of its normalised form (``unit.normal``), as the formats mark them.

    Each word token inside a slot gets the slot's probability. Returns nothing when the unit's
    tokens do not correspond one to one with those of its normalised form.
    """
    if not unit.aligned:
        return ()
    original, normal = unit.written, unit.tokens
    out = []
    i = 0
    for (start, end), prob in zip(slots, spin_probs):
        while i < len(normal) and normal[i].start < start:
            i += 1
        while i < len(normal) and normal[i].end <= end:
            if original[i].kind == "word":
                out.append((original[i].start, original[i].end, float(prob)))
            i += 1
    return tuple(out)


# -- calibration files -----------------------------------------------------------------------


def load_calibration(model_dir: str | Path) -> Calibration | None:
    """The model's ``detection.json``, or None when it has none."""
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CalibrationError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise CalibrationError(f"{path} must hold a JSON object")
    version = data.get("version")
    if not isinstance(version, int) or version > CALIBRATION_VERSION:
        raise CalibrationError(
            f"{path} has version {version!r}; this restore reads version {CALIBRATION_VERSION}"
        )
    try:
        return Calibration(
            weights=tuple(float(w) for w in data["weights"]),
            bias=float(data["bias"]),
            features=tuple(data["features"]),
            fitted_on=dict(data.get("fitted_on", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CalibrationError(f"{path}: {err}") from err


def save_calibration(calibration: Calibration, model_dir: str | Path) -> Path:
    path = Path(model_dir) / CALIBRATION_FILE
    path.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def fit_calibration(
    features: Sequence[Sequence[float]],
    labels: Sequence[int],
    *,
    l2: float = 1e-3,
    balanced: bool = True,
    fitted_on: dict[str, Any] | None = None,
) -> Calibration:
    """Logistic regression of ``labels`` (1 spun, 0 not) on document ``features`` by Newton's
    method. ``balanced`` weighs both classes equally, so the result reads as P(spun) under an
    even prior whatever the mix of the calibration set."""
    import numpy as np

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or len(x) != len(y) or len(set(labels)) != 2:
        raise CalibrationError("need one row of features per label, and both labels")
    weight = np.ones_like(y)
    if balanced:
        positive = y.mean()
        weight = np.where(y == 1, 0.5 / positive, 0.5 / (1 - positive))
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    penalty = l2 * len(x) * np.diag([0.0] + [1.0] * x.shape[1])  # the bias is not shrunk
    for _ in range(100):
        p = 1 / (1 + np.exp(-design @ beta))
        gradient = design.T @ (weight * (p - y)) + penalty @ beta
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return Calibration(
        weights=tuple(float(b) for b in beta[1:]),
        bias=float(beta[0]),
        fitted_on=dict(fitted_on or {}),
    )


# -- metrics ---------------------------------------------------------------------------------


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting half (the Mann-Whitney U statistic).

    >>> auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        raise ValueError("AUROC needs at least one positive and one negative")
    ranked = sorted((s, y) for s, y in zip(scores, labels))
    # Average ranks over ties, then U = sum of positive ranks - n_pos (n_pos + 1) / 2.
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2
        rank_sum += mean_rank * sum(1 for _, y in ranked[i:j] if y)
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)

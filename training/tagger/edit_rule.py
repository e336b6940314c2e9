"""Fitting a tagger's learned edit rule (:mod:`restore.tagger.edit_rule`) on spun and clean text.

Every proposal the model makes on a paragraph is an example: positive when it puts a spun
word's original back (the spinner's record gives the span and the original), negative
otherwise, whether it names the wrong original of a real swap or changes a word the spinner
never touched. Clean paragraphs give only negatives, which is what teaches the rule to leave
unspun text alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from restore.tagger.edit_rule import FEATURES, EditRule, EditTrees, document_features


def labelled_features(restorer, rows: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Features of every proposal on ``rows``' spun texts (pair rows of
    ``training.evaluation.spin_paragraphs``, or clean rows without substitutions), and whether
    each restores a swap."""
    features, labels = [], []
    outputs = restorer.unit_outputs([row["spun"] for row in rows])
    for row, units in zip(rows, outputs):
        gold = gold_swaps(row)
        scores = [output for _, _, output in units]
        for (start, _, unit), rows_of_unit in zip(units, document_features(scores)):
            features.append(rows_of_unit)
            labels += [
                gold.get((start + p.start, start + p.end)) == p.restored.lower()
                for p in unit.proposals
            ]
    x = np.concatenate(features) if features else np.zeros((0, len(FEATURES)))
    return x, np.asarray(labels, dtype=bool)


def spun_units(restorer, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, dict]]:
    """Each unit of ``rows``' spun texts as ``restorer``'s tagger reads it
    (:class:`restore.tagger.input.UnitInput`), with the gold swaps inside it in unit offsets."""
    engine = restorer.runtime.engine
    found = []
    for row in rows:
        gold = gold_swaps(row)
        for start, end in restorer.unit_spans(row["spun"]):
            unit = engine.encode_text(row["spun"][start:end])
            inside = {(a - start, b - start): o for (a, b), o in gold.items() if start <= a < end}
            found.append((unit, inside))
    return found


def gold_swaps(row: Mapping[str, Any]) -> dict[tuple[int, int], str]:
    """The original (lower case) of each spinner swap of a pair row, by its span in the spun
    text; a clean row has none."""
    return {
        (s["spun_start"], s["spun_end"]): s["original"].lower()
        for s in row.get("substitutions", ())
    }


def fit_rule(features: np.ndarray, labels: np.ndarray, *, c: float = 1.0) -> EditRule:
    """A logistic :class:`EditRule` fitted on standardised ``features`` (L2 penalty ``1/c``)."""
    from sklearn.linear_model import LogisticRegression

    _check_labels(labels)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((features - mean) / scale, labels)
    return EditRule(
        FEATURES,
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(model.coef_[0].tolist()),
        float(model.intercept_[0]),
    )


def fit_trees(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    trees: int = 200,
    leaves: int = 8,
    learning_rate: float = 0.1,
    min_leaf: int = 20,
    l2: float = 1.0,
    seed: int = 0,
) -> EditTrees:
    """An :class:`EditTrees` rule: scikit-learn's histogram gradient boosting (log loss) over
    the same features, its trees copied node by node. The L2 penalty on leaf values keeps a
    leaf of nearly pure examples from growing far out, overconfident (README: it edited clean
    text more without it).

    scikit-learn keeps the fitted trees in private attributes, so the copy is checked: it must
    give back scikit-learn's own probabilities on every row, or this raises.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    _check_labels(labels)
    model = HistGradientBoostingClassifier(
        max_iter=trees,
        max_leaf_nodes=leaves,
        learning_rate=learning_rate,
        min_samples_leaf=min_leaf,
        l2_regularization=l2,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(features, labels)
    roots, feature, threshold, left, right, value = [], [], [], [], [], []
    for (predictor,) in model._predictors:
        nodes, offset = predictor.nodes, len(feature)
        leaf = nodes["is_leaf"].astype(bool)
        roots.append(offset)
        feature += np.where(leaf, -1, nodes["feature_idx"]).tolist()
        threshold += np.where(leaf, 0.0, nodes["num_threshold"]).tolist()
        left += np.where(leaf, -1, nodes["left"].astype(np.int64) + offset).tolist()
        right += np.where(leaf, -1, nodes["right"].astype(np.int64) + offset).tolist()
        value += np.where(leaf, nodes["value"], 0.0).tolist()
    rule = EditTrees(
        FEATURES,
        tuple(roots),
        tuple(feature),
        tuple(threshold),
        tuple(left),
        tuple(right),
        tuple(value),
        float(np.ravel(model._baseline_prediction)[0]),
    )
    if not np.allclose(rule.probabilities(features), model.predict_proba(features)[:, 1]):
        raise ValueError("the copied trees do not reproduce scikit-learn's probabilities")
    return rule


def _check_labels(labels: np.ndarray) -> None:
    if len(set(labels.tolist())) < 2:
        raise ValueError("an edit rule needs proposals that restore swaps and ones that do not")

"""Choosing a model's per-edit confidence threshold (and a tagger's learned rules) on valid text.

A calibration restores valid paragraphs spun at the given rates, and the same paragraphs unspun,
once per threshold, with that threshold as the guard's ``min_edit_confidence`` (a format may
leave unsure proposals out before aligning, which post-hoc filtering of one run's edits would
not show), and scores precision, recall, F0.5 and false changes per 100 tokens, all rates
pooled. :func:`choose` picks the best F0.5 within a false-change budget.

A tagger model also gets a learned edit rule (:mod:`restore.tagger.edit_rule`: logistic, or
gradient-boosted trees, whichever scores better) and, when asked, a learned choice rule
(:mod:`restore.tagger.choice_rule`), fitted on other paragraphs (``fit_rows``), never on the
ones the threshold is chosen on. Every threshold is tried with and without each rule; the
encoder runs once per unit and choice. ``scripts/calibrate.py`` is the command.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore.formats import load_settings
from restore.settings import save_settings
from training import evaluation, metrics
from training.tagger.choice_rule import choice_accuracy, choice_examples, fit_choice_rule
from training.tagger.edit_rule import fit_rule, fit_trees, labelled_features

logger = logging.getLogger(__name__)

THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9)


@dataclass(frozen=True)
class Calibration:
    """Every (choice rule, edit rule, threshold) tried with its scores, and the rules by name."""

    results: list[dict[str, Any]]
    choice_rules: dict[str, Any]
    edit_rules: dict[tuple[str, str], Any]

    def best(self, max_false_changes: float) -> dict[str, Any]:
        return choose(self.results, max_false_changes)


def choose(rows: list[dict], max_false_changes: float) -> dict:
    """The row with the best F0.5 among those within ``max_false_changes`` (the first of
    equals), else the one with the fewest false changes."""
    allowed = [r for r in rows if r["false_changes_per_100_tokens"] <= max_false_changes]
    if allowed:
        return max(allowed, key=lambda r: r["f0.5"])
    return min(rows, key=lambda r: r["false_changes_per_100_tokens"])


def spin_rows(paragraphs, rates, seed, relations) -> list[dict]:
    """Pair rows of ``paragraphs`` spun at each rate, then the same paragraphs clean."""
    spun = [
        row
        for rate in rates
        for row in evaluation.spin_paragraphs(
            paragraphs, rate=rate, seed=seed, spinner=evaluation.restricted_spinner(rate, relations)
        )
    ]
    return spun + evaluation.clean_rows(paragraphs)


def calibrate(
    restorer,
    rows: Sequence[dict],
    fit_rows: Sequence[dict] = (),
    *,
    choice_rule: bool = False,
    thresholds: Sequence[float] = THRESHOLDS,
) -> Calibration:
    """Score ``restorer`` on ``rows`` at every threshold; a tagger with ``fit_rows`` also with
    the edit rules (and, with ``choice_rule``, a choice rule) fitted on them."""
    learns = restorer.format.name == "tagger" and bool(fit_rows)
    texts = [r["spun"] for r in rows]
    originals = [r["original"] for r in rows]
    choices: dict[str, Any] = {"none": None}
    if learns and choice_rule:
        examples = choice_examples(restorer, fit_rows)
        choices["learned"] = fit_choice_rule(examples)
        held = choice_examples(restorer, rows)
        logger.info(
            "choice rule: %d swaps; original ranked first on the held paragraphs %.4f by the "
            "network, %.4f by the rule",
            len(examples),
            choice_accuracy(None, held),
            choice_accuracy(choices["learned"], held),
        )
    options = restorer.format.options
    results: list[dict[str, Any]] = []
    edit_rules: dict[tuple[str, str], Any] = {}
    for choice_name, rule_of_choice in choices.items():
        if learns:
            restorer.runtime.engine.choice_rule = rule_of_choice
        if hasattr(restorer.runtime, "cache"):
            restorer.runtime.cache = {}  # scores change with the choice rule only
        candidates: dict[str, Any] = {"none": None}
        if learns:
            features, labels = labelled_features(restorer, fit_rows)
            logger.info(
                "edit rule (%s choice rule): %d proposals, %d restore a swap",
                choice_name,
                len(labels),
                int(labels.sum()),
            )
            candidates["learned"] = fit_rule(features, labels)
            candidates["trees"] = fit_trees(features, labels)
        for name, rule in candidates.items():
            edit_rules[(choice_name, name)] = rule
            if learns:
                restorer.format.options = dataclasses.replace(options, edit_rule=rule)
            for threshold in thresholds:
                restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=threshold)
                s = metrics.score(
                    texts, originals, restorer.restore_batch(texts), text_metrics=False
                )
                results.append(
                    {
                        "choice_rule": choice_name,
                        "rule": name,
                        "threshold": threshold,
                        **{k: round(s[k], 4) for k in ("precision", "recall", "f0.5")},
                        "false_changes_per_100_tokens": round(s["false_changes_per_100_tokens"], 4),
                    }
                )
                logger.info("%s", json.dumps(results[-1]))
    restorer.format.options = options
    return Calibration(results, choices, edit_rules)


def save_choice(model_dir: str | Path, calibration: Calibration, best: dict[str, Any]) -> None:
    """Store ``best``'s threshold (and a tagger's rules: the chosen ones, or none where the
    network's own won) in the model's ``restore.json``."""
    saved = load_settings(model_dir)
    guard = dataclasses.replace(saved.guard, min_edit_confidence=best["threshold"])
    settings = dataclasses.replace(saved, guard=guard)
    if saved.target_format == "tagger":
        settings = settings.with_options(
            edit_rule=calibration.edit_rules[(best["choice_rule"], best["rule"])],
            choice_rule=calibration.choice_rules[best["choice_rule"]],
        )
    save_settings(settings, model_dir)

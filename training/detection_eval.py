"""Evaluating and calibrating spin detection on spun corpus paragraphs.

The same paragraphs are spun at each rate and also kept unspun. Paragraph level: AUROC of the
spin score (and of the calibrated P(spun)) for spun-at-rate against unspun. Word level: a word
of the spun text is gold "spun" when a spinner substitution covers it; a word is predicted spun
when its probability reaches ``threshold``. The reliability table bins the calibrated P(spun)
(and word probabilities) against how often the paragraph (word) really was spun.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from restore.detection import Detection, auroc, fit_calibration
from restore.text import tokenize
from training import evaluation

BINS = 10


def detection_rows(
    paragraphs: Sequence[evaluation.Paragraph],
    *,
    rates: Sequence[float],
    seed: int,
    relations: Sequence[str] | None = None,
    thesaurus: str | None = None,
) -> list[dict[str, Any]]:
    """Pair rows for every rate, then the unspun paragraphs (rate 0); spun by the default
    spinner, or one restricted as :func:`training.evaluation.restricted_spinner` says."""
    rows = []
    for rate in rates:
        spinner = evaluation.restricted_spinner(rate, relations, thesaurus)
        rows.extend(evaluation.spin_paragraphs(paragraphs, rate=rate, seed=seed, spinner=spinner))
    rows.extend(evaluation.clean_rows(paragraphs))
    return rows


def gold_words(row: dict[str, Any]) -> list[int]:
    """1 for each word token of ``row["spun"]`` that a substitution wrote, else 0."""
    spans = [(s["spun_start"], s["spun_end"]) for s in row.get("substitutions", ())]
    return [
        int(any(a <= t.start and t.end <= b for a, b in spans))
        for t in tokenize(row["spun"])
        if t.kind == "word"
    ]


def detect_rows(restorer, rows: Sequence[dict[str, Any]], *, batch_size: int = 64):
    """``restorer.detect_batch`` over the rows' spun texts, in batches."""
    out: list[Detection] = []
    for i in range(0, len(rows), batch_size):
        out.extend(restorer.detect_batch([r["spun"] for r in rows[i : i + batch_size]]))
    return out


def is_spun(row: dict[str, Any]) -> int:
    return int(row["spun"] != row["original"])


def calibrate(rows, detections, *, fitted_on: dict[str, Any]):
    """Fit the document calibration on rows and their detections (spun = text changed)."""
    return fit_calibration(
        [d.features for d in detections], [is_spun(r) for r in rows], fitted_on=fitted_on
    )


def word_scores(golds: Sequence[int], probs: Sequence[float], threshold: float) -> dict:
    """Word-level precision, recall and F1 of ``probs >= threshold`` against ``golds``."""
    tp = sum(1 for g, p in zip(golds, probs) if g and p >= threshold)
    fp = sum(1 for g, p in zip(golds, probs) if not g and p >= threshold)
    fn = sum(1 for g, p in zip(golds, probs) if g and p < threshold)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def reliability(
    probs: Sequence[float],
    labels: Sequence[int],
    bins: int = BINS,
    *,
    balanced: bool = False,
) -> list[dict]:
    """Equal-width bins of predicted probability: count, mean prediction, observed rate.

    ``balanced`` weighs each class by the inverse of its size, so the observed rate is the one
    an even mix of positives and negatives would show (the prior the calibration assumes).
    """
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    weights = [(0.5 / positives if y else 0.5 / negatives) if balanced else 1.0 for y in labels]
    table = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        inside = [
            (p, y, w)
            for p, y, w in zip(probs, labels, weights)
            if lo <= p < hi or (k == bins - 1 and p == 1.0)
        ]
        total = sum(w for _, _, w in inside)
        table.append(
            {
                "low": lo,
                "high": hi,
                "count": len(inside),
                "predicted": sum(p for p, _, _ in inside) / len(inside) if inside else None,
                "observed": sum(w * y for _, y, w in inside) / total if inside else None,
            }
        )
    return table


def evaluate_detection(
    rows: Sequence[dict[str, Any]],
    detections: Sequence[Detection],
    *,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """AUROC per rate, word P/R/F1 per rate and pooled, and reliability tables."""
    clean = [(r, d) for r, d in zip(rows, detections) if r["rate"] == 0.0]
    rates = sorted({r["rate"] for r in rows if r["rate"] > 0.0})
    calibrated = all(d.spun_probability is not None for d in detections)
    results: dict[str, Any] = {"threshold": threshold, "rates": {}}
    all_golds: list[int] = []
    all_probs: list[float] = []
    for rate in rates:
        spun = [(r, d) for r, d in zip(rows, detections) if r["rate"] == rate]
        pairs = spun + clean
        labels = [is_spun(r) for r, _ in pairs]
        entry: dict[str, Any] = {
            "paragraphs": len(spun),
            "unchanged_by_spinner": sum(1 for r, _ in spun if not is_spun(r)),
            "auroc_spin_score": auroc([d.spin_score for _, d in pairs], labels),
        }
        if calibrated:
            entry["auroc_spun_probability"] = auroc([d.spun_probability for _, d in pairs], labels)
        golds = [g for r, _ in spun for g in gold_words(r)]
        probs = [w.probability for _, d in spun for w in d.words]
        entry["words"] = word_scores(golds, probs, threshold)
        all_golds += golds
        all_probs += probs
        results["rates"][str(rate)] = entry
    results["words"] = word_scores(all_golds, all_probs, threshold)
    results["word_reliability"] = reliability(all_probs, all_golds)
    if calibrated:
        # Balanced: the calibration is fitted for an even prior, while this set is 3:1 spun.
        results["paragraph_reliability"] = reliability(
            [d.spun_probability for d in detections], [is_spun(r) for r in rows], balanced=True
        )
    return results


def plot_reliability(results: dict[str, Any], path: str | Path) -> Path:
    """A PNG of predicted against observed rates (paragraph P(spun) and word probability)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("word_reliability", "words: spin probability")]
    if "paragraph_reliability" in results:
        title = "paragraphs: calibrated P(spun)\n(spun and unspun weighed equally)"
        panels.insert(0, ("paragraph_reliability", title))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        table = [b for b in results[key] if b["count"]]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
        ax.plot(
            [b["predicted"] for b in table],
            [b["observed"] for b in table],
            marker="o",
            label="model",
        )
        for b in table:
            ax.annotate(str(b["count"]), (b["predicted"], b["observed"]), fontsize=7)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted", ylabel="observed", title=title)
        ax.legend(loc="upper left")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""Scoring a tagger on valid pairs while it trains: detection, choice and edit-level figures."""

from __future__ import annotations

from collections.abc import Sequence

from restore.tagger.engine import TaggerEngine, apply_proposals
from training import metrics
from training.tagger.data import NOT_SPUN, iter_examples

# Edit-level scores are taken at the best of these thresholds: a model grows surer as it
# trains, so a fixed threshold would pick checkpoints for their calibration, not their quality.
EVAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def evaluate(
    engine: TaggerEngine, rows, *, thresholds: Sequence[float] = EVAL_THRESHOLDS
) -> dict[str, float]:
    """Detection F1, choice accuracy at reachable spun sites, and edit-level scores at the
    threshold (of ``thresholds``) with the best F0.5."""
    engine.model.eval()
    tp = fp = fn = 0
    chosen = reachable = spun_sites = 0
    spun, original, results = [], [], []
    examples = list(iter_examples(rows, engine, max_pieces=10**9))
    for first in range(0, len(examples), 32):
        chunk = examples[first : first + 32]
        scores = engine.score([u for _, u, _ in chunk])
        for (index, unit, lab), result in zip(chunk, scores):
            probs = [p for _, _, p in result.words]
            truth = [y for t, y in zip(unit.tokens, lab.words) if t.kind == "word"]
            for p, y in zip(probs, truth):
                tp += p >= 0.5 and y == 1
                fp += p >= 0.5 and y == 0
                fn += p < 0.5 and y == 1
            by_start = {p.start: p for p in result.proposals}
            for site, target in zip(unit.sites, lab.sites):
                if target == NOT_SPUN:
                    continue
                spun_sites += 1
                if target >= 0:
                    reachable += 1
                    proposal = by_start.get(site.start)
                    chosen += bool(
                        proposal and proposal.restored.lower() == site.candidates[target]
                    )
            spun.append(rows[index]["spun"])
            original.append(rows[index]["original"])
            results.append((unit.text, result))
    engine.model.train()
    scored, threshold = max(
        (
            (
                metrics.score(
                    spun,
                    original,
                    [apply_proposals(text, result.edits(t)) for text, result in results],
                    text_metrics=False,
                ),
                t,
            )
            for t in thresholds
        ),
        key=lambda pair: pair[0]["f0.5"],
    )
    p, r, f1 = metrics.prf(tp, fp, fn, beta=1.0)
    return {
        "detect_p": p,
        "detect_r": r,
        "detect_f1": f1,
        "reach": reachable / max(spun_sites, 1),
        "choice_acc": chosen / max(reachable, 1),
        "precision": scored["precision"],
        "recall": scored["recall"],
        "f0.5": scored["f0.5"],
        "false_changes": scored.get("false_changes_per_100_tokens") or 0.0,
        "threshold": threshold,
    }

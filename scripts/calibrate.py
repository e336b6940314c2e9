"""Choose a model's per-edit confidence threshold on the valid split, and optionally save it.

    python scripts/calibrate.py --model runs/default/model --corpus ../shared/corpus \
        --max-paragraphs 500 --max-false-changes 0.3 [--rate 0.1 0.3 0.5] [--write]

Restores valid paragraphs spun at each ``--rate`` (optionally with ``--relations`` only, as in
``scripts/evaluate.py``), and the same paragraphs unspun, once per threshold, with that
threshold as the guard's ``min_edit_confidence`` (a format may leave unsure proposals out before
aligning, which post-hoc filtering of one run's edits would not show). Prints precision, recall,
F0.5 and false changes per 100 tokens for each threshold, all rates pooled, and picks the one
with the best F0.5 among those within ``--max-false-changes`` (else the fewest false changes);
``--write`` stores it as ``guard.min_edit_confidence`` in the model's ``restore.json``. Never
use the test split here.

A tagger model is also tried with each of :data:`LONE_EDITS` (``spun_unit_words``,
``lone_edit_factor``: edits in units with few other suspicious words weighed down; see
``restore.tagger_engine.weigh_lone_edits``), its encoder run once per unit; the best pair is
written with the threshold.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from restore import Restorer
from restore.format import load_settings, save_settings
from training import evaluation, metrics

THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)
# (spun_unit_words, lone_edit_factor); (0, 1.0) weighs nothing.
LONE_EDITS = ((0, 1.0), *((n, f) for n in (1, 2, 3, 4) for f in (0.9, 0.8, 0.7, 0.6)))


def choose(rows: list[dict], max_false_changes: float) -> dict:
    """The row with the best F0.5 among those within ``max_false_changes`` (the first of equals,
    so weighing nothing wins a tie), else the one with the fewest false changes."""
    allowed = [r for r in rows if r["false_changes_per_100_tokens"] <= max_false_changes]
    if allowed:
        return max(allowed, key=lambda r: r["f0.5"])
    return min(rows, key=lambda r: r["false_changes_per_100_tokens"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[0.3], help="spin rates, scored together"
    )
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=500)
    parser.add_argument("--max-false-changes", type=float, default=0.3, help="per 100 tokens")
    parser.add_argument("--write", action="store_true", help="save the choice in restore.json")
    args = parser.parse_args(argv)

    paragraphs = evaluation.select_paragraphs(
        args.corpus, "valid", max_paragraphs=args.max_paragraphs
    )
    spun = [
        row
        for rate in args.rate
        for row in evaluation.spin_paragraphs(
            paragraphs,
            rate=rate,
            seed=args.seed,
            spinner=evaluation.restricted_spinner(rate, args.relations),
        )
    ]
    texts = [r["spun"] for r in spun] + [p.text for p in paragraphs]
    originals = [r["original"] for r in spun] + [p.text for p in paragraphs]
    restorer = Restorer.from_pretrained(args.model)
    scorer = restorer.generator
    weighs = hasattr(scorer, "lone_edit_factor")
    if weighs:
        scorer.cache = {}
    rows = []
    for words, factor in LONE_EDITS if weighs else LONE_EDITS[:1]:
        if weighs:
            scorer.spun_unit_words, scorer.lone_edit_factor = words, factor
        for threshold in THRESHOLDS:
            restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=threshold)
            s = metrics.score(texts, originals, restorer.restore_batch(texts), text_metrics=False)
            rows.append(
                {
                    "threshold": threshold,
                    **({"spun_unit_words": words, "lone_edit_factor": factor} if weighs else {}),
                    **{k: s[k] for k in ("precision", "recall", "f0.5")},
                    "false_changes_per_100_tokens": s["false_changes_per_100_tokens"],
                }
            )
            print(json.dumps({k: round(v, 4) for k, v in rows[-1].items()}), flush=True)
    best = choose(rows, args.max_false_changes)
    print("chosen:", json.dumps(best))
    if args.write:
        settings = load_settings(args.model)
        guard = dataclasses.replace(settings.guard, min_edit_confidence=best["threshold"])
        lone = {k: best[k] for k in ("spun_unit_words", "lone_edit_factor") if k in best}
        save_settings(dataclasses.replace(settings, guard=guard, **lone), args.model)


if __name__ == "__main__":
    main()

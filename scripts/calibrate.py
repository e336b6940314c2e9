"""Choose a model's per-edit confidence threshold on the valid split, and optionally save it.

    python scripts/calibrate.py --model runs/default/model --corpus ../shared/corpus \
        --max-paragraphs 500 --max-false-changes 0.3 [--rate 0.1 0.3 0.5] [--write]

Restores valid paragraphs spun at each ``--rate`` (optionally with ``--relations`` only, as in
``scripts/evaluate.py``), and the same paragraphs unspun, once per threshold, with that
threshold as the guard's ``min_edit_confidence`` (a format may leave unsure proposals out before
aligning, which post-hoc filtering of one run's edits would not show). Prints precision, recall,
F0.5 and false changes per 100 tokens for each threshold, all rates pooled, and picks the one
with the best F0.5 among those within ``--max-false-changes``; ``--write`` stores it as
``guard.min_edit_confidence`` in the model's ``restore.json``. Never use the test split here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from restore import Restorer
from restore.format import load_settings, save_settings
from training import evaluation, metrics

THRESHOLDS = (0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)


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
    rows = []
    for threshold in THRESHOLDS:
        restorer.guard = dataclasses.replace(restorer.guard, min_edit_confidence=threshold)
        restored = restorer.restore_batch(texts)
        s = metrics.score(texts, originals, restored)
        rows.append({"threshold": threshold, **{k: s[k] for k in ("precision", "recall", "f0.5")}})
        rows[-1]["false_changes_per_100_tokens"] = s["false_changes_per_100_tokens"]
        print(json.dumps({k: round(v, 4) for k, v in rows[-1].items()}))
    allowed = [r for r in rows if r["false_changes_per_100_tokens"] <= args.max_false_changes]
    best = max(allowed or rows[-1:], key=lambda r: r["f0.5"])
    print(f"chosen min_edit_confidence: {best['threshold']}")
    if args.write:
        settings = load_settings(args.model)
        guard = dataclasses.replace(settings.guard, min_edit_confidence=best["threshold"])
        save_settings(dataclasses.replace(settings, guard=guard), args.model)


if __name__ == "__main__":
    main()

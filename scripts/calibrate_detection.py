"""Fit a model's document-level spin calibration on the valid split, and optionally save it.

    python scripts/calibrate_detection.py --model restore/models/default \
        --corpus ../shared/corpus --max-paragraphs 300 --write

Spins valid paragraphs at each ``--rate`` and keeps them unspun too, runs detection once, and
fits P(spun) as a logistic function of the document's word-probability features (mean, max,
log(1 + sum)); spun and unspun paragraphs weigh the same. ``--write`` stores the fit as
``detection.json`` in the model directory, which ``Restorer.from_pretrained`` reads. Prints the
fit and the valid-split AUROC per rate as JSON. Never use the test split here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from restore import Restorer
from restore.detection import CALIBRATION_FILE, Detection, save_calibration
from training import detection_eval, evaluation


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model directory")
    parser.add_argument("--corpus", required=True, help="folder of *.jsonl.gz news files")
    parser.add_argument("--rate", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"save {CALIBRATION_FILE}")
    parser.add_argument("--overwrite", action="store_true", help=f"replace {CALIBRATION_FILE}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.write and (Path(args.model) / CALIBRATION_FILE).exists() and not args.overwrite:
        print(f"error: {args.model}/{CALIBRATION_FILE} exists; pass --overwrite", file=sys.stderr)
        return 2

    paragraphs = evaluation.select_paragraphs(
        args.corpus, "valid", max_paragraphs=args.max_paragraphs
    )
    rows = detection_eval.detection_rows(paragraphs, rates=args.rate, seed=args.seed)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    restorer.calibration = None  # fit on the raw features, whatever is there now
    detections = detection_eval.detect_rows(restorer, rows)
    fitted_on = {
        "split": "valid",
        "paragraphs": len(paragraphs),
        "rates": args.rate,
        "seed": args.seed,
        "balanced": True,
    }
    calibration = detection_eval.calibrate(rows, detections, fitted_on=fitted_on)
    scored = [
        Detection(d.words, d.spin_score, calibration.probability(d.features)) for d in detections
    ]
    report = detection_eval.evaluate_detection(rows, scored)
    summary = {
        "calibration": calibration.to_dict(),
        "valid": {k: {"auroc": v["auroc_spun_probability"]} for k, v in report["rates"].items()},
    }
    print(json.dumps(summary, indent=2))
    if args.write:
        print(f"wrote {save_calibration(calibration, args.model)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

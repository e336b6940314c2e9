"""Evaluate restorers: edit-level P/R/F0.5, false changes, BLEU/chrF, sliced reports.

Score predictions for a pairs file (rows with "spun" and "original"; predictions: rows with
"restored", same order):

    python scripts/evaluate.py --pairs P.jsonl --predictions R.jsonl

Restore the pairs with a trained model or with baselines:

    python scripts/evaluate.py --pairs P.jsonl --model runs/default/model
    python scripts/evaluate.py --pairs P.jsonl --baseline identity inverse

Spin held-out corpus paragraphs here, at one rate or several, and write a report:

    python scripts/evaluate.py --corpus ../shared/corpus --split test --rate 0.1 0.3 0.5 \\
        --seed 0 --max-paragraphs 1000 --baseline identity inverse inverse-lm \\
        --lm runs/ngram --report runs/eval/baselines

Whole articles, as a user restores them: ``--documents`` samples whole documents (about
``--max-paragraphs`` paragraphs in all) and ``--whole`` restores each as one text rather than
paragraph by paragraph (the same spun paragraphs either way, so the two runs compare):

    python scripts/evaluate.py --corpus ../shared/corpus --split test --rate 0.1 0.3 0.5 \\
        --seed 0 --max-paragraphs 1000 --model restore/models/default --documents [--whole]

Detection (is each paragraph, and each word, spun?) with a model, on the same paragraphs spun
at each rate and unspun: paragraph AUROC per rate, word precision / recall / F1, and a
reliability plot (``--report``: ``detection.json`` and ``reliability.png``):

    python scripts/evaluate.py --corpus ../shared/corpus --split test --rate 0.1 0.3 0.5 \\
        --seed 0 --max-paragraphs 1000 --model restore/models/default --detect \\
        --report runs/eval/detection

JSON goes to standard output: the metrics of the single run, or ``{"data": ..., "runs": [...]}``
when there are several (systems x rates). Exit status: 0 on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from restore.text import count_words, tokenize
from training import evaluation
from training.eval_report import ReportError, check_report_folder, write_report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python scripts/evaluate.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("data (one of --pairs, --corpus)")
    data.add_argument("--pairs", help="JSONL rows with 'spun' and 'original'")
    data.add_argument("--corpus", help="folder of *.jsonl.gz news files to spin")
    data.add_argument("--split", default="test", help="corpus split (default %(default)s)")
    data.add_argument(
        "--rate", type=float, nargs="+", default=[0.3], help="spin rate(s) (default 0.3)"
    )
    data.add_argument("--seed", type=int, default=0, help="spin seed (default %(default)s)")
    data.add_argument("--max-paragraphs", type=int, default=0, help="paragraphs to sample (0: all)")
    data.add_argument(
        "--documents",
        action="store_true",
        help="sample whole documents (2+ paragraphs; about --max-paragraphs in all)",
    )
    data.add_argument(
        "--whole",
        action="store_true",
        help="with --documents: restore each document as one text, not paragraph by paragraph",
    )
    data.add_argument(
        "--min-words", type=int, default=5, help="skip shorter paragraphs (default 5)"
    )
    data.add_argument("--write-pairs", help="also save the spun pairs (JSONL) here")
    data.add_argument(
        "--relations",
        nargs="+",
        help="spin with these thesaurus relations only (rel: Moby; syn sim hyper hypo: WordNet)",
    )
    data.add_argument(
        "--thesaurus",
        help="spin with this synonyms file only (a thesaurus we do not train on: python -m "
        "training.gcide --output FILE)",
    )
    systems = parser.add_argument_group("systems (any of --model, --baseline; or --predictions)")
    systems.add_argument("--predictions", help="JSONL rows with 'restored', in --pairs order")
    systems.add_argument("--model", help="a trained model directory (restore.Restorer)")
    systems.add_argument(
        "--baseline", nargs="+", default=[], choices=evaluation.BASELINES, help="baseline(s)"
    )
    systems.add_argument("--lm", help="n-gram model folder for inverse-lm (training.tagger.ngram)")
    systems.add_argument("--margin", type=float, help="inverse baselines: Zipf margin")
    systems.add_argument("--min-gain", type=float, help="inverse-lm: log-score gain needed")
    systems.add_argument("--batch-size", type=int, default=64, help="texts per restore_batch")
    systems.add_argument(
        "--detect", action="store_true", help="evaluate the model's spin detection instead"
    )
    systems.add_argument(
        "--word-threshold", type=float, default=0.5, help="--detect: word probability cut-off"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--report", help="folder for report.md, results.json and PNG plots")
    out.add_argument("--overwrite", action="store_true", help="replace an existing report")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    problem = _check_arguments(args)
    if problem:
        parser.error(problem)
    command = "python scripts/evaluate.py " + shlex.join(
        sys.argv[1:] if argv is None else list(argv)
    )
    if args.detect:
        return _run_detection(args, command)
    try:
        if args.report:
            check_report_folder(args.report, overwrite=args.overwrite)
        if args.write_pairs and Path(args.write_pairs).exists() and not args.overwrite:
            raise evaluation.EvaluationError(f"{args.write_pairs} exists; pass --overwrite")
        data, runs = _run(args)
        if args.report:
            write_report(runs, args.report, command=command, data=data, overwrite=args.overwrite)
    except (evaluation.EvaluationError, ReportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    output = {"data": data, **runs[0]} if len(runs) == 1 else {"data": data, "runs": runs}
    print(json.dumps(output, indent=2))
    return 0


def _check_arguments(args: argparse.Namespace) -> str | None:
    if bool(args.pairs) == bool(args.corpus):
        return "give exactly one of --pairs and --corpus"
    if args.predictions and (args.corpus or args.model or args.baseline):
        return "--predictions goes with --pairs alone (no --model or --baseline)"
    if not (args.predictions or args.model or args.baseline):
        return "name a system: --predictions, --model or --baseline"
    if args.write_pairs and not args.corpus:
        return "--write-pairs needs --corpus"
    if args.detect and not (args.corpus and args.model) or args.detect and args.baseline:
        return "--detect needs --corpus and --model (and no --baseline)"
    if any(not 0.0 <= r <= 1.0 for r in args.rate):
        return "--rate values must lie in [0, 1]"
    if args.whole and not args.documents:
        return "--whole needs --documents"
    if args.documents and (not args.corpus or args.detect):
        return "--documents goes with --corpus, not with --detect"
    return None


def _systems(args: argparse.Namespace) -> list[tuple[str, evaluation.Restorer]]:
    settings = {}
    if args.margin is not None:
        settings["margin"] = args.margin
    systems = []
    for name in args.baseline:
        extra = dict(settings)
        if name == "inverse-lm" and args.min_gain is not None:
            extra["min_gain"] = args.min_gain
        if name == "identity":
            extra = {}
        systems.append((name, evaluation.build_baseline(name, lm_dir=args.lm, **extra)))
    if args.model:
        systems.append((str(args.model), evaluation.load_model(args.model)))
    return systems


def _run(args: argparse.Namespace) -> tuple[dict, list[dict]]:
    if args.pairs:
        rows = evaluation.load_pairs(args.pairs)
        data = {
            "mode": "pairs",
            "pairs": args.pairs,
            "rows": len(rows),
            "clean_rows": sum(r["spun"] == r["original"] for r in rows),
            "tokens": sum(len(tokenize(r["spun"])) for r in rows),
        }
        if args.predictions:
            restored = evaluation.load_predictions(args.predictions, len(rows))
            name = Path(args.predictions).stem
            return data, [evaluation.evaluate_rows(rows, restored, system=name)]
        runs = [
            evaluation.run_system(name, system, rows, batch_size=args.batch_size)
            for name, system in _systems(args)
        ]
        return data, runs

    select = evaluation.select_documents if args.documents else evaluation.select_paragraphs
    paragraphs = select(
        args.corpus, args.split, max_paragraphs=args.max_paragraphs, min_words=args.min_words
    )
    data = {
        "mode": "corpus",
        "documents": "whole" if args.whole else args.documents,
        "corpus": args.corpus,
        "split": args.split,
        "paragraphs": len(paragraphs),
        "tokens": sum(len(tokenize(p.text)) for p in paragraphs),
        "words": sum(count_words(p.text) for p in paragraphs),
        "seed": args.seed,
        "rates": args.rate,
        "min_words": args.min_words,
        **_spinner_data(args),
    }
    runs, rows = evaluation.evaluate_corpus(
        _systems(args),
        paragraphs,
        rates=args.rate,
        seed=args.seed,
        batch_size=args.batch_size,
        relations=args.relations,
        thesaurus=args.thesaurus,
        documents=args.whole,
    )
    if args.write_pairs:
        evaluation.save_jsonl(rows, args.write_pairs)
    return data, runs


def _spinner_data(args: argparse.Namespace) -> dict:
    """What the spinner drew from, as the results' data records it."""
    data = {"relations": args.relations or "all"}
    if args.thesaurus:
        data["thesaurus"] = args.thesaurus
    return data


def _run_detection(args: argparse.Namespace, command: str) -> int:
    from restore import Restorer
    from training import detection_eval

    report = Path(args.report) if args.report else None
    if report and report.exists() and any(report.iterdir()) and not args.overwrite:
        print(f"error: {report} is not empty; pass --overwrite", file=sys.stderr)
        return 2
    try:
        paragraphs = evaluation.select_paragraphs(
            args.corpus, args.split, max_paragraphs=args.max_paragraphs, min_words=args.min_words
        )
        rows = detection_eval.detection_rows(
            paragraphs,
            rates=args.rate,
            seed=args.seed,
            relations=args.relations,
            thesaurus=args.thesaurus,
        )
    except evaluation.EvaluationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    restorer = Restorer.from_pretrained(args.model, threads=1)
    detections = detection_eval.detect_rows(restorer, rows, batch_size=args.batch_size)
    results = detection_eval.evaluate_detection(rows, detections, threshold=args.word_threshold)
    output = {
        "command": command,
        "data": {
            "corpus": args.corpus,
            "split": args.split,
            "paragraphs": len(paragraphs),
            "words": sum(count_words(p.text) for p in paragraphs),
            "seed": args.seed,
            "rates": args.rate,
            **_spinner_data(args),
        },
        "model": str(args.model),
        "calibrated": restorer.calibration is not None,
        **results,
    }
    if report:
        report.mkdir(parents=True, exist_ok=True)
        (report / "detection.json").write_text(json.dumps(output, indent=2) + "\n")
        detection_eval.plot_reliability(results, report / "reliability.png")
    print(json.dumps(output, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Choose a model's per-edit confidence threshold on the valid split, and optionally save it.

    python scripts/calibrate.py --model runs/default/model --corpus ../shared/corpus \
        --max-paragraphs 500 --max-false-changes 0.3 [--rate 0.1 0.3 0.5] [--write]

Restores valid paragraphs spun at each ``--rate`` (optionally with ``--relations`` only, as in
``scripts/evaluate.py``), and the same paragraphs unspun, once per threshold; prints each
threshold's scores, all rates pooled, and picks the best F0.5 within ``--max-false-changes``;
``--write`` stores it (and a tagger's learned rules, fitted on the next ``--fit-paragraphs``
valid paragraphs, and with ``--fit-documents`` on whole valid documents too, spun at
``--document-rates``, none of them a document of the scored paragraphs; ``--choice-rule`` also
tries a learned choice rule) in ``restore.json``. The work is :mod:`training.calibrate`'s.
Never use the test split here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from restore import Restorer
from training import evaluation
from training.calibrate import calibrate, save_choice, spin_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument(
        "--rate", type=float, nargs="+", default=[0.3], help="spin rates, scored together"
    )
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=500)
    parser.add_argument(
        "--fit-paragraphs", type=int, default=1000, help="tagger: paragraphs to fit the rule on"
    )
    parser.add_argument(
        "--fit-documents",
        type=int,
        default=0,
        help="tagger: also fit the rule on whole documents of about this many paragraphs in "
        "all, each restored as one text (its document features then span articles)",
    )
    parser.add_argument(
        "--document-rates",
        type=float,
        nargs="+",
        help="tagger: spin the --fit-documents at these rates (default: --rate)",
    )
    parser.add_argument("--max-false-changes", type=float, default=0.3, help="per 100 tokens")
    parser.add_argument(
        "--choice-rule", action="store_true", help="tagger: also try a learned choice rule"
    )
    parser.add_argument("--write", action="store_true", help="save the choice in restore.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    restorer = Restorer.from_pretrained(args.model)
    fit = args.fit_paragraphs if restorer.format.name == "tagger" else 0
    paragraphs = evaluation.select_paragraphs(
        args.corpus, "valid", max_paragraphs=args.max_paragraphs + fit
    )
    rows = spin_rows(paragraphs[: args.max_paragraphs], args.rate, args.seed, args.relations)
    fit_rows = spin_rows(paragraphs[args.max_paragraphs :], args.rate, args.seed, args.relations)
    if fit and args.fit_documents:
        held = {evaluation.document_of(p.id) for p in paragraphs[: args.max_paragraphs]}
        documents = evaluation.select_documents(
            args.corpus, "valid", max_paragraphs=args.fit_documents, exclude=held
        )
        fit_rows += evaluation.join_documents(
            spin_rows(documents, args.document_rates or args.rate, args.seed, args.relations)
        )
    result = calibrate(restorer, rows, fit_rows if fit else (), choice_rule=args.choice_rule)
    best = result.best(args.max_false_changes)
    print("chosen:", json.dumps(best))
    if args.write:
        save_choice(args.model, result, best)
    return 0


if __name__ == "__main__":
    sys.exit(main())

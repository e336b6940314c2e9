"""Choice accuracy at reachable spun sites, signal by signal (training.tagger.choice_signals).

    python scripts/choice_signals.py --model restore/models/default --corpus ../shared/corpus \
        --split valid --rate 0.1 0.3 0.5 --max-paragraphs 300 [--relations rel]

Prints one JSON line per rate. Uses the valid split by default; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import sys

from restore import Restorer
from training import evaluation
from training.tagger.choice_signals import choice_signals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--rate", type=float, nargs="+", default=[0.3])
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=300)
    parser.add_argument("--refine-above", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    paragraphs = evaluation.select_paragraphs(
        args.corpus, args.split, max_paragraphs=args.max_paragraphs
    )
    for rate in args.rate:
        spinner = evaluation.restricted_spinner(rate, args.relations)
        rows = evaluation.spin_paragraphs(paragraphs, rate=rate, seed=args.seed, spinner=spinner)
        shares = choice_signals(restorer, rows, refine_above=args.refine_above)
        print(json.dumps({"rate": rate, **{k: round(v, 4) for k, v in shares.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

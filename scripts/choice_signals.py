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
    evaluation.add_study_arguments(parser)
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--refine-above", type=float, default=0.5)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    for rate, rows in evaluation.study_rows(args, args.relations):
        shares = choice_signals(restorer, rows, refine_above=args.refine_above)
        print(json.dumps({"rate": rate, **{k: round(v, 4) for k, v in shares.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

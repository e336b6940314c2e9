"""Where a tagger model's gold swaps go on valid paragraphs: a recall diagnosis.

    python scripts/funnel.py --model restore/models/default --corpus ../shared/corpus \
        --rate 0.3 --max-paragraphs 500 [--relations rel | --thesaurus F] [--threshold 0.5]
        [--bands 0.1 0.2 0.3 0.4 0.5]

Prints, per rate, the counts of ``training.funnel.swap_funnel`` as JSON: how many swaps are out
of the inverse thesaurus's reach, proposed with the right or a wrong original, above or below
the threshold (default: the model's own), and how many clean words it would edit. With
``--bands``, also each band of confidence's proposals, right, wrong or at unspun words. Rate 0
reads the paragraphs unspun.
"""

from __future__ import annotations

import argparse
import json

from restore import Restorer
from restore.text import count_words
from training import evaluation
from training.funnel import swap_funnel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--rate", type=float, nargs="+", default=[0.3])
    parser.add_argument("--relations", nargs="+", help="spin with these thesaurus relations only")
    parser.add_argument("--thesaurus", help="spin with this synonyms file only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=500)
    parser.add_argument("--threshold", type=float, help="default: the model's own")
    parser.add_argument("--bands", type=float, nargs="+", help="lower edges of confidence bands")
    args = parser.parse_args(argv)

    restorer = Restorer.from_pretrained(args.model)
    paragraphs = evaluation.select_paragraphs(
        args.corpus, "valid", max_paragraphs=args.max_paragraphs
    )
    for rate in args.rate:
        if rate == 0:
            rows = evaluation.clean_rows(paragraphs)
        else:
            rows = evaluation.spin_paragraphs(
                paragraphs,
                rate=rate,
                seed=args.seed,
                spinner=evaluation.restricted_spinner(rate, args.relations, args.thesaurus),
            )
        funnel = swap_funnel(restorer, rows, args.threshold, args.bands or ())
        words = sum(count_words(row["spun"]) for row in rows)
        print(json.dumps({"rate": rate, "words": words, **funnel}))


if __name__ == "__main__":
    main()

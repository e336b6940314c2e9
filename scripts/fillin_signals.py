"""Choice accuracy at reachable spun sites: network, trigram gain, both-sides fill-in counts,
and their mixes (training.tagger.fillin).

    python scripts/fillin_signals.py --corpus ../shared/corpus --build runs/fillin/counts.npz \
        --rate 0.1 0.3 0.5 --max-paragraphs 300
    python scripts/fillin_signals.py --corpus ../shared/corpus --counts runs/fillin/counts.npz ...

Counts the train split (--build, then saved) or loads saved counts (--counts). The mixes' weights
are chosen on other valid paragraphs (--tune-paragraphs after the first --max-paragraphs, at
--tune-rate) and applied at every rate. Prints one JSON line per rate; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from restore import Restorer
from training import evaluation
from training.tagger.fillin import (
    FillInError,
    best_weight,
    choice_shares,
    collect_choices,
    count_fillin,
    load_fillin,
)
from training.tagger.ngram import iter_corpus_paragraphs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--build", help="count the train split and save the counts here (.npz)")
    source.add_argument("--counts", help="load counts saved by --build")
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--rate", type=float, nargs="+", default=[0.3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-paragraphs", type=int, default=300)
    parser.add_argument("--tune-paragraphs", type=int, default=300)
    parser.add_argument("--tune-rate", type=float, default=0.3)
    parser.add_argument("--max-words", type=int, default=0, help="token cap when counting")
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace existing --build counts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.build:
            if Path(args.build).exists() and not args.overwrite:
                print(
                    f"error: {args.build} exists; pass --overwrite to replace it", file=sys.stderr
                )
                return 2
            fillin = count_fillin(
                iter_corpus_paragraphs(args.corpus, "train"),
                min_count=args.min_count,
                max_words=args.max_words,
            )
            fillin.save(args.build)
            size = Path(args.build).stat().st_size
            logging.info("counts: %s, %.1f MB", json.dumps(fillin.manifest), size / 1e6)
        else:
            fillin = load_fillin(args.counts)
    except FillInError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    paragraphs = evaluation.select_paragraphs(
        args.corpus, args.split, max_paragraphs=args.max_paragraphs + args.tune_paragraphs
    )
    measured, tuning = paragraphs[: args.max_paragraphs], paragraphs[args.max_paragraphs :]
    rows = evaluation.spin_paragraphs(tuning, rate=args.tune_rate, seed=args.seed)
    tuned = collect_choices(restorer, fillin, rows)
    weights = {
        "fillin_weight": best_weight(tuned, "fillin"),
        "counts_weight": best_weight(tuned, "counts"),
    }
    for rate in args.rate:
        rows = evaluation.spin_paragraphs(measured, rate=rate, seed=args.seed)
        shares = choice_shares(collect_choices(restorer, fillin, rows), **weights)
        print(
            json.dumps({"rate": rate, **weights, **{k: round(v, 4) for k, v in shares.items()}}),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

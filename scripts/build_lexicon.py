"""Build the thesaurus file the spinner and the baselines read (``training/data/lexicon.json.gz``).

A command line over ``training.lexicon_build``, whose docstring describes the sources (WordNet
3.0 and Aiksaurus from Debian packages, wordfreq, a hand-curated function-word table). It never
replaces an existing ``--out`` without ``--overwrite``.

Example::

    python scripts/build_lexicon.py --out training/data/lexicon.json.gz --overwrite
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from training.lexicon_build import build_lexicon, log_summary, save_gzip_json

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("training/data/lexicon.json.gz"))
    parser.add_argument("--wordnet-dir", type=Path, default=Path("/usr/share/wordnet"))
    parser.add_argument("--aiksaurus-dir", type=Path, default=Path("/usr/share/aiksaurus"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.out.exists() and not args.overwrite:
        logger.error("%s exists; pass --overwrite to replace it", args.out)
        return 1
    start = time.perf_counter()
    document = build_lexicon(args.wordnet_dir, args.aiksaurus_dir)
    save_gzip_json(document, args.out)
    log_summary(document, args.out, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())

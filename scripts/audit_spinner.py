"""Audit the spinner on held-out news paragraphs.

    python scripts/audit_spinner.py --corpus ../shared/corpus --split test --paragraphs 1000 \
        --rates 0.1,0.3,0.5 --seed 0

Prints one JSON object per rate: achieved rate (replaced / eligible words), numbers and
mid-sentence capitalised words changed (both should be 0), paragraphs whose spans do not reapply
exactly (should be 0), words changed inside ALL-CAPS lines (spun on purpose: wire headlines),
phrase and inflection shares, speed.
"""

from __future__ import annotations

import argparse
import json
import sys

from training.audit import audit, sample_paragraphs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default="../shared/corpus", help="folder of *.jsonl.gz")
    parser.add_argument("--split", default="test", choices=("train", "valid", "test"))
    parser.add_argument("--paragraphs", type=int, default=1000)
    parser.add_argument("--rates", default="0.1,0.3,0.5", help="comma-separated spin rates")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",")]
    except ValueError:
        print(f"error: --rates must be numbers, got {args.rates!r}", file=sys.stderr)
        return 2
    paragraphs = sample_paragraphs(args.corpus, args.split, args.paragraphs, args.seed)
    if not paragraphs:
        print(f"error: no {args.split} paragraphs under {args.corpus}", file=sys.stderr)
        return 2
    for rate in rates:
        print(json.dumps(audit(paragraphs, rate, args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

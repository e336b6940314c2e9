"""Add held-out results to a model directory's metrics.json and model card.

    python scripts/model_card.py runs/default/model runs/eval/default-test/results.json

The results file is the one ``scripts/evaluate.py --report DIR`` writes (DIR/results.json),
usually with the model and the baselines evaluated together on the test split.
"""

from __future__ import annotations

import argparse
import json
import sys

from training.card import add_test_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", help="a model directory written by training.train")
    parser.add_argument("results", help="results.json from scripts/evaluate.py --report")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as fh:
            results = json.load(fh)
        add_test_results(
            args.model_dir, {"command": results.get("command"), "runs": results["runs"]}
        )
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"updated {args.model_dir}/README.md and metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Add held-out results to a model directory's metrics.json and model card.

    python scripts/model_card.py runs/default/model runs/eval/default-test/results.json

The results file is the one ``scripts/evaluate.py --report DIR`` writes (DIR/results.json),
usually with the model and the baselines evaluated together on the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.card import add_test_results, write_tagger_card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", help="a model directory (training.train or training.tagger)")
    parser.add_argument("results", help="results.json from scripts/evaluate.py --report")
    parser.add_argument(
        "--withheld", help="a tagger's withheld-thesaurus check: another evaluate.py results.json"
    )
    parser.add_argument("--withheld-note", help="what the withheld check trained and scored")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as fh:
            results = json.load(fh)
        test = {"command": results.get("command"), "runs": results["runs"]}
        # A tagger (training.tagger) keeps its settings in tagger_config.json, a T5 model in
        # training_config.yaml: each family's card is written by its own function.
        if (Path(args.model_dir) / "tagger_config.json").is_file():
            withheld = None
            if args.withheld:
                with open(args.withheld, encoding="utf-8") as fh:
                    found = json.load(fh)
                withheld = {
                    "command": found.get("command"),
                    "note": args.withheld_note,
                    "runs": found["runs"],
                }
            write_tagger_card(Path(args.model_dir), test, withheld)
        else:
            add_test_results(args.model_dir, test)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"updated {args.model_dir}/README.md and metrics.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

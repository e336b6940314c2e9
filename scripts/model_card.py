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
    parser.add_argument(
        "--foreign", help="a tagger's check on a thesaurus no training reads: a results.json"
    )
    parser.add_argument("--foreign-note", help="what the foreign check spun and scored")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as fh:
            results = json.load(fh)
        test = {"command": results.get("command"), "runs": results["runs"]}
        # A tagger (training.tagger) keeps its settings in tagger_config.json, a T5 model in
        # training_config.yaml: each family's card is written by its own function.
        if (Path(args.model_dir) / "tagger_config.json").is_file():
            withheld = _check(args.withheld, args.withheld_note)
            foreign = _check(args.foreign, args.foreign_note)
            write_tagger_card(Path(args.model_dir), test, withheld, foreign)
        else:
            add_test_results(args.model_dir, test)
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"updated {args.model_dir}/README.md and metrics.json")
    return 0


def _check(path: str | None, note: str | None) -> dict | None:
    """Another evaluate.py results.json as a card section: its command, a note, its runs."""
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        found = json.load(fh)
    return {"command": found.get("command"), "note": note, "runs": found["runs"]}


if __name__ == "__main__":
    sys.exit(main())

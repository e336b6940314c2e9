"""The small tags model's outputs on a fixed set, frozen in ``data/golden_tags_small.jsonl``.

It was the shipped default when the inference code was rebuilt into format classes (issue 9);
that refactor, and every one since, must not change what it returns. The inputs are the
README's examples, a few edge cases, whole fixture documents and every fixture paragraph spun
by our spinner at fixed seeds; each line of the file holds one input and the full
``restore_detailed`` result (text, edits, unit reports, every float), serialised as
:func:`serialise` does. ``tests/test_golden.py`` re-runs the model and compares the bytes.

Regenerate only when a change of outputs is intended (then say why in the commit):

    python tests/golden_tags_small.py --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
GOLDEN = HERE / "data" / "golden_tags_small.jsonl"
NEWS = HERE / "data" / "tiny_news.jsonl"

README_EXAMPLES = (
    "The celebration ejects journalists outside the depository.",
    "The council ejected the plan on Tuesday.",
    "The council ejected the plan.",
    "Independent journalists were not given access to cover the event depicted in this image "
    "distributed by the government.",
)
EDGE_CASES = ("", "   \n\t ", "Nothing to see here.", "He paid 40 dollars to Ms. Smith.")
# (rate, seed offset) of the two spins of every fixture paragraph.
SPINS = ((0.3, 0), (0.5, 1000))
WHOLE_DOCUMENTS = 4


def build_inputs() -> list[str]:
    """The fixed inputs; needs the training extras (the spinner and its lexicon)."""
    from training.spinner import Spinner, SpinnerConfig

    with open(NEWS, encoding="utf-8") as fh:
        documents = [json.loads(line)["text"] for line in fh if line.strip()]
    paragraphs = [p for doc in documents for p in doc.split("\n\n") if p.strip()]
    inputs = [*README_EXAMPLES, *EDGE_CASES, *documents[:WHOLE_DOCUMENTS]]
    for rate, offset in SPINS:
        spinner = Spinner(SpinnerConfig(rate=rate))
        inputs += [spinner.spin(p, seed=offset + i).text for i, p in enumerate(paragraphs)]
    return inputs


def serialise(text: str, result) -> str:
    """One golden line: the input and the whole result, floats as Python writes them."""
    return json.dumps({"input": text, **result.to_dict()}, ensure_ascii=False, sort_keys=True)


def run(inputs: list[str]) -> list[str]:
    from restore import Restorer

    restorer = Restorer.from_pretrained("tags-small", threads=1)
    return [serialise(text, restorer.restore_detailed(text)) for text in inputs]


def load_golden() -> tuple[list[str], list[str]]:
    """The stored inputs and lines."""
    lines = GOLDEN.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["input"] for line in lines], lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the golden file")
    args = parser.parse_args(argv)
    if not args.write:
        inputs, expected = load_golden()
        changed = sum(a != b for a, b in zip(run(inputs), expected))
        print(f"{changed} of {len(expected)} lines differ")
        return 1 if changed else 0
    lines = run(build_inputs())
    GOLDEN.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} lines to {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

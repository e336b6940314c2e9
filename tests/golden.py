"""The shipped models' outputs on a fixed set, frozen in ``data/golden_<model>.jsonl``.

Each shipped model (``default``, the tagger; ``tags-small``, the default before it) has a golden
file. Refactors must not change what a model returns. The inputs are the README's examples, a
few edge cases, whole fixture documents and every fixture paragraph spun by our spinner at fixed
seeds; each line of the file holds one input and the full ``restore_detailed`` result (text,
edits, unit reports, word spin, every float), serialised as :func:`serialise` does.
``tests/test_golden.py`` re-runs each model and compares the lines.

Regenerate only when a change of outputs is intended (then say why in the commit):

    python tests/golden.py --model default --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
NEWS = HERE / "data" / "tiny_news.jsonl"
MODELS = ("default", "tags-small")

README_EXAMPLES = (
    "The celebration ejects journalists outside the depository.",
    "The council ejected the plan on Tuesday.",
    "The council ejected the plan.",
    "Independent journalists were not given access to cover the event depicted in this image "
    "distributed by the government.",
    "The minister enumerated newspapermen that the rumbles would continue next week.",
    "The celebration ejects the press.",
)
EDGE_CASES = (
    "",
    "   \n\t ",
    "Nothing to see here.",
    "He paid 40 dollars to Ms. Smith.",
    "Der Bundestag hat am Dienstag das Gesetz beschlossen.",
    "<script>alert('the celebration ejects')</script>",
    "THE CELEBRATION EJECTS JOURNALISTS.",
    "Zoë said: “It’s 3.5 km—naïve café” (1999) 東京 😀",
)
# (rate, seed offset) of the two spins of every fixture paragraph.
SPINS = ((0.3, 0), (0.5, 1000))
WHOLE_DOCUMENTS = 4


def golden_path(model: str) -> Path:
    return HERE / "data" / f"golden_{model.replace('-', '_')}.jsonl"


def build_inputs(model: str) -> list[str]:
    """The fixed inputs; needs the training extras (the spinner and its lexicon)."""
    from training.spinner import Spinner, SpinnerConfig

    with open(NEWS, encoding="utf-8") as fh:
        documents = [json.loads(line)["text"] for line in fh if line.strip()]
    paragraphs = [p for doc in documents for p in doc.split("\n\n") if p.strip()]
    # tags-small's file was made before the later README examples and edge cases.
    examples = README_EXAMPLES[:4] + EDGE_CASES[:4] if model == "tags-small" else ()
    inputs = [*(examples or (*README_EXAMPLES, *EDGE_CASES)), *documents[:WHOLE_DOCUMENTS]]
    for rate, offset in SPINS:
        spinner = Spinner(SpinnerConfig(rate=rate))
        inputs += [spinner.spin(p, seed=offset + i).text for i, p in enumerate(paragraphs)]
    return inputs


def serialise(text: str, result, *, word_spin: bool) -> str:
    """One golden line: the input and the whole result, floats as Python writes them."""
    data = {"input": text, **result.to_dict()}
    if word_spin:
        data["word_spin"] = [list(w) for w in result.word_spin]
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def run(model: str, inputs: list[str]) -> list[str]:
    from restore import Restorer

    restorer = Restorer.from_pretrained(model, threads=1)
    # tags-small's file predates word spin in the golden lines.
    spin = model != "tags-small"
    return [serialise(text, restorer.restore_detailed(text), word_spin=spin) for text in inputs]


def load_golden(model: str) -> tuple[list[str], list[str]]:
    """The stored inputs and lines."""
    lines = golden_path(model).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["input"] for line in lines], lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=MODELS, default="default")
    parser.add_argument("--write", action="store_true", help="rewrite the golden file")
    args = parser.parse_args(argv)
    if not args.write:
        inputs, expected = load_golden(args.model)
        changed = sum(a != b for a, b in zip(run(args.model, inputs), expected))
        print(f"{changed} of {len(expected)} lines differ")
        return 1 if changed else 0
    lines = run(args.model, build_inputs(args.model))
    golden_path(args.model).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"wrote {len(lines)} lines to {golden_path(args.model)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

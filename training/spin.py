"""Spin text from the command line.

    echo "The party greets journalists." | python -m training.spin --rate 0.5 --seed 3
    python -m training.spin --rate 0.3 --seed 1 --json article.txt

Each input (standard input, or each FILE; with ``--lines`` each line) is spun as a whole:
everything outside the replaced spans, paragraph breaks included, is copied byte for byte.
``--json`` writes one JSON object per input: the spun text, the substitutions (character offsets
in the original and in the spun text) and the achieved rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import random
import sys
from collections.abc import Iterator

from training.spinner import Spinner, SpinnerConfig
from training.synthesize import derive_seed


class InputError(ValueError):
    """An input cannot be read as UTF-8 text."""


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{name} is not valid UTF-8 (byte {err.start}: {data[err.start : err.start + 1]!r})"
        ) from err


def _inputs(files: list[str], lines: bool) -> Iterator[tuple[str, str]]:
    sources = files or ["-"]
    for name in sources:
        label = "<stdin>" if name == "-" else name
        try:
            if name == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as fh:
                    data = fh.read()
        except OSError as err:
            raise InputError(f"cannot read {label}: {err.strerror}") from err
        text = _decode(data, label)
        if lines:
            for n, line in enumerate(text.splitlines(keepends=True), 1):
                yield f"{label}:{n}", line
        else:
            yield label, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.spin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="input files (default: stdin)")
    defaults = SpinnerConfig()
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="share of eligible words to replace (default %(default)s)",
    )
    parser.add_argument(
        "--function-rate",
        type=float,
        default=defaults.function_rate,
        help="share of function words to replace (default %(default)s)",
    )
    parser.add_argument(
        "--choice",
        choices=("uniform", "frequency", "sense_aware"),
        default=defaults.choice,
        help="how a synonym is chosen",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lexicon", help="lexicon file (default: the shipped one)")
    parser.add_argument("--lines", action="store_true", help="spin each line as its own input")
    parser.add_argument("--json", action="store_true", help="write JSON with substitution spans")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    config = dataclasses.replace(
        defaults,
        rate=args.rate,
        function_rate=args.function_rate,
        choice=args.choice,
        lexicon_path=args.lexicon,
    )
    try:
        config.validate()
        spinner = Spinner(config)
        out = sys.stdout
        for n, (name, text) in enumerate(_inputs(args.files, args.lines)):
            # One input keeps the plain seed; later ones get their own derived stream.
            seed = args.seed if n == 0 else derive_seed(args.seed, n)
            result = spinner.spin(text, rng=random.Random(seed))
            if args.json:
                row = {"input": name, "original": text, **result.to_json()}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                out.write(result.text)
        out.flush()
    except (InputError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

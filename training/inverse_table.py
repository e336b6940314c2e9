"""Build the inverse thesaurus a tagger model ships (:class:`restore.inverse.InverseTable`).

    python -m training.inverse_table --lm runs/ngram --output runs/inverse.npz

Keys are the words of the n-gram model's vocabulary (the words of the train split), every
multiword headword of the lexicon, every form a spinner can write from the lexicon (each
candidate at least ``--min-zipf`` frequent, in each inflection of its part of speech) and every
function-word alternative; each key maps to the
headwords that list it under any relation and sense (the inverse thesaurus baseline's options
with no frequency floor), inflected like the key, at most ``--top-k`` of them, most frequent
first. Function words map back to the function words that list them ("through" -> "by").
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from restore.inverse import InverseTable
from restore.ngram import SPECIALS, load_ngram_model
from training.baselines import InverseThesaurusRestorer, readings
from training.inflection import TAGS, inflect
from training.lexicon import Lexicon

logger = logging.getLogger(__name__)


def build_inverse_table(
    words: list[str], lexicon: Lexicon, *, top_k: int = 64, min_zipf: float = 2.0
) -> InverseTable:
    """The inverse table over ``words`` (lower case), the lexicon's phrases and the forms a
    spinner writes."""
    restorer = InverseThesaurusRestorer(lexicon, margin=-99.0, phrases=True)
    keys = dict.fromkeys(w for w in words if w.replace("-", "").replace("'", "").isalpha())
    keys.update(dict.fromkeys(_phrases(lexicon)))
    keys.update(dict.fromkeys(_spinner_outputs(lexicon, min_zipf)))
    function_inverse: dict[str, dict[str, None]] = {}
    for word in lexicon.function_words():
        for alternative in lexicon.function_alternatives(word):
            function_inverse.setdefault(alternative.lower(), {})[word.lower()] = None
    keys.update(dict.fromkeys(function_inverse))
    entries = {}
    for key in keys:
        options = [] if key in function_inverse else list(restorer.options(key)[:top_k])
        options.extend((w, lexicon.zipf(w)) for w in function_inverse.get(key, ()))
        if options:
            entries[key] = (_key_zipf(key, lexicon), options)
    return InverseTable(entries)


def _phrases(lexicon: Lexicon) -> list[str]:
    heads = lexicon.phrase_heads()
    return [phrase for first in heads for phrase in heads[first]]


def _spinner_outputs(lexicon: Lexicon, min_zipf: float) -> list[str]:
    """Every inflected form of every candidate at least ``min_zipf`` frequent (the spinner
    never picks rarer ones)."""
    seen: dict[tuple[str, str], None] = {}
    for lemma, pos in lexicon.entries():
        for cand in lexicon.candidates(lemma, pos):
            if lexicon.zipf(cand.text) >= min_zipf:
                seen[(cand.text.lower(), pos)] = None
    found: dict[str, None] = {}
    for text, pos in seen:
        for tag in TAGS[pos]:
            form = inflect(text, pos, tag)
            if form is not None:
                found[form] = None
    return list(found)


def _key_zipf(key: str, lexicon: Lexicon) -> float:
    found = lexicon.zipf(key)
    if found:
        return found
    return max((lexicon.zipf(lemma) for lemma, _, _ in readings(key, lexicon)), default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.inverse_table", description=__doc__)
    parser.add_argument("--lm", required=True, help="n-gram model folder (its vocabulary)")
    parser.add_argument("--output", required=True, help="the .npz file to write")
    parser.add_argument("--top-k", type=int, default=64, help="originals kept per key")
    parser.add_argument("--min-zipf", type=float, default=2.0, help="rarest spinner output")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        print(f"error: {out} exists (use --overwrite)", file=sys.stderr)
        return 2
    started = time.time()
    vocab = [w for w in load_ngram_model(args.lm).vocab if w not in SPECIALS]
    table = build_inverse_table(vocab, Lexicon.load(), top_k=args.top_k, min_zipf=args.min_zipf)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.save(out)
    logger.info(
        "%d keys, %d originals, %.0f s -> %s (%.1f MB)",
        len(table),
        sum(len(c) for _, c in table.entries().values()),
        time.time() - started,
        out,
        out.stat().st_size / 1e6,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

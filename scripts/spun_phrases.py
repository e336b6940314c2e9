"""How a model reads the phrases other spinners write (``training.tagger.inverse.SPUN_PHRASES``),
which our spinner never writes.

    python scripts/spun_phrases.py --corpus ../shared/corpus --max-paragraphs 1000 \
        --model restore/models/default [--share 0.5] [--seed 0]

Takes the valid paragraphs (of the first ``--max-paragraphs``) where an original of
SPUN_PHRASES occurs and spins them with those phrases alone: each occurrence (longest first, names
left alone) replaced at ``--share`` of them by one of its phrases, seeded. Scores the model on
them and on the same paragraphs unspun, and counts, in every clean paragraph of the sample where
one of the phrases occurs as written, how often the model edits it (``--share 0``: only that).
Prints one JSON line. Uses the valid split by default; never tune on test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

from restore import Restorer
from restore.candidates import match_case, match_keys
from restore.text import tokenize
from training import evaluation, metrics
from training.synthesize import derive_seed
from training.tagger.inverse import SPUN_KEYS, SPUN_PHRASES

_MAX_WORDS = max(k.count(" ") + 1 for k in SPUN_PHRASES)
_PHRASES = {p: o for o, phrases in SPUN_PHRASES.items() for p in phrases}  # phrase -> original
_PHRASE_WORDS = max(p.count(" ") + 1 for p in SPUN_KEYS)


def spin_with_phrases(text: str, rng: random.Random, share: float) -> str:
    """``text`` with ``share`` of its SPUN_PHRASES originals replaced by one of their phrases."""
    tokens = tokenize(text)
    parts, pos = [], 0
    for start, end, _, phrases in match_keys(tokens, SPUN_PHRASES, _MAX_WORDS):
        if rng.random() < share:
            parts += [text[pos:start], match_case(text[start:end], rng.choice(phrases))]
            pos = end
    return "".join(parts) + text[pos:]


def written_phrases(text: str) -> int:
    """How many of SPUN_PHRASES' phrases ``text`` holds as written."""
    return len(match_keys(tokenize(text), _PHRASES, _PHRASE_WORDS))


def edited_phrases(text: str, restored: str) -> int:
    """How many of the phrases ``text`` holds the restoration changed."""
    tokens = tokenize(text)
    found = match_keys(tokens, _PHRASES, _PHRASE_WORDS)
    starts = {t.start: i for i, t in enumerate(tokens)}
    ends = {t.end: i for i, t in enumerate(tokens)}
    spans = [(starts[s], ends[e]) for s, e, _, _ in found]
    touched = [(e.start, e.end) for e in metrics.extract_edits(text, restored)]
    return sum(any(a <= last and b > first for a, b in touched) for first, last in spans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--max-paragraphs", type=int, default=1000)
    parser.add_argument("--share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    restorer = Restorer.from_pretrained(args.model, threads=args.threads)
    paragraphs = evaluation.select_paragraphs(
        args.corpus, args.split, max_paragraphs=args.max_paragraphs
    )
    pairs = []
    for p in paragraphs:
        rng = random.Random(derive_seed(args.seed, p.id, "spun phrases"))
        spun = spin_with_phrases(p.text, rng, args.share)
        if spun != p.text:
            pairs.append((spun, p.text))
    spun = [s for s, _ in pairs]
    originals = [o for _, o in pairs]
    result: dict = {"model": args.model, "paragraphs": len(pairs)}
    if pairs:  # none with --share 0, which counts the phrases as written only
        restored = evaluation.restore_all(restorer, spun + originals)
        scores = metrics.score(spun + originals, originals * 2, restored, text_metrics=False)
        names = ("precision", "recall", "f0.5", "tp", "fp", "fn", "false_changes_per_100_tokens")
        result.update({k: scores[k] for k in names})
    written = [(p.text, n) for p in paragraphs if (n := written_phrases(p.text))]
    natural = [text for text, _ in written]
    natural_restored = evaluation.restore_all(restorer, natural)
    result |= {
        "paragraphs_with_a_phrase_as_written": len(natural),
        "phrases_as_written": sum(n for _, n in written),
        "phrases_as_written_edited": sum(
            edited_phrases(t, r) for t, r in zip(natural, natural_restored)
        ),
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

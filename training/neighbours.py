"""Embedding neighbours: a source of swaps that is not a thesaurus.

Real spinners draw on thesauri we do not have. Training pairs from our two thesauri alone teach a
model our lexicon's pairs; swaps between words that sit close in a pretrained embedding space
("quickly" -> "swiftly", "image" -> "picture", but also "rise" -> "fall") teach it what a
misplaced word looks like. For every single-word headword of the lexicon that the encoder's
word-piece vocabulary holds whole, this stage keeps the nearest other headwords of the same part
of speech by the cosine of their input embeddings (all-MiniLM-L6-v2 by default), leaving out the
headword's own inflections ("talk" -> "talks").

    python -m training.neighbours --output runs/neighbours.json.gz [--encoder DIR] [--per-word 10]

The spinner reads the file (``spinner.neighbours_path``) and offers its words under the relation
``near`` (``spinner.relation_weights.near``). File layout::

    {"format": 1, "encoder": "...", "per_word": 10, "min_cosine": 0.3,
     "neighbours": {"quickly\\tr": ["swiftly", "rapidly", ...], ...}}
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from training.inflection import lemmas
from training.lexicon import Lexicon

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def build_neighbours(
    words: Sequence[str],
    vectors: np.ndarray,
    lexicon: Lexicon,
    *,
    per_word: int = 10,
    min_cosine: float = 0.3,
    chunk: int = 2048,
) -> dict[str, list[str]]:
    """``"lemma<TAB>pos"`` -> up to ``per_word`` nearest headwords of that part of speech.

    ``words[i]`` has the embedding ``vectors[i]``; only words that are lexicon headwords take
    part, and a neighbour must be at least ``min_cosine`` close (rare words' vectors are noise).

    >>> lex = Lexicon.load()
    >>> vecs = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.2], [0.0, 1.0]])
    >>> build_neighbours(["talk", "talks", "chat", "table"], vecs, lex)["talk\\tv"]
    ['chat']
    """
    heads = [i for i, w in enumerate(words) if lexicon.poses(w) or _lemmas(w)]
    if not heads:
        return {}
    matrix = np.asarray(vectors, dtype=np.float32)[heads]
    matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
    names = [words[i] for i in heads]
    # A few times per_word raw neighbours leave room for the ones filtered out below.
    depth = min(len(names) - 1, per_word * 5)
    out: dict[str, list[str]] = {}
    for begin in range(0, len(names), chunk):
        sims = matrix[begin : begin + chunk] @ matrix.T
        for row, sim in enumerate(sims):
            me = begin + row
            sim[me] = -1.0
            order = np.argpartition(-sim, depth)[:depth] if depth > 0 else []
            order = sorted(order, key=lambda j: (-sim[j], names[j]))
            word = names[me]
            own = _lemmas(word) | {word}
            close = [names[j] for j in order if sim[j] >= min_cosine]
            for pos in lexicon.poses(word):
                found = [h for h in _headwords(close, pos, lexicon) if h not in own]
                if found:
                    out[f"{word}\t{pos}"] = found[:per_word]
    return out


def _lemmas(word: str) -> set[str]:
    return {lemma for _, options in lemmas(word) for lemma in options}


def _headwords(close: Sequence[str], pos: str, lexicon: Lexicon) -> list[str]:
    """The headwords of ``pos`` among ``close`` words, an inflected form read as its lemma
    ("democrats" -> "democrat"), each once, in order."""
    found: dict[str, None] = {}
    for word in close:
        for form in (word, *sorted(_lemmas(word))):
            if pos in lexicon.poses(form):
                found.setdefault(form)
                break
    return list(found)


def encoder_vocabulary(encoder_dir: str | Path) -> tuple[list[str], np.ndarray]:
    """The whole words of a BERT folder's word-piece vocabulary and their input embeddings."""
    from safetensors.numpy import load_file

    encoder_dir = Path(encoder_dir)
    state = load_file(str(encoder_dir / "model.safetensors"))
    name = next(k for k in state if k.endswith("word_embeddings.weight"))
    vocab = json.loads((encoder_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"][
        "vocab"
    ]
    words = [w for w in vocab if w.isalpha() and w.islower()]
    return words, state[name][[vocab[w] for w in words]].astype(np.float32)


def save_neighbours(neighbours: dict[str, list[str]], path: str | Path, **info) -> None:
    body = {"format": FORMAT_VERSION, **info, "neighbours": dict(sorted(neighbours.items()))}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        json.dump(body, fh, ensure_ascii=False)


def load_neighbours(path: str | os.PathLike) -> dict[str, tuple[str, ...]]:
    """``"lemma<TAB>pos"`` -> neighbour words, from a file :func:`save_neighbours` wrote."""
    return read_neighbours(path)[0]


def read_neighbours(path: str | os.PathLike) -> tuple[dict[str, tuple[str, ...]], dict]:
    """:func:`load_neighbours`' words, and the file's other fields (``source``: what its
    words are, such as ``gcide``; a file without one holds embedding neighbours)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            body = json.load(fh)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read neighbours from {os.fspath(path)}: {err}") from err
    if not isinstance(body, dict) or body.get("format") != FORMAT_VERSION:
        raise ValueError(f"{os.fspath(path)} is not a neighbours file of format {FORMAT_VERSION}")
    words = {key: tuple(found) for key, found in body.pop("neighbours").items()}
    return words, body


def main(argv: list[str] | None = None) -> int:
    from training.models.tagger import minilm_folder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", required=True)
    parser.add_argument("--encoder", help="a BERT folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--per-word", type=int, default=10)
    parser.add_argument("--min-cosine", type=float, default=0.3)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if Path(args.output).exists() and not args.overwrite:
        print(f"error: {args.output} exists (pass --overwrite)", file=sys.stderr)
        return 2
    encoder = Path(args.encoder) if args.encoder else minilm_folder()
    words, vectors = encoder_vocabulary(encoder)
    neighbours = build_neighbours(
        words,
        vectors,
        Lexicon.load(),
        per_word=args.per_word,
        min_cosine=args.min_cosine,
    )
    save_neighbours(
        neighbours,
        args.output,
        encoder=str(encoder) if args.encoder else "all-MiniLM-L6-v2",
        per_word=args.per_word,
        min_cosine=args.min_cosine,
    )
    logger.info("%d headwords with neighbours -> %s", len(neighbours), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

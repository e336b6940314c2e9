"""Counting a small trigram language model (stupid backoff) for the baselines and the tagger.

    python -m training.tagger.ngram --corpus ../shared/corpus --output runs/ngram [--max-words N]

Counts are kept in sorted numpy arrays and looked up by binary search, so a model of the whole
train split (about 27 M tokens) builds in a couple of minutes and loads in a second. Tokens are
those of :func:`restore.text.tokenize`, lower-cased, numbers as ``<num>``; each paragraph is
``<s> <s> tokens </s>``. Words seen fewer than ``min_count`` times become ``<unk>``, and n-grams
seen fewer than ``min_count`` times are pruned.

Scores are stupid backoff; :mod:`restore.tagger.ngram` reads and queries the saved model (the tagger
ships a pruned copy in its model directory, so the restorer can score candidates offline).
Why not KenLM: its Python wheel builds here, but it only queries models; estimating one needs the
``lmplz`` program from a C++ build with Boost.

Output folder: ``vocab.txt`` (one token per line, id = line number), ``counts.npz`` and
``manifest.json`` (settings, sizes, the documents read).

>>> model = build_ngram_model(["The cat sat.", "The cat ran."], min_count=1)
>>> model.logscore(("<s>", "the"), "cat") > model.logscore(("<s>", "the"), "ran")
True
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import sys
import time
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from restore.tagger.ngram import (
    BACKOFF,
    BOS,
    EOS,
    FORMAT_VERSION,
    NUM,
    SPECIALS,
    UNK,
    NgramError,
    NgramModel,
    lm_tokens,
    load_ngram_model,
)
from restore.text import split_paragraphs

__all__ = [
    "BOS",
    "EOS",
    "NUM",
    "UNK",
    "NgramError",
    "NgramModel",
    "build_ngram_model",
    "lm_tokens",
    "load_ngram_model",
]

logger = logging.getLogger(__name__)


def token_stream(
    paragraphs: Iterable[str], *, max_words: int = 0, ends: int = 1
) -> tuple[np.ndarray, dict[str, int], int, int]:
    """Every paragraph's tokens (:func:`restore.tagger.ngram.lm_tokens`) as ids, one stream:
    ``<s> <s> tokens`` and ``ends`` times ``</s>`` each, stopping once ``max_words`` tokens were
    read (0: no limit). Returns the ids (int64), the id of each token (the specials first), and
    how many paragraphs and tokens were read."""
    ids_of: dict[str, int] = {t: i for i, t in enumerate(SPECIALS)}
    stream = array("i")
    bos, eos = ids_of[BOS], ids_of[EOS]
    paragraphs_read = words = 0
    for text in paragraphs:
        tokens = lm_tokens(text)
        if not tokens:
            continue
        stream.extend((bos, bos))
        stream.extend(ids_of.setdefault(t, len(ids_of)) for t in tokens)
        stream.extend((eos,) * ends)
        paragraphs_read += 1
        words += len(tokens)
        if max_words and words >= max_words:
            break
    return np.frombuffer(stream, dtype=np.int32).astype(np.int64), ids_of, paragraphs_read, words


def build_ngram_model(
    paragraphs: Iterable[str], *, min_count: int = 2, max_words: int = 0
) -> NgramModel:
    """Count a trigram model over paragraphs of text, stopping after ``max_words`` tokens
    (0: no limit)."""
    started = time.time()
    ids, raw_ids, paragraphs_read, _ = token_stream(paragraphs, max_words=max_words, ends=1)
    if not paragraphs_read:
        raise NgramError("no text to count")
    counts = np.bincount(ids, minlength=len(raw_ids))
    keep = counts >= min_count
    keep[: len(SPECIALS)] = True
    # Renumber kept words 0..V-1 in raw order; everything else is <unk> (id 0).
    new_id = np.where(keep, np.cumsum(keep) - 1, 0)
    ids = new_id[ids]
    raw_vocab = list(raw_ids)
    vocab = [w for w, k in zip(raw_vocab, keep) if k]
    size = len(vocab)
    unigrams = np.bincount(ids, minlength=size)
    bigram_keys, bigram_counts = _count(ids[:-1] * size + ids[1:], min_count)
    trigram_keys, trigram_counts = _count((ids[:-2] * size + ids[1:-1]) * size + ids[2:], min_count)
    manifest = {
        "format": FORMAT_VERSION,
        "order": 3,
        "smoothing": "stupid backoff",
        "backoff": BACKOFF,
        "min_count": min_count,
        "max_words": max_words,
        "paragraphs": paragraphs_read,
        "tokens": int(len(ids) - 3 * paragraphs_read),
        "vocab_size": size,
        "bigrams": int(len(bigram_keys)),
        "trigrams": int(len(trigram_keys)),
        "seconds": round(time.time() - started, 1),
    }
    arrays = {
        "unigrams": unigrams,
        "bigram_keys": bigram_keys,
        "bigram_counts": bigram_counts,
        "trigram_keys": trigram_keys,
        "trigram_counts": trigram_counts,
    }
    return NgramModel(vocab, arrays, manifest)


def iter_corpus_paragraphs(corpus: str | Path, split: str) -> Iterator[str]:
    """Paragraphs of one split of a corpus folder (``*.jsonl.gz``), the files taken in turns
    (one document from each), so a word cap still samples every source."""
    files = sorted(Path(corpus).glob("*.jsonl.gz")) + sorted(Path(corpus).glob("*.jsonl"))
    if not files:
        raise NgramError(f"no *.jsonl(.gz) files in {corpus}")
    readers = [_iter_split_texts(path, split) for path in files]
    while readers:
        for reader in list(readers):
            text = next(reader, None)
            if text is None:
                readers.remove(reader)
                continue
            for start, end in split_paragraphs(text):
                yield text[start:end]


def _iter_split_texts(path: Path, split: str) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if row.get("split") == split:
                    yield row["text"]


def _count(keys: np.ndarray, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    unique, counts = np.unique(keys, return_counts=True)
    keep = counts >= min_count
    return unique[keep], counts[keep].astype(np.int32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tagger.ngram", description=__doc__)
    parser.add_argument("--corpus", required=True, help="folder of *.jsonl.gz news files")
    parser.add_argument("--split", default="train", help="which split to count (default train)")
    parser.add_argument("--output", required=True, help="model folder to write")
    parser.add_argument("--max-words", type=int, default=0, help="token cap (0: the whole split)")
    parser.add_argument("--min-count", type=int, default=2, help="prune rarer words and n-grams")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    output = Path(args.output)
    if (output / "manifest.json").exists() and not args.overwrite:
        print(f"error: {output} holds a model; pass --overwrite to replace it", file=sys.stderr)
        return 2
    try:
        model = build_ngram_model(
            iter_corpus_paragraphs(args.corpus, args.split),
            min_count=args.min_count,
            max_words=args.max_words,
        )
    except NgramError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    model.manifest.update({"corpus": str(args.corpus), "split": args.split})
    model.save(output)
    print(json.dumps(model.manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

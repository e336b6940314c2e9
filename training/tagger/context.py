"""Topic vectors for words from corpus co-occurrence: what a paragraph is about, in numbers.

    python -m training.tagger.context --corpus ../shared/corpus --output runs/context.npz

The trigram model sees two words either side; a spinner's wrong-sense synonym ("party" ->
"celebration" in a story about an election) is often fine there and wrong only for the
paragraph. These vectors carry that wider evidence: words that share paragraphs' neighbours get
nearby vectors, so the cosine between a candidate and the rest of its unit says how well it
fits the topic (:mod:`restore.tagger.context`).

Method (Levy, Goldberg and Dagan, TACL 2015): count each word against the words within
``window`` tokens of it, turn the counts into positive PMI with the context distribution
smoothed (exponent 0.75), and keep the top ``dims`` singular vectors (``U sqrt(S)``),
normalised. The most frequent words are not contexts (they carry grammar, not topic).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from itertools import islice

import numpy as np

from restore.tagger.context import ContextVectors
from restore.tagger.ngram import lm_tokens
from training.tagger.ngram import iter_corpus_paragraphs

logger = logging.getLogger(__name__)


def build_context_vectors(
    paragraphs,
    *,
    words: int = 50_000,
    contexts: int = 20_000,
    skip_frequent: int = 60,
    window: int = 10,
    dims: int = 96,
    min_count: int = 10,
    seed: int = 0,
) -> ContextVectors:
    """Vectors for the ``words`` most frequent alphabetic words seen ``min_count`` times."""
    from scipy import sparse
    from sklearn.utils.extmath import randomized_svd

    docs = [[t for t in lm_tokens(p) if t.isalpha()] for p in paragraphs]
    counts = Counter(t for doc in docs for t in doc)
    ranked = [w for w, c in counts.most_common(words) if c >= min_count]
    index = {w: i for i, w in enumerate(ranked)}
    context_of = {w: i for i, w in enumerate(ranked[skip_frequent : skip_frequent + contexts])}
    # All paragraphs in one array, ``window`` gaps (-1) between them, so each offset is one
    # vectorised pass over the corpus and never pairs words of different paragraphs.
    gap = [None] * window
    stream = [t for doc in docs for t in (*doc, *gap)]
    del docs
    target = np.array([index.get(t, -1) for t in stream], dtype=np.int64)
    context = np.array([context_of.get(t, -1) for t in stream], dtype=np.int64)
    del stream
    shape = (len(ranked), len(context_of))
    total = sparse.csr_matrix(shape, dtype=np.float64)
    for d in range(1, window + 1):
        for a, b in ((target[:-d], context[d:]), (target[d:], context[:-d])):
            keep = (a >= 0) & (b >= 0)
            ones = np.ones(int(keep.sum()))
            total = total + sparse.csr_matrix((ones, (a[keep], b[keep])), shape=shape)
    total = total.tocoo()
    word_sums = np.asarray(total.sum(axis=1)).ravel()
    context_sums = np.asarray(total.sum(axis=0)).ravel() ** 0.75
    pmi = np.log(
        total.data
        * context_sums.sum()
        / (word_sums[total.row] * context_sums[total.col]).clip(min=1e-12)
    )
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (total.row[keep], total.col[keep])), shape=shape)
    u, s, _ = randomized_svd(ppmi, n_components=dims, random_state=seed)
    vectors = u * np.sqrt(s)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-8)
    return ContextVectors(ranked, vectors.astype(np.float16))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tagger.context", description=__doc__)
    parser.add_argument("--corpus", required=True, help="folder of *.jsonl.gz news files")
    parser.add_argument("--split", default="train")
    parser.add_argument("--output", required=True, help="file to write (.npz)")
    parser.add_argument("--max-paragraphs", type=int, default=0, help="0: the whole split")
    parser.add_argument("--dims", type=int, default=96)
    parser.add_argument("--window", type=int, default=10)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.time()
    paragraphs = iter_corpus_paragraphs(args.corpus, args.split)
    if args.max_paragraphs:
        paragraphs = islice(paragraphs, args.max_paragraphs)
    vectors = build_context_vectors(paragraphs, dims=args.dims, window=args.window)
    vectors.save(args.output)
    logger.info(
        "%d words x %d dims in %.0f s -> %s",
        len(vectors.words),
        vectors.vectors.shape[1],
        time.time() - started,
        args.output,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

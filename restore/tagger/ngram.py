"""Querying a count-based trigram model (stupid backoff), the read side of
``training.tagger.ngram``.

Counts are kept in sorted numpy arrays and looked up by binary search. Tokens are those of
:func:`restore.text.tokenize`, lower-cased, numbers as ``<num>``; each paragraph is
``<s> <s> tokens </s>``. Scores are stupid backoff (Brants et al., 2007): relative frequencies,
backing off with a factor of 0.4 per order; not normalised, which is fine for comparing
candidate words in one context.

The restorer scores many candidates at once, so :meth:`NgramModel.logscores` takes arrays of
trigram ids and answers with one vectorised lookup.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from restore.text import Token, tokenize

FORMAT_VERSION = 1
BOS, EOS, UNK, NUM = "<s>", "</s>", "<unk>", "<num>"
SPECIALS = (UNK, BOS, EOS, NUM)
BACKOFF = 0.4
_LOG_BACKOFF = math.log(BACKOFF)


class NgramError(RuntimeError):
    """A model folder is missing, of an unknown format, or the input holds no text."""


def lm_token(token: Token) -> str:
    """The one rule for what the model reads of a token: a lower-cased word or punctuation mark,
    a number as ``<num>``."""
    return NUM if token.kind == "number" else token.text.lower()


def lm_tokens(text: str) -> list[str]:
    """The tokens the model reads of ``text`` (:func:`lm_token` of each).

    >>> lm_tokens("Prices rose 3.5% on Monday.")
    ['prices', 'rose', '<num>', '%', 'on', 'monday', '.']
    """
    return [lm_token(t) for t in tokenize(text)]


class NgramModel:
    """Trigram counts with stupid-backoff scores (``training.tagger.ngram.build_ngram_model`` counts
    them; :func:`load_ngram_model` reads a saved folder)."""

    def __init__(self, vocab: Sequence[str], arrays: dict[str, np.ndarray], manifest: dict):
        self.vocab = list(vocab)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.manifest = manifest
        self._unigrams = arrays["unigrams"].astype(np.int64, copy=False)
        self._bigram_keys = arrays["bigram_keys"].astype(np.int64, copy=False)
        self._bigram_counts = arrays["bigram_counts"]
        self._trigram_keys = arrays["trigram_keys"].astype(np.int64, copy=False)
        self._trigram_counts = arrays["trigram_counts"]
        self._size = len(self.vocab)
        self._total = int(self._unigrams.sum())
        self._unk = self.ids[UNK]
        # Per site key, like InverseTable.originals: the common keys stay, the memory bounded.
        self.phrases_ids = functools.lru_cache(maxsize=1 << 14)(self._phrases_ids)

    def id_of(self, token: str) -> int:
        return self.ids.get(token, self._unk)

    def _phrases_ids(self, phrases: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The token ids of many phrases end to end, and each phrase's length (cached as
        ``phrases_ids``: a site's originals come as one tuple from the inverse table)."""
        ids, unk = self.ids, self._unk
        split = [p.split(" ") for p in phrases]
        flat = np.array([ids.get(t, unk) for words in split for t in words], dtype=np.int64)
        return flat, np.array([len(words) for words in split], dtype=np.int64)

    def logscore(self, context: tuple[str, str], word: str) -> float:
        """Natural-log stupid-backoff score of ``word`` after the two ``context`` tokens."""
        u, v = (self.id_of(t) for t in context)
        return self.logscore_ids(u, v, self.id_of(word))

    def logscore_ids(self, u: int, v: int, w: int) -> float:
        return float(self.logscores(np.array([u]), np.array([v]), np.array([w]))[0])

    def logscores(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Scores of many trigrams ``(u[k], v[k], w[k])`` of token ids at once."""
        u, v, w = (np.asarray(a, dtype=np.int64) for a in (u, v, w))
        size = self._size
        c_uvw = _lookup(self._trigram_keys, self._trigram_counts, (u * size + v) * size + w)
        c_uv = _lookup(self._bigram_keys, self._bigram_counts, u * size + v)
        c_vw = _lookup(self._bigram_keys, self._bigram_counts, v * size + w)
        known = w != self._unk
        unigram = np.where(known, self._unigrams[w], 0.5)  # an unknown word: rarer than any
        with np.errstate(divide="ignore", invalid="ignore"):
            tri = np.log(c_uvw / np.maximum(c_uv, 1))
            bi = _LOG_BACKOFF + np.log(c_vw / np.maximum(self._unigrams[v], 1))
        uni = 2 * _LOG_BACKOFF + np.log(unigram / self._total)
        return np.where(known & (c_uvw > 0), tri, np.where(known & (c_vw > 0), bi, uni))

    def span_ids(self, left: Sequence[str], middle: Sequence[str], right: Sequence[str]) -> list:
        """The token ids :meth:`score_span` scores: two of ``left``, ``middle``, two of
        ``right`` (``<s>`` pads the start, ``</s>`` follows a short ``right``)."""
        ids = [self.ids[BOS], self.ids[BOS]] + [self.id_of(t) for t in left[-2:]]
        ids = ids[-2:]
        ids.extend(self.id_of(t) for t in middle)
        ids.extend(self.id_of(t) for t in right[:2])
        if len(right) < 2:
            ids.append(self.ids[EOS])
        return ids

    def score_span(self, left: Sequence[str], middle: Sequence[str], right: Sequence[str]) -> float:
        """Summed scores of ``middle`` and of the two tokens after it, given ``left``.

        Two candidates for one place compare by this score: the terms it leaves out are the
        same for both.
        """
        return float(self.score_spans([(left, middle, right)])[0])

    def score_spans(self, spans: Sequence[tuple[Sequence[str], ...]]) -> np.ndarray:
        """:meth:`score_span` of many ``(left, middle, right)`` triples in one lookup."""
        us, vs, ws, owner = [], [], [], []
        for k, (left, middle, right) in enumerate(spans):
            ids = self.span_ids(left, middle, right)
            for j in range(2, len(ids)):
                us.append(ids[j - 2])
                vs.append(ids[j - 1])
                ws.append(ids[j])
                owner.append(k)
        if not us:
            return np.zeros(len(spans))
        scores = self.logscores(np.array(us), np.array(vs), np.array(ws))
        return np.bincount(np.array(owner), weights=scores, minlength=len(spans))

    def save(self, folder: str | Path) -> None:
        """Write ``vocab.txt``, ``counts.npz`` and ``manifest.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        np.savez_compressed(
            folder / "counts.npz",
            unigrams=self._unigrams,
            bigram_keys=self._bigram_keys,
            bigram_counts=self._bigram_counts,
            trigram_keys=self._trigram_keys,
            trigram_counts=self._trigram_counts,
        )
        with open(folder / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(self.manifest, fh, indent=2)

    def pruned(self, min_count: int) -> NgramModel:
        """A copy without the bigrams and trigrams seen fewer than ``min_count`` times."""
        bi = self._bigram_counts >= min_count
        tri = self._trigram_counts >= min_count
        arrays = {
            "unigrams": self._unigrams,
            "bigram_keys": self._bigram_keys[bi],
            "bigram_counts": self._bigram_counts[bi],
            "trigram_keys": self._trigram_keys[tri],
            "trigram_counts": self._trigram_counts[tri],
        }
        manifest = {
            **self.manifest,
            "pruned_min_count": min_count,
            "bigrams": int(bi.sum()),
            "trigrams": int(tri.sum()),
        }
        return NgramModel(self.vocab, arrays, manifest)


def load_ngram_model(folder: str | Path) -> NgramModel:
    """Load a model saved by :meth:`NgramModel.save`; raises :class:`NgramError`."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        vocab = (folder / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
        with np.load(folder / "counts.npz") as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise NgramError(f"cannot load an n-gram model from {folder}: {err}") from err
    if manifest.get("format") != FORMAT_VERSION:
        raise NgramError(
            f"{folder}: n-gram format {manifest.get('format')!r}, this code reads "
            f"{FORMAT_VERSION}; rebuild it with python -m training.tagger.ngram"
        )
    return NgramModel(vocab, arrays, manifest)


def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(query), dtype=np.float64)
    # Looked up once each and in order: a unit's candidates share most of their contexts, and
    # binary searches for sorted needles stay in cache.
    distinct, back = np.unique(query, return_inverse=True)
    i = np.minimum(np.searchsorted(keys, distinct), len(keys) - 1)
    return np.where(keys[i] == distinct, counts[i], 0).astype(np.float64)[back]

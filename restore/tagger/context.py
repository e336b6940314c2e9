"""How well a word fits its paragraph's topic: cosines of corpus co-occurrence vectors.

``training.tagger.context`` builds the vectors (positive PMI of words within ten tokens of each
other, reduced by SVD); the tagger ships them and gives each candidate original its fit with the
rest of the unit as evidence, beside the trigram gain, which sees only two words either side.

>>> import numpy as np
>>> vectors = ContextVectors(
...     ["election", "vote", "party", "cake", "celebration"],
...     np.array([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1], [0.1, 0.9]], dtype=np.float16),
... )
>>> topic = vectors.topic(["election", "vote"])
>>> vectors.fit("party", topic) > vectors.fit("celebration", topic)
True
>>> vectors.fit("unknownword", topic)
0.0
>>> [round(float(f), 2) for f in vectors.fits(["party", "cake", "vote cake", "nope"], topic)]
[0.81, 0.05, 0.48, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

CONTEXT_FILE = "context.npz"


def unit_length(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 (left at zero when it is zero)."""
    return vector / max(float(np.linalg.norm(vector)), 1e-8)


class ContextVectors:
    """Unit-length vectors for a vocabulary of lower-case words (float16 on disk and here)."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray):
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.words = list(words)
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(self.words)}
        # Per site key, like InverseTable.originals: the common keys stay, the memory bounded.
        self.phrase_rows = lru_cache(maxsize=1 << 14)(self._phrase_rows)

    def topic(self, words: Iterable[str]) -> np.ndarray:
        """The unit-length sum of the known words' vectors (zeros when none is known)."""
        ids = [self.index[w] for w in words if w in self.index]
        return unit_length(self.vectors[ids].astype(np.float32).sum(axis=0))

    def fit(self, phrase: str, topic: np.ndarray) -> float:
        """Cosine-like fit of ``phrase`` (the mean of its known words) with a :meth:`topic`
        vector; 0 when either is unknown."""
        return float(self.fits([phrase], topic)[0])

    def fits(self, phrases: Sequence[str], topic: np.ndarray) -> np.ndarray:
        """:meth:`fit` of each phrase, all in one gather (the tagger asks for dozens of
        candidates per site)."""
        rows, owner = self.phrase_rows(tuple(phrases))
        n = len(phrases)
        if not len(rows):
            return np.zeros(n, dtype=np.float32)
        dots = self.vectors[rows].astype(np.float32) @ topic
        sums = np.bincount(owner, weights=dots, minlength=n)
        counts = np.bincount(owner, minlength=n)
        return (sums / np.maximum(counts, 1)).astype(np.float32)

    def _phrase_rows(self, phrases: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The vector rows of the known words of ``phrases``, and the phrase each belongs to
        (cached as ``phrase_rows``: a site asks with the same originals every time)."""
        rows: list[int] = []
        owner: list[int] = []
        for i, phrase in enumerate(phrases):
            for word in phrase.split():
                j = self.index.get(word)
                if j is not None:
                    rows.append(j)
                    owner.append(i)
        return np.array(rows, dtype=np.int64), np.array(owner, dtype=np.int64)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path, words=np.array(self.words, dtype=object).astype(str), vectors=self.vectors
        )

    @classmethod
    def load(cls, path: str | Path) -> ContextVectors:
        with np.load(path, allow_pickle=False) as data:
            return cls(data["words"].tolist(), data["vectors"])

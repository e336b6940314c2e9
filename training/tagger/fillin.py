"""A both-sides fill-in count model (orders 1-5) for choosing a spun word's original, a
measurement of what it adds to the tagger's chooser (issue 20), and the words the corpus puts
between two given words (:class:`GapWords`: originals no thesaurus need list).

The tagger's count evidence is a left-to-right trigram gain (``restore.tagger.input._lm_gains``).
Choosing the original is a fill-in-the-blank problem, so :class:`FillIn` scores a candidate
``c`` (a word or phrase) by the patterns around the blank that contain it, up to two tokens each
side, with stupid backoff (Brants et al., 2007) from the longest to the shortest:

====== ==================================
level  patterns (counted as n-grams)
====== ==================================
4      ``l2 l1 c r1 r2``
3      ``l2 l1 c r1`` + ``l1 c r1 r2``
2      ``l1 c r1``
1      ``l1 c`` + ``c r1``
0      ``c``
====== ==================================

Scores compare the candidates of one site, so a level's relative frequency is taken against
the level's count summed over the site's candidates (the both-sides context count, the true
denominator, is a skip-gram that is not stored, and it would be the same for every candidate
anyway). A candidate scores ``log(share) + level_drop * log(0.4)`` at the highest level where
it is seen; one seen nowhere gets half a count at level 0. A pattern longer than five tokens (a
phrase candidate in wide context) is not stored and reads as unseen, so it backs off.

Counts: tokens are :func:`restore.tagger.ngram.lm_tokens` of each paragraph of the train split,
padded ``<s> <s> tokens </s> </s>``; every word is kept (unknown query words read as ``<unk>``,
which is never counted); n-grams of orders 2-5 are hashed to ``uint64`` (:func:`ngram_keys`),
counted with ``np.unique`` and pruned below ``min_count``; sorted keys are looked up with
``np.searchsorted``. Unigram counts are exact.

>>> model = count_fillin(["The cat sat on the mat.", "The dog sat on the rug."], min_count=1)
>>> model.count(["the", "cat", "sat", "on", "the"])
1
>>> scores = model.scores(["<s>", "the"], ["cat", "dog", "rug"], ["sat", "on"])
>>> [round(float(s), 3) for s in scores]
[-0.693, -0.693, -4.358]
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restore.tagger.ngram import BOS, EOS, UNK, lm_token, lm_tokens
from training.tagger.edit_rule import spun_units
from training.tagger.ngram import token_stream

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
ORDER = 5
BACKOFF = 0.4
_LOG_BACKOFF = math.log(BACKOFF)
# (left tokens, right tokens) of each pattern, grouped by level, highest first.
LEVELS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((2, 2),),
    ((2, 1), (1, 2)),
    ((1, 1),),
    ((1, 0), (0, 1)),
    ((0, 0),),
)
# Odd 64-bit constant (the golden ratio's); each step of the hash is a bijection of the state.
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(31)
# Weights tried for the mixes network + w * evidence.
WEIGHTS = tuple(round(0.05 * k, 2) for k in range(41))


class FillInError(RuntimeError):
    """A counts file is missing, of an unknown format, or there is no text to count."""


def ngram_keys(columns: Sequence[np.ndarray]) -> np.ndarray:
    """``uint64`` keys of the n-grams whose k-th token ids are ``columns[k]`` (the order is
    mixed into the seed, so n-grams of different orders never share a key by construction).

    >>> a, b = np.array([3, 4]), np.array([4, 3])
    >>> keys = ngram_keys([a, b])
    >>> bool(keys[0] != keys[1])
    True
    """
    h = np.full(len(columns[0]), len(columns), dtype=np.uint64)
    for column in columns:
        h = (h ^ np.asarray(column).astype(np.uint64)) * _MULT
        h ^= h >> _SHIFT
    return h


class FillIn:
    """Counts of n-grams of orders 1-5 with both-sides fill-in scores (see the module
    docstring); :func:`count_fillin` counts them, :func:`load_fillin` reads a saved file."""

    def __init__(
        self,
        vocab: Sequence[str],
        unigrams: np.ndarray,
        tables: Mapping[int, tuple[np.ndarray, np.ndarray]],
        manifest: Mapping[str, Any],
    ):
        self.vocab = list(vocab)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.unigrams = np.asarray(unigrams, dtype=np.int64)
        self.tables = {n: (keys, counts) for n, (keys, counts) in tables.items()}
        self.manifest = dict(manifest)
        self._unk = self.ids[UNK]
        self._phrase = functools.lru_cache(maxsize=1 << 16)(self._phrase_ids)

    def id_of(self, token: str) -> int:
        return self.ids.get(token, self._unk)

    def _phrase_ids(self, phrase: str) -> tuple[int, ...]:
        """Token ids of a candidate as the corpus was read (``lm_tokens``: "u.s." is 4 tokens)."""
        return tuple(self.id_of(t) for t in lm_tokens(phrase)) or (self._unk,)

    def count(self, tokens: Sequence[str]) -> int:
        """How often ``tokens`` (1 to 5 of them) occur in the counted text (0 if pruned)."""
        return int(self._counts([[self.id_of(t) for t in tokens]])[0])

    def _counts(self, grams: Sequence[Sequence[int]]) -> np.ndarray:
        """Counts of many n-grams of token ids (0 for pruned, unknown or over-long ones), one
        vectorised lookup per order."""
        out = np.zeros(len(grams), dtype=np.float64)
        by_order: dict[int, list[int]] = {}
        for k, gram in enumerate(grams):
            by_order.setdefault(len(gram), []).append(k)
        for n, where in by_order.items():
            rows = np.array([grams[k] for k in where], dtype=np.int64).reshape(len(where), n)
            if n == 1:
                out[where] = self.unigrams[rows[:, 0]]
            elif n in self.tables:
                keys, counts = self.tables[n]
                out[where] = _lookup(keys, counts, ngram_keys(list(rows.T)))
        # <unk> is never counted, so any n-gram with it reads as unseen.
        return out

    def scores(
        self, left: Sequence[str], candidates: Sequence[str], right: Sequence[str]
    ) -> np.ndarray:
        """Natural-log fill-in scores of ``candidates`` for the blank after ``left`` and before
        ``right`` (the last two and first two tokens are read; ``<s>`` / ``</s>`` pad)."""
        return self.score_sites([(left, candidates, right)])[0]

    def score_sites(
        self, sites: Sequence[tuple[Sequence[str], Sequence[str], Sequence[str]]]
    ) -> list[np.ndarray]:
        """:meth:`scores` of many ``(left, candidates, right)`` sites in one lookup."""
        grams: list[tuple[int, ...]] = []
        cells: list[tuple[int, int]] = []  # (candidate row, level) of each gram
        row = 0
        for left, candidates, right in sites:
            lids = ([self.ids[BOS]] * 2 + [self.id_of(t) for t in left[-2:]])[-2:]
            rids = ([self.id_of(t) for t in right[:2]] + [self.ids[EOS]] * 2)[:2]
            for cand in candidates:
                middle = self._phrase(cand)
                for level, patterns in enumerate(LEVELS):
                    for a, b in patterns:
                        gram = (*lids[2 - a :], *middle, *rids[:b])
                        if len(gram) <= ORDER:
                            grams.append(gram)
                            cells.append((row, level))
                row += 1
        table = np.zeros((row, len(LEVELS)))
        if grams:
            where = np.array(cells)
            np.add.at(table, (where[:, 0], where[:, 1]), self._counts(grams))
        out, at = [], 0
        for _, candidates, _ in sites:
            out.append(_backoff(table[at : at + len(candidates)]))
            at += len(candidates)
        return out

    def save(self, path: str | Path) -> None:
        """Write the counts, vocabulary and manifest into one ``.npz`` file."""
        arrays: dict[str, np.ndarray] = {
            "vocab": np.frombuffer("\n".join(self.vocab).encode("utf-8"), dtype=np.uint8),
            "unigrams": self.unigrams,
            "manifest": np.frombuffer(json.dumps(self.manifest).encode("utf-8"), dtype=np.uint8),
        }
        for n, (keys, counts) in self.tables.items():
            arrays[f"keys_{n}"] = keys
            arrays[f"counts_{n}"] = counts
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:  # a file object: np.savez would append ".npz" to a path
            np.savez(fh, **arrays)


def _backoff(table: np.ndarray) -> np.ndarray:
    """Stupid-backoff log scores of one site's candidates from their counts per level
    (``table[candidate, level]``, level 0 the longest): each candidate's share of its highest
    seen level among the candidates, times 0.4 per level dropped."""
    if not len(table):
        return np.zeros(0)
    # Half a count at the shortest level for a candidate seen nowhere (an unknown word).
    last = table[:, -1]
    table = table.copy()
    table[:, -1] = np.where(last > 0, last, 0.5)
    seen = table > 0
    level = np.argmax(seen, axis=1)  # the first (longest) level with a count
    totals = table.sum(axis=0)
    rows = np.arange(len(table))
    return np.log(table[rows, level] / totals[level]) + level * _LOG_BACKOFF


def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(query))
    i = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[i] == query, counts[i], 0).astype(np.float64)


def count_fillin(
    paragraphs: Iterable[str], *, min_count: int = 2, max_words: int = 0, order: int = ORDER
) -> FillIn:
    """Count n-grams of orders 1 to ``order`` over paragraphs of text, stopping after
    ``max_words`` tokens (0: no limit); n-grams of order 2+ seen under ``min_count`` times are
    pruned."""
    started = time.time()
    ids, ids_of, paragraphs_read, words = token_stream(paragraphs, max_words=max_words, ends=2)
    if not paragraphs_read:
        raise FillInError("no text to count")
    unigrams = np.bincount(ids, minlength=len(ids_of))
    tables = {}
    for n in range(2, order + 1):
        keys = ngram_keys([ids[i : len(ids) - n + 1 + i] for i in range(n)])
        unique, counts = np.unique(keys, return_counts=True)
        del keys
        keep = counts >= min_count
        tables[n] = (unique[keep], counts[keep].astype(np.uint32))
        logger.info("order %d: %d n-grams kept of %d", n, int(keep.sum()), len(unique))
    manifest = {
        "format": FORMAT_VERSION,
        "order": order,
        "min_count": min_count,
        "max_words": max_words,
        "paragraphs": paragraphs_read,
        "tokens": words,
        "vocab_size": len(ids_of),
        "ngrams": {str(n): int(len(k)) for n, (k, _) in tables.items()},
        "seconds": round(time.time() - started, 1),
    }
    return FillIn(list(ids_of), unigrams, tables, manifest)


def load_fillin(path: str | Path) -> FillIn:
    """Load counts saved by :meth:`FillIn.save`; raises :class:`FillInError`."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
        manifest = json.loads(arrays["manifest"].tobytes().decode("utf-8"))
        vocab = arrays["vocab"].tobytes().decode("utf-8").split("\n")
    except (OSError, ValueError, KeyError) as err:
        raise FillInError(f"cannot load fill-in counts from {path}: {err}") from err
    if manifest.get("format") != FORMAT_VERSION:
        raise FillInError(
            f"{path}: fill-in format {manifest.get('format')!r}, this code reads "
            f"{FORMAT_VERSION}; count it again with scripts/fillin_signals.py --build"
        )
    tables = {
        int(name.split("_")[1]): (arrays[name], arrays["counts_" + name.split("_")[1]])
        for name in arrays
        if name.startswith("keys_")
    }
    return FillIn(vocab, arrays["unigrams"], tables, manifest)


class GapWords:
    """The words seen between two tokens in the counted text, most often first: originals that
    no thesaurus entry need list, proposed by the corpus alone (``l1 _ r1``).

    :func:`count_gaps` counts them; each ``(left, right)`` pair's words are one sorted run of
    the arrays, found with ``np.searchsorted``.

    >>> gaps = count_gaps(["The cat sat on the mat.", "The dog sat on the rug.", "A cat sat."])
    >>> gaps.fills("the", "sat", 5)
    ['cat', 'dog']
    >>> gaps.fills("the", "nothing", 5), gaps.fills("<s>", "cat", 2)
    ([], ['the', 'a'])
    """

    def __init__(self, vocab: Sequence[str], pairs: np.ndarray, words: np.ndarray):
        self.vocab = list(vocab)
        self.ids = {w: i for i, w in enumerate(self.vocab)}
        self.pairs = pairs  # left id * len(vocab) + right id, sorted
        self.words = words  # the middle word of each (pair, word), the most often seen first

    def fills(self, left: str, right: str, limit: int) -> list[str]:
        """Up to ``limit`` words seen between ``left`` and ``right`` (tokens as
        :func:`restore.tagger.ngram.lm_tokens` reads them), the most often seen first."""
        a, b = self.ids.get(left), self.ids.get(right)
        if a is None or b is None or limit < 1:
            return []
        pair = a * len(self.vocab) + b
        lo = int(np.searchsorted(self.pairs, pair))
        hi = min(int(np.searchsorted(self.pairs, pair, side="right")), lo + limit)
        return [self.vocab[i] for i in self.words[lo:hi].tolist()]


def count_gaps(paragraphs: Iterable[str], *, max_words: int = 0) -> GapWords:
    """Count every ``left word right`` triple of tokens over paragraphs of text (padded as
    :func:`count_fillin` pads them), stopping after ``max_words`` tokens (0: no limit). Any
    token is context; only words (tokens that begin with a letter: no marks, numbers or pads)
    fill a gap."""
    ids, ids_of, paragraphs_read, _ = token_stream(paragraphs, max_words=max_words, ends=2)
    if not paragraphs_read:
        raise FillInError("no text to count")
    size = len(ids_of)
    pairs = ids[:-2] * size + ids[2:]
    unique, counts = np.unique(pairs * size + ids[1:-1], return_counts=True)
    pairs, words = unique // size, unique % size
    is_word = np.array([t[:1].isalpha() for t in ids_of], dtype=bool)
    keep = is_word[words]
    pairs, words, counts = pairs[keep], words[keep], counts[keep]
    # Within a pair, the most often seen word first (ties: in id order, the order first read).
    order = np.lexsort((words, -counts, pairs))
    return GapWords(list(ids_of), pairs[order], words[order])


# -- measurement ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SiteChoice:
    """One reachable spun site: each signal's scores of its candidates, and the original's
    index ``want``."""

    network: np.ndarray
    counts: np.ndarray
    fillin: np.ndarray
    want: int


def site_context(unit, site) -> tuple[list[str], list[str]]:
    """The two spun tokens before and after a site (as the counts read them)."""
    left = [lm_token(t) for t in unit.tokens[max(site.first - 2, 0) : site.first]]
    right = [lm_token(t) for t in unit.tokens[site.last + 1 : site.last + 3]]
    return left, right


def collect_choices(
    restorer, fillin: FillIn, rows: Sequence[Mapping[str, Any]], *, batch: int = 32
) -> list[SiteChoice]:
    """A :class:`SiteChoice` for each reachable spun site of ``rows`` (pair rows), the network
    read by ``restorer``'s engine in the spun text, the counts in the spun context."""
    engine = restorer.runtime.engine
    units, golds = zip(*spun_units(restorer, rows)) if rows else ((), ())
    choices = []
    for first in range(0, len(units), batch):
        chunk, gold_chunk = units[first : first + batch], golds[first : first + batch]
        _, log_probs = engine.forward(chunk)
        found, at = [], 0
        for unit, gold in zip(chunk, gold_chunk):
            for k, site in enumerate(unit.sites):
                original = gold.get((site.start, site.end))
                if original in site.candidates:
                    own = log_probs[at + k][: len(site.candidates)]
                    found.append((unit, site, own, site.candidates.index(original)))
            at += len(unit.sites)
        contexts = [site_context(unit, site) for unit, site, _, _ in found]
        fills = fillin.score_sites(
            [
                (left, site.candidates, right)
                for (left, right), (_, site, *_) in zip(contexts, found)
            ]
        )
        for (_, site, own, want), fill in zip(found, fills):
            choices.append(SiteChoice(own, site.features[:, 0].astype(np.float64), fill, want))
    return choices


def share_right(choices: Sequence[SiteChoice], score) -> float:
    """The share of ``choices`` where ``score(choice)`` ranks the original first."""
    right = sum(int(np.argmax(score(c)) == c.want) for c in choices)
    return right / max(len(choices), 1)


def best_weight(
    choices: Sequence[SiteChoice], evidence: str, weights: Sequence[float] = WEIGHTS
) -> float:
    """The ``w`` of ``weights`` for which network + w * ``evidence`` ("fillin" or "counts")
    ranks the most originals first (the smallest such ``w`` on ties)."""
    shares = [
        share_right(choices, lambda c, w=w: c.network + w * getattr(c, evidence)) for w in weights
    ]
    return float(weights[int(np.argmax(shares))])


def choice_shares(
    choices: Sequence[SiteChoice], *, fillin_weight: float, counts_weight: float
) -> dict[str, float]:
    """``reachable`` and the share of reachable sites each signal gets right: ``network``,
    ``counts`` (the trigram gain), ``fillin``, ``network_fillin`` (network log-prob +
    ``fillin_weight`` * fill-in score) and, as a control, ``network_counts`` (+
    ``counts_weight`` * trigram gain, the evidence the network already reads)."""
    return {
        "reachable": len(choices),
        "network": share_right(choices, lambda c: c.network),
        "counts": share_right(choices, lambda c: c.counts),
        "fillin": share_right(choices, lambda c: c.fillin),
        "network_fillin": share_right(choices, lambda c: c.network + fillin_weight * c.fillin),
        "network_counts": share_right(choices, lambda c: c.network + counts_weight * c.counts),
    }

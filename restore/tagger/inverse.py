"""The inverse thesaurus a tagger model ships: for a word a spinner may have written, every
word or phrase whose thesaurus entry lists it, in the same inflection.

A spinner replaces an original by one of the original's thesaurus entries, so the originals of
a spun word are the headwords that list it. ``training.tagger.inverse`` builds this table from
the training lexicon (WordNet and Moby relations, all senses, inflected with lemminflect), and
the restorer reads it without the lexicon or lemminflect. Each entry keeps the headwords' Zipf
frequencies (wordfreq): frequency is a prior for the model, not a cage. A table may also keep,
per original, how its thesaurus entry lists the key (:data:`RELATIONS`, and how many words the
entry lists under each): a word among a handful of synonyms is a likelier spinner's pick than
one of two hundred related words, so the relation is a prior too
(:mod:`restore.tagger.choice_rule`).

The table is stored as arrays (one string list, offsets, candidate ids and frequencies in a
compressed ``.npz``), so a table of 130k keys and 2.5 M originals loads in about a second and
takes tens of megabytes rather than a gigabyte of Python tuples.

>>> from restore.text import tokenize
>>> table = InverseTable({"ejects": (2.1, [("greets", 3.9), ("expels", 2.8)])})
>>> [(s.start, s.end, s.key) for s in table.match(tokenize("She ejects the crowd."))]
[(4, 10, 'ejects')]
>>> table.candidates("ejects")
(('greets', 3.9), ('expels', 2.8))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from restore.candidates import match_keys
from restore.text import Token

INVERSE_FILE = "inverse.npz"
FORMAT_VERSION = 1
# The thesaurus relations an original's entry may list its key under (WordNet's synonyms,
# similar words, hypernyms and hyponyms, and Moby's related words).
RELATIONS = ("syn", "sim", "rel", "hyper", "hypo")
# Per original: one flag per relation, then the log of the entry's word count under it.
RELATION_FEATURES = 2 * len(RELATIONS)
_ENTRY_SIZE_CAP = 65535


@dataclass(frozen=True)
class Originals:
    """A key's first originals as arrays: what building their features reads for every site,
    kept per key so that no site walks its originals one by one in Python."""

    words: tuple[str, ...]
    ids: np.ndarray  # int64: each original's id among the table's words
    zipf: np.ndarray  # float64: as :meth:`InverseTable.candidates` rounds them
    word_counts: np.ndarray  # float64: words in each original


@dataclass(frozen=True)
class Site:
    """``unit[start:end]`` is a table key: a word or phrase a spinner may have written."""

    start: int
    end: int
    key: str


class InverseTable:
    """Key (lower case, tokens joined by spaces) -> (its Zipf frequency, originals with theirs,
    most frequent first)."""

    def __init__(
        self,
        entries: Mapping[str, tuple[float, Sequence[tuple[str, float]]]],
        relations: Mapping[str, Sequence[Mapping[str, int]]] | None = None,
    ):
        """``relations``, if given, holds per key and original ``{relation: the number of words
        the original's entry lists under it}`` for each relation that lists the key."""
        ids: dict[str, int] = {}
        for key, (_, cands) in entries.items():
            ids.setdefault(key, len(ids))
            for cand, _ in cands:
                ids.setdefault(cand, len(ids))
        keys = list(entries)
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        flat: list[int] = []
        flat_zipf: list[float] = []
        sizes: list[list[int]] = []
        for n, key in enumerate(keys):
            flat.extend(ids[c] for c, _ in entries[key][1])
            flat_zipf.extend(float(z) for _, z in entries[key][1])
            offsets[n + 1] = len(flat)
            if relations is not None:
                listed = relations.get(key, ())
                if len(listed) != len(entries[key][1]):
                    raise ValueError(f"relations of {key!r} must match its originals one to one")
                sizes.extend(
                    [min(int(r.get(name, 0)), _ENTRY_SIZE_CAP) for name in RELATIONS]
                    for r in listed
                )
        self._init(
            list(ids),
            np.array([ids[k] for k in keys], dtype=np.int64),
            np.array([entries[k][0] for k in keys], dtype=np.float32),
            offsets,
            np.array(flat, dtype=np.int64),
            np.array(flat_zipf, dtype=np.float32),
            np.array(sizes, dtype=np.uint16).reshape(-1, len(RELATIONS)) if sizes else None,
        )

    def _init(self, words, key_ids, key_zipf, offsets, cands, cand_zipf, sizes=None) -> None:
        # A word's frequency is stored per entry: a form shared by two headwords ("parties")
        # carries the frequency of the headword it came from in each entry.
        self._words = words
        self._key_ids = key_ids
        self._key_zipf = key_zipf
        self._cand_zipf = cand_zipf
        self._offsets = offsets
        self._cands = cands
        # Per original, the entry's word count under each relation listing the key (0: none).
        self._sizes = sizes
        self._rows = {words[i]: n for n, i in enumerate(key_ids.tolist())}
        self.max_words = max((k.count(" ") + 1 for k in self._rows), default=0)
        self.candidates = lru_cache(maxsize=65536)(self._candidates)
        # A key's arrays take about a kilobyte; spun words are Zipfian, so 16k keys hold most
        # sites a long job meets in tens of megabytes.
        self.originals = lru_cache(maxsize=1 << 14)(self._originals)

    def __len__(self) -> int:
        return len(self._rows)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, InverseTable)
            and self.entries() == other.entries()
            and self.has_relations == other.has_relations
            and all(np.array_equal(self.relations(k), other.relations(k)) for k in self._rows)
        )

    @property
    def has_relations(self) -> bool:
        """Whether the table knows how each original's entry lists its key."""
        return self._sizes is not None

    def entries(self) -> dict[str, tuple[float, tuple[tuple[str, float], ...]]]:
        """The whole table as a dict (for tests and tools; the restorer never needs it)."""
        return {key: (self.zipf(key), self.candidates(key)) for key in self._rows}

    def zipf(self, key: str) -> float:
        """The key's own Zipf frequency (0 for a key not in the table)."""
        row = self._rows.get(key)
        return 0.0 if row is None else round(float(self._key_zipf[row]), 2)

    def _candidates(self, key: str) -> tuple[tuple[str, float], ...]:
        """``(original, zipf)`` pairs of a key, most frequent first; empty if unknown."""
        row = self._rows.get(key)
        if row is None:
            return ()
        begin, end = self._offsets[row], self._offsets[row + 1]
        ids = self._cands[begin:end].tolist()
        zipfs = self._cand_zipf[begin:end].tolist()
        return tuple((self._words[i], round(z, 2)) for i, z in zip(ids, zipfs))

    def _originals(self, key: str, limit: int) -> Originals:
        """The first ``limit`` originals of a key as :class:`Originals` (cached as
        ``originals``), read from the arrays: building a site's features must not walk them."""
        row = self._rows.get(key)
        begin = end = 0
        if row is not None:
            begin = int(self._offsets[row])
            end = min(int(self._offsets[row + 1]), begin + limit)
        ids = self._cands[begin:end].astype(np.int64)
        words = tuple(self._words[i] for i in ids.tolist())
        return Originals(
            words,
            ids,
            # np.round gives what candidates()' round gives for every value a table holds
            np.round(self._cand_zipf[begin:end].astype(np.float64), 2),
            np.array([w.count(" ") + 1 for w in words], dtype=np.float64),
        )

    def relations(self, key: str) -> np.ndarray:
        """``(originals, RELATION_FEATURES)`` float32: per original of ``key``, a flag for each
        of :data:`RELATIONS` its entry lists the key under, then the log of the entry's word
        count under that relation (zeros throughout for a table without relations)."""
        row = self._rows.get(key)
        n = 0 if row is None else int(self._offsets[row + 1] - self._offsets[row])
        if n == 0 or self._sizes is None:
            return np.zeros((n, RELATION_FEATURES), dtype=np.float32)
        sizes = self._sizes[self._offsets[row] : self._offsets[row + 1]].astype(np.float32)
        listed = sizes > 0
        return np.concatenate([listed, np.log(np.maximum(sizes, 1.0))], axis=1)

    def match(self, tokens: Sequence[Token]) -> list[Site]:
        """The table's words and phrases among a unit's ``tokens``, longest first, left to
        right; names (capitalised words inside a sentence) are left alone."""
        return [Site(s, e, key) for s, e, key, _ in match_keys(tokens, self._rows, self.max_words)]

    @classmethod
    def load(cls, path: str | Path) -> InverseTable:
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot read an inverse table from {path}: {err}") from err
        if int(arrays.get("format", [-1])[0]) != FORMAT_VERSION:
            raise ValueError(f"{path} is not an inverse table of format {FORMAT_VERSION}")
        table = cls.__new__(cls)
        words = arrays["words"].tobytes().decode("utf-8").split("\n")
        table._init(
            words,
            arrays["key_ids"],
            arrays["key_zipf"],
            arrays["offsets"],
            arrays["cands"],
            arrays["cand_zipf"],
            arrays.get("relation_sizes"),
        )
        return table

    def save(self, path: str | Path) -> None:
        blob = np.frombuffer("\n".join(self._words).encode("utf-8"), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                format=np.array([FORMAT_VERSION]),
                words=blob,
                key_ids=self._key_ids,
                key_zipf=self._key_zipf,
                offsets=self._offsets,
                cands=self._cands,
                cand_zipf=self._cand_zipf,
                **({} if self._sizes is None else {"relation_sizes": self._sizes}),
            )

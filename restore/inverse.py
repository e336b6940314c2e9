"""The inverse thesaurus a tagger model ships: for a word a spinner may have written, every
word or phrase whose thesaurus entry lists it, in the same inflection.

A spinner replaces an original by one of the original's thesaurus entries, so the originals of
a spun word are the headwords that list it. ``training.inverse_table`` builds this table from
the training lexicon (WordNet and Moby relations, all senses, inflected with lemminflect), and
the restorer reads it without the lexicon or lemminflect. Each entry keeps the headwords' Zipf
frequencies (wordfreq): frequency is a prior for the model, not a cage.

>>> table = InverseTable({"ejects": (2.1, [("greets", 3.9), ("expels", 2.8)])})
>>> [(s.start, s.end, s.key) for s in table.match("She ejects the crowd.")]
[(4, 10, 'ejects')]
>>> table.candidates("ejects")
(('greets', 3.9), ('expels', 2.8))
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from restore.candidates import match_keys

INVERSE_FILE = "inverse.json.gz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Site:
    """``unit[start:end]`` is a table key: a word or phrase a spinner may have written."""

    start: int
    end: int
    key: str


class InverseTable:
    """Key (lower case, tokens joined by spaces) -> (its Zipf frequency, originals with theirs,
    most frequent first)."""

    def __init__(self, entries: Mapping[str, tuple[float, Sequence[tuple[str, float]]]]):
        self.entries = {
            k: (float(z), tuple((str(c), float(cz)) for c, cz in cands))
            for k, (z, cands) in entries.items()
        }
        self._keys = {tuple(k.split(" ")): k for k in self.entries}
        self.max_words = max((len(k) for k in self._keys), default=0)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, InverseTable) and self.entries == other.entries

    def zipf(self, key: str) -> float:
        """The key's own Zipf frequency (0 for a key not in the table)."""
        entry = self.entries.get(key)
        return entry[0] if entry else 0.0

    def candidates(self, key: str) -> tuple[tuple[str, float], ...]:
        """``(original, zipf)`` pairs of a key, most frequent first; empty if unknown."""
        entry = self.entries.get(key)
        return entry[1] if entry else ()

    def match(self, unit: str) -> list[Site]:
        """The table's words and phrases in ``unit``, longest first, left to right; names
        (capitalised words inside a sentence) are left alone."""
        return [Site(s, e, key) for s, e, key in match_keys(unit, self._keys, self.max_words)]

    @classmethod
    def load(cls, path: str | Path) -> InverseTable:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or data.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path} is not an inverse table of format {FORMAT_VERSION}")
        return cls({k: (z, [tuple(c) for c in cands]) for k, (z, cands) in data["entries"].items()})

    def save(self, path: str | Path) -> None:
        entries = {
            k: [z, [list(c) for c in cands]] for k, (z, cands) in sorted(self.entries.items())
        }
        data = json.dumps({"format": FORMAT_VERSION, "entries": entries}, ensure_ascii=False)
        # No name and mtime=0 keep the file byte-identical across rebuilds of the same table.
        with open(path, "wb") as fh, gzip.GzipFile("", "wb", fileobj=fh, mtime=0) as raw:
            raw.write(data.encode("utf-8"))

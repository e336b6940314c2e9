"""The candidate table of the ``choices`` and ``tags`` formats: what a spun word most likely
replaced.

A model directory trained in either format holds ``candidates.json.gz``, built
from the training pairs (``python -m training.candidates``). It maps each word or phrase that
our spinner writes to the originals it most often replaced, and keeps only entries that were
mostly spinner output in the training data. :meth:`CandidateTable.match` finds those words in a
unit, longest phrase first and left to right, leaving names alone.

>>> table = CandidateTable({"ejects": (0.9, ["greets", "expels"])})
>>> [(m.start, m.end, m.candidates) for m in table.match("She ejects the crowd.")]
[(4, 10, ('greets', 'expels'))]
>>> match_case("Ejects", "greets")
'Greets'
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from restore.text import Token, is_mid_sentence_capital, tokenize

CANDIDATES_FILE = "candidates.json.gz"
T = TypeVar("T")


@dataclass(frozen=True)
class Match:
    """``unit[start:end]`` is in the table; ``candidates`` are its likely originals, best first;
    ``share`` is how often it was spinner output where it occurred in spun training text."""

    start: int
    end: int
    candidates: tuple[str, ...]
    share: float


def key_of(phrase: str) -> tuple[str, ...]:
    return tuple(t.text.lower() for t in tokenize(phrase))


def match_case(spun: str, original: str) -> str:
    """Give ``original`` the capitalisation pattern of the spun words it replaces."""
    if len(spun) > 1 and spun.isupper():
        return original.upper()
    if spun[:1].isupper():
        return original[:1].upper() + original[1:]
    return original


class CandidateTable:
    """Spun word or phrase (lower case, tokens joined by spaces) -> (spun share, originals)."""

    def __init__(self, entries: dict[str, tuple[float, list[str]]]):
        self.entries = {k: (float(s), tuple(c)) for k, (s, c) in entries.items()}
        self._max_len = max((k.count(" ") + 1 for k in self.entries), default=0)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CandidateTable) and self.entries == other.entries

    @classmethod
    def load(cls, path: str | Path) -> CandidateTable:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise ValueError(f"{path} is not a candidate table")
        return cls({k: (s, c) for k, (s, c) in data["entries"].items()})

    def save(self, path: str | Path) -> None:
        entries = {k: [s, list(c)] for k, (s, c) in sorted(self.entries.items())}
        # No name and mtime=0 keep the file byte-identical across rebuilds of the same table.
        data = json.dumps({"entries": entries}, ensure_ascii=False).encode("utf-8")
        with open(path, "wb") as fh, gzip.GzipFile("", "wb", fileobj=fh, mtime=0) as raw:
            raw.write(data)

    def match(self, unit: str, limit: int | None = None) -> list[Match]:
        """Table words in ``unit``, longest first, left to right, at most ``limit`` of them.

        A capitalised word counts only at the start of the unit or after sentence punctuation:
        anywhere else it is probably a name, which a spinner leaves alone.
        """
        tokens = tokenize(unit)
        return [
            Match(start, end, entry[1], entry[0])
            for start, end, _, entry in match_keys(tokens, self.entries, self._max_len, limit)
        ]


def match_keys(
    tokens: Sequence[Token],
    keys: Mapping[str, T],
    max_len: int,
    limit: int | None = None,
) -> list[tuple[int, int, str, T]]:
    """``(start, end, key, keys[key])`` for the words and phrases of a unit's ``tokens`` found in
    ``keys`` (lower-cased tokens joined by single spaces), longest first, left to right, at most
    ``limit`` of them.

    A capitalised word counts only at the start of the unit or after sentence punctuation:
    anywhere else it is probably a name, which a spinner leaves alone.
    """
    words = [t.text.lower() for t in tokens]
    found: list[tuple[int, int, str, T]] = []
    i = 0
    while i < len(tokens) and (limit is None or len(found) < limit):
        hit = None
        if tokens[i].kind == "word" and not is_mid_sentence_capital(tokens, i):
            for length in range(min(max_len, len(tokens) - i), 0, -1):
                key = " ".join(words[i : i + length])
                entry = keys.get(key)
                if entry is not None:
                    hit = (tokens[i].start, tokens[i + length - 1].end, key, entry)
                    i += length
                    break
        if hit:
            found.append(hit)
        else:
            i += 1
    return found

"""The thesaurus the spinner and the baselines read.

One gzip'd JSON file, built by ``scripts/build_lexicon.py`` from WordNet 3.0, the Aiksaurus
thesaurus (derived from the Moby Thesaurus), wordfreq frequencies and a hand-curated table of
function-word swaps. Licences: ``training/data/LICENSES.md``.

Example::

    >>> from training.lexicon import Lexicon
    >>> lexicon = Lexicon.load()                      # the packaged file, cached
    >>> [c.text for c in lexicon.candidates("party", "n")][:3]
    ['political party', 'organization', 'organisation']
    >>> lexicon.function_alternatives("by")
    ('through', 'via', 'by means of')

Candidates of one (lemma, pos) come in this order: WordNet senses in WordNet's order (most
frequent sense first), inside a sense ``syn``, ``sim``, ``hyper``, ``hypo``; then Moby groups in
the thesaurus's order, most frequent word first inside a group. A word offered by two WordNet
senses appears once per sense; a Moby word appears once per entry (its first group). The
headword itself is never a candidate. Lookups lower-case their argument.

File layout (``"format": 1``), all keys sorted, words interned::

    {"format": 1,
     "sources": {"wordnet": {"name", "version", "licence", "url", "sha256"}, "moby": {...},
                 "wordfreq": {...}, "function_words": {...}},
     "words": ["...", ...],                 # every word or phrase in the file, sorted
     "zipf": [3.12, ...],                   # wordfreq English Zipf frequency, parallel to words
     "synsets": {"n08256968": {"syn": [ids], "sim": [ids], "hyper": [ids], "hypo": [ids]}},
     "moby": {"m460": {"n": [ids], "v": [ids], ...}},   # a Moby group's members per pos
     "entries": {"party\\tn": ["n08256968", ..., "m460", ...]},
     "function_words": {"by": ["through", "via", "by means of"], "according to": [...]}}

* ``words``: every headword, candidate and function word, plus wordfreq's 20,000 most frequent
  English words (stopwords and inflected forms included, so ``zipf("the")`` is known).
* ``synsets``: per WordNet synset (pos letter + 8-digit offset; adjective satellites are
  ``a``), its plain lemmas (``syn``, the headword included; it is dropped when resolving) and,
  at most 8 each and most frequent first, the lemmas of its similar-to (``sim``), hypernym
  (``hyper``) and hyponym (``hypo``) synsets.
* ``moby``: per Aiksaurus meaning group (``m`` + its number), the members that can have each
  part of speech (per WordNet or lemminflect; phrases by a head rule), most frequent first.
* ``entries``: ``lemma<TAB>pos`` (pos in ``n v a r``) -> sense ids, the WordNet ones first.

Shared synset and group tables keep the file small (about 4 MB) without capping Moby.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gzip
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
POSES = ("n", "v", "a", "r")
WORDNET_RELATIONS = ("syn", "sim", "hyper", "hypo")
RELATIONS = (*WORDNET_RELATIONS, "rel")
_REQUIRED = {
    "sources": dict,
    "words": list,
    "zipf": list,
    "synsets": dict,
    "moby": dict,
    "entries": dict,
    "function_words": dict,
}


class LexiconError(ValueError):
    """The lexicon file is missing, corrupt, or of a format this code does not read."""


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One replacement for a lemma.

    ``text`` may contain spaces ("on the outskirts of"); ``relation`` is ``syn``, ``sim``,
    ``hyper``, ``hypo`` (WordNet) or ``rel`` (Moby); ``sense`` is the WordNet synset
    (``n08256968``) or Moby group (``m460``) that offered it; ``source`` is ``wordnet`` or
    ``moby``.
    """

    text: str
    relation: str
    sense: str
    source: str


class PhraseHeads(Mapping[str, tuple[str, ...]]):
    """Multiword headwords by their first word, for finding them in text.

    A read-only mapping: first word -> the phrases starting with it, longest first (then
    alphabetical), so the first that matches is the longest match. ``max_words`` is the length
    of the longest phrase.

    >>> heads = Lexicon.load().phrase_heads()
    >>> "press conference" in heads["press"]
    True
    >>> heads.match("the press conference began".split(), 1)
    'press conference'
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        by_first: dict[str, list[str]] = {}
        split = sorted((tuple(p.split(" ")) for p in set(phrases)), key=lambda p: (-len(p), p))
        for words in split:
            by_first.setdefault(words[0], []).append(" ".join(words))
        self._by_first = {first: tuple(phrases) for first, phrases in by_first.items()}
        self.max_words = max((len(words) for words in split), default=1)

    def __getitem__(self, first_word: str) -> tuple[str, ...]:
        return self._by_first[first_word]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_first)

    def __len__(self) -> int:
        return len(self._by_first)

    def match(self, words: list[str] | tuple[str, ...], start: int) -> str | None:
        """The longest phrase that ``words[start:]`` (lower-case words) begins with, or None."""
        for phrase in self._by_first.get(words[start], ()):
            n = phrase.count(" ") + 1
            if " ".join(words[start : start + n]) == phrase:
                return phrase
        return None


class Lexicon:
    """Read-only access to the thesaurus file; build with :meth:`load`."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._words: list[str] = document["words"]
        self._zipf: list[float] = document["zipf"]
        self._synsets: dict[str, dict[str, list[int]]] = document["synsets"]
        self._moby: dict[str, dict[str, list[int]]] = document["moby"]
        self._entries: dict[str, list[str]] = document["entries"]
        self._sources: dict[str, Any] = document["sources"]
        self._function_words = {k: tuple(v) for k, v in document["function_words"].items()}
        self._word_id = {word: i for i, word in enumerate(self._words)}
        poses: dict[str, list[str]] = {}
        for key in self._entries:
            lemma, pos = key.rsplit("\t", 1)
            poses.setdefault(lemma, []).append(pos)
        self._poses = {lemma: tuple(p for p in POSES if p in ps) for lemma, ps in poses.items()}
        self._resolved: dict[str, tuple[Candidate, ...]] = {}
        self._inverse: dict[tuple[int, str], tuple[str, ...]] | None = None
        self._phrase_heads: PhraseHeads | None = None

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Lexicon:
        """Load a lexicon file; ``None`` loads the packaged one (cached: the same object each
        time). Raises :class:`LexiconError` for a missing, corrupt or unknown-format file."""
        if path is None:
            return _load_packaged()
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as error:
            raise LexiconError(f"cannot read lexicon file {os.fspath(path)!r}: {error}") from error
        return cls(_parse(raw, os.fspath(path)))

    def candidates(self, lemma: str, pos: str) -> tuple[Candidate, ...]:
        """Replacements for ``lemma`` used as ``pos`` (``n v a r``); ``()`` when unknown.

        >>> any(c.text == "celebration" for c in Lexicon.load().candidates("party", "n"))
        True
        """
        key = f"{lemma.lower()}\t{_check_pos(pos)}"
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolved[key] = tuple(self._resolve(lemma.lower(), pos))
        return resolved

    def has(self, lemma: str, pos: str) -> bool:
        """Whether ``lemma`` has candidates as ``pos``."""
        return f"{lemma.lower()}\t{_check_pos(pos)}" in self._entries

    def poses(self, lemma: str) -> tuple[str, ...]:
        """The parts of speech ``lemma`` has entries for, in ``n v a r`` order."""
        return self._poses.get(lemma.lower(), ())

    def zipf(self, word: str) -> float:
        """wordfreq's English Zipf frequency (2 decimals) of a word in the file; 0.0 otherwise."""
        i = self._word_id.get(word.lower())
        return 0.0 if i is None else self._zipf[i]

    def entries(self) -> list[tuple[str, str]]:
        """Every ``(lemma, pos)`` that has candidates."""
        return [tuple(key.split("\t")) for key in self._entries]

    def function_words(self) -> tuple[str, ...]:
        """The function words and phrases that have hand-curated swaps."""
        return tuple(self._function_words)

    def function_alternatives(self, word: str) -> tuple[str, ...]:
        """Hand-curated swaps for a function word or phrase ("by", "according to"); ``()``
        when there are none."""
        return self._function_words.get(word.lower(), ())

    def phrase_heads(self) -> PhraseHeads:
        """The multiword headwords ("press conference"), indexed by first word. Multiword keys
        of the function-word table ("according to") are not included."""
        if self._phrase_heads is None:
            self._phrase_heads = PhraseHeads([lemma for lemma in self._poses if " " in lemma])
        return self._phrase_heads

    def inverse(self, word: str, pos: str) -> tuple[str, ...]:
        """Headwords that list ``word`` as a candidate with ``pos``, alphabetical; the reverse
        index is built on the first call (a few seconds).

        >>> "party" in Lexicon.load().inverse("celebration", "n")
        True
        """
        if self._inverse is None:
            self._inverse = self._build_inverse()
        i = self._word_id.get(word.lower())
        return () if i is None else self._inverse.get((i, _check_pos(pos)), ())

    @property
    def sources(self) -> dict[str, Any]:
        """Provenance and licence records of every source (a copy)."""
        return copy.deepcopy(self._sources)

    def _resolve(self, lemma: str, pos: str) -> Iterator[Candidate]:
        moby_seen = {lemma}
        for sense in self._entries.get(f"{lemma}\t{pos}", ()):
            if sense.startswith("m"):
                for i in self._moby[sense].get(pos, ()):
                    text = self._words[i]
                    if text not in moby_seen:
                        moby_seen.add(text)
                        yield Candidate(text, "rel", sense, "moby")
                continue
            relations = self._synsets[sense]
            for relation in WORDNET_RELATIONS:
                for i in relations.get(relation, ()):
                    if self._words[i] != lemma:
                        yield Candidate(self._words[i], relation, sense, "wordnet")

    def _sense_word_ids(self, sense: str, pos: str) -> Iterator[int]:
        if sense.startswith("m"):
            yield from self._moby[sense].get(pos, ())
        else:
            for ids in self._synsets[sense].values():
                yield from ids

    def _build_inverse(self) -> dict[tuple[int, str], tuple[str, ...]]:
        index: dict[tuple[int, str], set[int]] = {}
        for key, senses in self._entries.items():
            lemma, pos = key.rsplit("\t", 1)
            lemma_id = self._word_id[lemma]
            for sense in senses:
                for i in self._sense_word_ids(sense, pos):
                    if i != lemma_id:
                        index.setdefault((i, pos), set()).add(lemma_id)
        return {key: tuple(sorted(self._words[j] for j in heads)) for key, heads in index.items()}


def _check_pos(pos: str) -> str:
    if pos not in POSES:
        raise ValueError(f"pos must be one of {', '.join(POSES)}, got {pos!r}")
    return pos


def _parse(raw: bytes, name: str) -> dict[str, Any]:
    """Decompress, decode and check the top level of a lexicon file."""
    try:
        document = json.loads(gzip.decompress(raw).decode("utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LexiconError(f"lexicon file {name!r} is not gzip'd JSON: {error}") from error
    if not isinstance(document, dict):
        raise LexiconError(f"lexicon file {name!r} does not hold a JSON object")
    version = document.get("format")
    if version != FORMAT_VERSION:
        raise LexiconError(
            f"lexicon file {name!r} has format {version!r}; this code reads format "
            f"{FORMAT_VERSION} (rebuild it with scripts/build_lexicon.py)"
        )
    for key, kind in _REQUIRED.items():
        if not isinstance(document.get(key), kind):
            raise LexiconError(
                f"lexicon file {name!r}: {key!r} is missing or not a {kind.__name__}"
            )
    if len(document["words"]) != len(document["zipf"]):
        raise LexiconError(f"lexicon file {name!r}: 'words' and 'zipf' differ in length")
    return document


@functools.lru_cache(maxsize=1)
def _load_packaged() -> Lexicon:
    resource = resources.files("training") / "data" / "lexicon.json.gz"
    try:
        raw = resource.read_bytes()
    except OSError as error:
        raise LexiconError(f"the packaged lexicon is missing: {error}") from error
    lexicon = Lexicon(_parse(raw, str(resource)))
    logger.debug("loaded the packaged lexicon: %d entries", len(lexicon._entries))
    return lexicon

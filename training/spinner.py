"""A realistic article spinner: the machine that manufactures our (spun, original) pairs.

It behaves like the commercial spinners whose output we undo: it looks words up in a broad
thesaurus without regard to their sense (a political "party" becomes a "celebration"), swaps
single words and multiword phrases in both directions, keeps inflection ("greets" -> "ejects")
and capitalisation, and leaves numbers, names, URLs and other proper nouns alone. Function words
are swapped at a separate, small rate ("by" -> "through").

``rate`` is the share of *eligible* words replaced: content words that are not protected and
have at least one usable thesaurus candidate, a multiword phrase counting as its word count.
The achieved rate is reported with every result.

>>> spinner = Spinner(SpinnerConfig(rate=0.5))
>>> result = spinner.spin("The party greets journalists outside the bank.", seed=3)
>>> apply_substitutions("The party greets journalists outside the bank.",
...                     result.substitutions) == result.text
True
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from restore.text import Token, tokenize
from training.config import SpinnerConfig
from training.inflection import (
    TAGS,
    apply_casing,
    casing,
    forms,
    inflect,
    lemmas,
    word_readings,
)
from training.lexicon import Candidate, Lexicon
from training.neighbours import read_neighbours

_DETERMINERS = frozenset(
    "the a an this that these those his her its their our my your some any every each no "
    "another other such what which whose".split()
)
_VERB_CUES = frozenset(
    "to will would can could should may might must shall did does do not never also i you "
    "we they he she it who".split()
)
_PARTICIPLE_CUES = frozenset(
    "has have had having been be being is are was were am get gets got gotten".split()
)
_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_POSSESSIVE_RE = re.compile(r"(?P<base>.+?)(?P<clitic>['’]s)$", re.IGNORECASE)
# Web addresses, e-mail, handles and hashtags: protected as a whole.
_PROTECTED_RE = re.compile(
    r"(?:https?://|www\.)\S+|\S+@\S+\.\w+|[@#]\w+|\b\w+\.(?:com|org|net|gov|edu|co\.uk)\b",
    re.IGNORECASE,
)
# An ellipsis is not taken as a sentence end: what follows it may be a name mid-sentence.
_SENTENCE_END = frozenset(".!?")
_OPENERS = frozenset("\"'“‘([")


@dataclass(frozen=True)
class Substitution:
    """One replaced span: offsets in the original and in the spun text, and what it was."""

    start: int
    end: int
    spun_start: int
    spun_end: int
    original: str
    replacement: str
    kind: str  # "word", "phrase" (either side multiword) or "function"
    pos: str  # "n", "v", "a", "r", or "f" for function words
    tag: str  # Penn tag of the original form, e.g. "VBZ"
    relation: str  # thesaurus relation, "near" (a neighbours file's word), "function"
    source: str  # "wordnet", "moby", "function", or the neighbours file's ("embedding", "gcide")
    words: int  # eligible words covered in the original

    @property
    def inflected(self) -> bool:
        return self.tag not in ("NN", "VB", "JJ", "RB", "", "F")


@dataclass(frozen=True)
class SpinResult:
    text: str
    substitutions: tuple[Substitution, ...]
    eligible_words: int  # content words that could have been replaced
    replaced_words: int  # content words replaced
    function_eligible: int
    function_replaced: int

    @property
    def achieved_rate(self) -> float:
        return self.replaced_words / self.eligible_words if self.eligible_words else 0.0

    def to_json(self) -> dict:
        return {
            "spun": self.text,
            "substitutions": [dataclasses.asdict(s) for s in self.substitutions],
            "eligible_words": self.eligible_words,
            "replaced_words": self.replaced_words,
            "function_eligible": self.function_eligible,
            "function_replaced": self.function_replaced,
            "achieved_rate": round(self.achieved_rate, 6),
        }


@dataclass
class _Site:
    """A place that could be replaced: tokens first..last (inclusive) of the text."""

    first: int
    last: int
    start: int
    end: int
    surface: str  # the original text of the site
    words: int
    readings: list[tuple[str, str, str]]  # (lemma, pos, tag) in order of preference
    casing: str  # "lower", "title" or "upper"
    function: bool = False


def apply_substitutions(text: str, substitutions: Sequence[Substitution]) -> str:
    """Apply substitutions (original offsets) to ``text``; gives the spun text."""
    return _splice(text, [(s.start, s.end, s.replacement) for s in substitutions])


def revert_substitutions(spun: str, substitutions: Sequence[Substitution]) -> str:
    """Undo substitutions (spun offsets) on the spun text; gives the original text."""
    return _splice(spun, [(s.spun_start, s.spun_end, s.original) for s in substitutions])


def _splice(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    parts = []
    pos = 0
    for start, end, new in sorted(edits):
        if start < pos:
            raise ValueError(f"overlapping substitutions at offset {start}")
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


class Spinner:
    """Spins text with a thesaurus; deterministic for a given seed.

    >>> Spinner(SpinnerConfig(rate=0.0)).spin("Nothing changes here.", seed=1).text
    'Nothing changes here.'
    """

    def __init__(
        self,
        config: SpinnerConfig | None = None,
        lexicon: Lexicon | None = None,
        neighbours: Mapping[str, Sequence[str]] | None = None,
    ):
        self.config = config or SpinnerConfig()
        self.config.validate()
        self.lexicon = lexicon or Lexicon.load(self.config.lexicon_path)
        # Where the "near" words come from: embedding neighbours unless the file names another
        # source (a foreign thesaurus, training.gcide's "gcide").
        self._near_source = "embedding"
        if neighbours is None and self.config.neighbours_path:
            neighbours, info = read_neighbours(self.config.neighbours_path)
            self._near_source = str(info.get("source", self._near_source))
        if neighbours is None and self.config.relation_weights.get("near", 0.0) > 0:
            raise ValueError("spinner.relation_weights.near needs spinner.neighbours_path")
        self._neighbours = neighbours or {}
        self._phrases = self.lexicon.phrase_heads()
        self._pools: dict[tuple[str, str], tuple[tuple[str, float, Candidate], ...]] = {}

    def spin(self, text: str, *, seed: int | None = None, rng: random.Random | None = None):
        """Spin ``text``; pass either ``seed`` or a ``random.Random``. Returns a SpinResult."""
        if rng is None:
            rng = random.Random(seed if seed is not None else 0)
        tokens = tokenize(text)
        content, function = self._find_sites(text, tokens)
        chosen: list[tuple[_Site, str, tuple[str, str, str], object]] = []

        eligible = sum(s.words for s in content)
        target = _stochastic_round(self.config.rate * eligible, rng)
        replaced = 0
        for site in _shuffled(content, rng):
            if replaced >= target:
                break
            if replaced + site.words > target:
                continue
            pick = self._choose(site, rng)
            if pick is None:
                # No candidate inflects for this site: it was never really eligible.
                eligible -= site.words
                target = _stochastic_round(self.config.rate * eligible, rng)
                continue
            chosen.append((site, *pick))
            replaced += site.words

        f_target = _stochastic_round(self.config.function_rate * len(function), rng)
        f_replaced = 0
        for site in _shuffled(function, rng)[:f_target]:
            alternatives = self.lexicon.function_alternatives(site.surface.lower())
            replacement = apply_casing(rng.choice(sorted(alternatives)), site.casing)
            chosen.append((site, replacement, ("", "f", "F"), None))
            f_replaced += 1

        return self._assemble(text, chosen, eligible, replaced, len(function), f_replaced)

    # -- finding what can be replaced -------------------------------------------------------

    def _find_sites(self, text: str, tokens: list[Token]) -> tuple[list[_Site], list[_Site]]:
        protected = _protected_tokens(text, tokens)
        initial = _sentence_initial(text, tokens)
        shouted = _shouted(tokens, initial)
        mid_capitalised = {
            t.text.lower()
            for i, t in enumerate(tokens)
            if t.kind == "word" and t.text[:1].isupper() and not initial[i]
        }
        content: list[_Site] = []
        function: list[_Site] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind != "word" or i in protected:
                i += 1
                continue
            case = casing(tok.text)
            if case == "upper" and not shouted[i]:
                i += 1  # an acronym (NATO, US) or a title, not a shouted line
                continue
            if case == "title" and not initial[i]:
                i += 1  # capitalised mid-sentence: a name
                continue
            if case == "title" and not self._may_spin_initial(tokens, i, mid_capitalised):
                i += 1
                continue
            phrase = self._match_phrase(text, tokens, i, protected)
            if phrase is not None:
                content.append(phrase)
                i = phrase.last + 1
                continue
            lower = tok.text.lower()
            if self.lexicon.function_alternatives(lower):
                function.append(
                    _Site(i, i, tok.start, tok.end, tok.text, 1, [], case, function=True)
                )
            else:
                site = self._word_site(tokens, i, case)
                if site is not None:
                    content.append(site)
            i += 1
        return content, function

    def _may_spin_initial(self, tokens: list[Token], i: int, mid_capitalised: set[str]) -> bool:
        lower = tokens[i].text.lower()
        if lower in _CALENDAR or lower in mid_capitalised:
            return False
        if self.lexicon.zipf(lower) < self.config.min_sentence_initial_zipf:
            return False
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        # "Rose Smith", "Bank of England": a capitalised follower suggests a name.
        return not (nxt is not None and nxt.kind == "word" and nxt.text[:1].isupper())

    def _word_site(self, tokens: list[Token], i: int, case: str) -> _Site | None:
        tok = tokens[i]
        surface, clitic = tok.text, ""
        m = _POSSESSIVE_RE.match(surface)
        if m:
            surface, clitic = m.group("base"), m.group("clitic")
        if "'" in surface or "’" in surface:
            return None
        readings = word_readings(surface.lower())
        readings = [r for r in readings if self.lexicon.has(r[0], r[1])]
        if clitic:
            readings = [r for r in readings if r[1] == "n"]
        if not readings:
            return None
        readings = _order_readings(readings, tokens, i)
        if not self._pool(*readings[0][:2]):
            return None
        # A possessive's clitic stays outside the span: only the word itself changes.
        return _Site(i, i, tok.start, tok.start + len(surface), surface, 1, readings, case)

    def _match_phrase(
        self, text: str, tokens: list[Token], i: int, protected: set[int]
    ) -> _Site | None:
        first = tokens[i].text.lower()
        options = self._phrases.get(first)
        if not options:
            return None
        for size in range(min(self.config.max_phrase_words, len(tokens) - i), 1, -1):
            span = tokens[i : i + size]
            if any(t.kind != "word" or (i + k) in protected for k, t in enumerate(span)):
                continue
            # Words of a phrase are separated by single spaces, never punctuation or breaks.
            if any(text[a.end : b.start] != " " for a, b in zip(span, span[1:])):
                continue
            if any(t.text[:1].isupper() for t in span[1:]) and not all(
                t.text.isupper() for t in span
            ):
                continue
            words = [t.text.lower() for t in span]
            for lemma, tag in _phrase_lemmas(words):
                if lemma not in options:
                    continue
                poses = [p for p in self.lexicon.poses(lemma) if tag in TAGS[p]]
                if poses:
                    readings = _order_readings([(lemma, p, tag) for p in poses], tokens, i)
                    if not self._pool(*readings[0][:2]):
                        continue
                    return _Site(
                        i,
                        i + size - 1,
                        span[0].start,
                        span[-1].end,
                        text[span[0].start : span[-1].end],
                        size,
                        readings,
                        casing(span[0].text),
                    )
        return None

    # -- choosing a replacement -------------------------------------------------------------

    def _choose(self, site: _Site, rng: random.Random):
        for lemma, pos, tag in site.readings[:1]:
            pool = list(self._pool(lemma, pos))
            while pool:
                weights = [w for _, w, _ in pool]
                k = rng.choices(range(len(pool)), weights=weights)[0]
                cand_text, _, cand = pool.pop(k)
                form = inflect(cand_text, pos, tag)
                if form is None or form.lower() == site.surface.lower():
                    continue
                return apply_casing(form, site.casing), (lemma, pos, tag), cand
        return None

    def _pool(self, lemma: str, pos: str) -> tuple[tuple[str, float, Candidate], ...]:
        """Distinct candidate words for a lemma with their summed weights (cached)."""
        key = (lemma, pos)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = self._build_pool(lemma, pos)
        return pool

    def _build_pool(self, lemma: str, pos: str) -> tuple[tuple[str, float, Candidate], ...]:
        cfg = self.config
        candidates = self.lexicon.candidates(lemma, pos) + tuple(
            Candidate(text, "near", "near", self._near_source)
            for text in self._neighbours.get(f"{lemma}\t{pos}", ())
        )
        if cfg.choice == "sense_aware":
            first = next((c.sense for c in candidates if c.source == "wordnet"), None)
            candidates = tuple(c for c in candidates if c.sense == first) or candidates
        usable: dict[tuple[str, str], Candidate] = {}
        for c in candidates:
            if cfg.relation_weights.get(c.relation, 0.0) <= 0 or c.text == lemma:
                continue
            if self.lexicon.zipf(c.text) >= cfg.min_zipf:
                usable.setdefault((c.relation, c.text), c)
        # A relation's weight is the chance of drawing from it, shared by its words: otherwise
        # Moby's long lists would drown WordNet's synonyms (real spinners use both about evenly).
        per_relation: dict[str, int] = {}
        for relation, _ in usable:
            per_relation[relation] = per_relation.get(relation, 0) + 1
        merged: dict[str, list] = {}
        for (relation, text), c in usable.items():
            weight = cfg.relation_weights[relation] / per_relation[relation]
            if cfg.choice == "frequency":
                weight *= max(self.lexicon.zipf(text) - cfg.min_zipf + 0.5, 0.1)
            entry = merged.setdefault(text, [text, 0.0, c])
            entry[1] += weight
        return tuple((k, merged[k][1], merged[k][2]) for k in sorted(merged))

    # -- building the output ----------------------------------------------------------------

    def _assemble(self, text, chosen, eligible, replaced, f_eligible, f_replaced) -> SpinResult:
        chosen.sort(key=lambda item: item[0].start)
        parts = []
        subs = []
        pos = 0
        out_len = 0
        for site, replacement, (_, p, tag), cand in chosen:
            gap = text[pos : site.start]
            parts.append(gap)
            out_len += len(gap)
            original = text[site.start : site.end]
            new = replacement
            parts.append(new)
            is_phrase = site.words > 1 or " " in new
            subs.append(
                Substitution(
                    start=site.start,
                    end=site.end,
                    spun_start=out_len,
                    spun_end=out_len + len(new),
                    original=original,
                    replacement=new,
                    kind="function" if site.function else ("phrase" if is_phrase else "word"),
                    pos=p,
                    tag=tag,
                    relation=cand.relation if cand is not None else "function",
                    source=cand.source if cand is not None else "function",
                    words=0 if site.function else site.words,
                )
            )
            out_len += len(new)
            pos = site.end
        parts.append(text[pos:])
        return SpinResult("".join(parts), tuple(subs), eligible, replaced, f_eligible, f_replaced)


# -- helpers: tagging, inflection, casing ---------------------------------------------------


def _order_readings(readings, tokens: list[Token], i: int) -> list[tuple[str, str, str]]:
    """Most plausible reading first, from the neighbouring words (a real spinner's guess)."""
    prev = tokens[i - 1].text.lower() if i > 0 and tokens[i - 1].kind == "word" else ""
    prev2 = tokens[i - 2].text.lower() if i > 1 and tokens[i - 2].kind == "word" else ""
    nxt = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""

    def score(reading: tuple[str, str, str]) -> float:
        _, pos, tag = reading
        s = {"n": 0.4, "v": 0.3, "a": 0.2, "r": 0.1}[pos]
        if prev in _DETERMINERS:
            s += 2.0 if pos in ("n", "a") else -2.0
        if prev in _VERB_CUES:
            s += 2.0 if pos == "v" else 0.0
        if nxt in _DETERMINERS:
            # "greets the", "outside the": a verb or a preposition-like adverb, not a noun.
            s += {"v": 1.5, "r": 1.0, "n": -1.0, "a": -1.0}[pos]
        if tag == "VBN" and (prev in _PARTICIPLE_CUES or prev2 in _PARTICIPLE_CUES):
            s += 1.0
        if tag == "VBD" and prev in _PARTICIPLE_CUES:
            s -= 1.0
        if pos == "r" and tokens[i].text.lower().endswith("ly"):
            s += 1.5
        return s

    return sorted(readings, key=score, reverse=True)


def _phrase_lemmas(words: list[str]) -> list[tuple[str, str]]:
    """Lemma forms of a multiword span: as written, or with an inflected head undone."""
    joined = " ".join(words)
    options = [(joined, "NN"), (joined, "VB"), (joined, "JJ"), (joined, "RB")]
    last = words[-1]
    for upos, names in lemmas(last):
        if upos == "NOUN":
            for lemma in names:
                if lemma != last:
                    options.append((" ".join(words[:-1] + [lemma]), "NNS"))
    first = words[0]
    for upos, names in lemmas(first):
        if upos == "VERB":
            for lemma in names:
                for tag in ("VBZ", "VBD", "VBN", "VBG"):
                    if lemma != first and first in forms(lemma, tag):
                        options.append((" ".join([lemma] + words[1:]), tag))
    return options


def _protected_tokens(text: str, tokens: list[Token]) -> set[int]:
    protected: set[int] = set()
    spans = [m.span() for m in _PROTECTED_RE.finditer(text)]
    starts = [t.start for t in tokens]
    for a, b in spans:
        # Tokens are sorted, so the ones touching [a, b) are a contiguous run.
        i = max(bisect.bisect_right(starts, a) - 1, 0)
        while i < len(tokens) and tokens[i].start < b:
            if tokens[i].end > a:
                protected.add(i)
            i += 1
    return protected


def _sentence_initial(text: str, tokens: list[Token]) -> list[bool]:
    flags = []
    at_start = True
    for i, tok in enumerate(tokens):
        if i > 0 and "\n" in text[tokens[i - 1].end : tok.start]:
            at_start = True
        if tok.kind == "other" and tok.text in _OPENERS:
            flags.append(False)
            # A quote glued to the word before it closes a quotation ('... again.' Insane):
            # be conservative and treat the next word as mid-sentence.
            if i > 0 and tokens[i - 1].end == tok.start:
                at_start = False
            continue
        flags.append(at_start and tok.kind == "word")
        at_start = tok.kind == "other" and tok.text in _SENTENCE_END
    return flags


def _shouted(tokens: list[Token], initial: list[bool]) -> list[bool]:
    """Per token, whether its sentence is an ALL-CAPS line (a wire headline, a shout).

    Capitals there are not names. Inside mixed-case sentences, runs of capitals are titles and
    acronyms, so they stay protected.
    """
    flags = [False] * len(tokens)
    starts = [i for i, flag in enumerate(initial) if flag] + [len(tokens)]
    if starts[0] != 0:
        starts.insert(0, 0)
    for a, b in zip(starts, starts[1:]):
        words = [t.text for t in tokens[a:b] if t.kind == "word"]
        upper = sum(1 for w in words if casing(w) == "upper")
        if len(words) >= 3 and upper >= 0.8 * len(words):
            flags[a:b] = [True] * (b - a)
    return flags


def _shuffled(items: list, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


def _stochastic_round(x: float, rng: random.Random) -> int:
    low = math.floor(x)
    return low + (1 if rng.random() < x - low else 0)

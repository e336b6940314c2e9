"""Baseline restorers a learned model has to beat, with the Restorer's ``restore_batch`` API.

* :class:`IdentityRestorer` copies its input (precision 1, recall 0 on spun text).
* :class:`InverseThesaurusRestorer`: a spinner replaces a word by one of its thesaurus
  candidates, so a word that the thesaurus lists as a candidate of a clearly more frequent
  headword is put back as the most frequent such headword (Zipf frequency from wordfreq, which
  is mostly news and web text), in the word's inflection and casing.
* :class:`NgramInverseThesaurusRestorer`: the same candidates, but a trigram model of the train
  split (:mod:`training.tagger.ngram`) chooses among them and the word itself, in context.

Everything outside a replaced word is copied byte for byte. Words that the spinner never
touches are left alone too: punctuation, numbers, capitalised words inside a sentence (names),
all-capital words (acronyms), function words, and words with an apostrophe or hyphen (a
possessive ``'s`` stays and only the word before it may change).

>>> InverseThesaurusRestorer().restore_batch(["The fete ended."])
['The party ended.']
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence

from restore.tagger.ngram import NgramModel, lm_token
from restore.text import Token, split_sentences, tokenize
from training.inflection import BASE_TAG, apply_casing, casing, inflect, word_readings
from training.lexicon import Lexicon

logger = logging.getLogger(__name__)

_POSSESSIVE_RE = re.compile(r"(?P<base>.+?)(?P<clitic>['’]s)$", re.IGNORECASE)
_OPENERS = frozenset("\"'“‘([")


@dataclasses.dataclass(frozen=True)
class InverseThesaurusConfig:
    """Settings of the inverse-thesaurus baseline; defaults tuned for F0.5 on 1,000 valid
    paragraphs spun at rate 0.3 (margins 0.5 to 3 tried, with and without phrases)."""

    margin: float = 2.0  # a headword must be this much more frequent (Zipf) than the word
    phrases: bool = False  # also consider multiword spans and multiword headwords

    def validate(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class NgramInverseThesaurusConfig(InverseThesaurusConfig):
    """Settings of the language-model baseline; defaults tuned like the plain one's (margins
    -3 to 1, gains 0 to 12, 20 to 100 candidates, with and without phrases)."""

    margin: float = -1.0  # negative: headwords somewhat rarer than the word compete too
    phrases: bool = True
    min_gain: float = 10.0  # natural-log score gain over keeping the word needed to change it
    max_candidates: int = 50  # most frequent qualifying headwords scored per word

    def validate(self) -> None:
        if self.max_candidates < 1:
            raise ValueError("max_candidates must be at least 1")


@dataclasses.dataclass(frozen=True)
class _Site:
    """Tokens ``first..last`` (inclusive) that may be replaced; ``end`` excludes a clitic."""

    first: int
    last: int
    start: int
    end: int
    surface: str
    casing: str


class IdentityRestorer:
    """Copies every input: the floor every restorer is compared with.

    >>> IdentityRestorer().restore_batch(["A fete."])
    ['A fete.']
    """

    def restore_batch(self, texts: Sequence[str]) -> list[str]:
        return list(texts)


class InverseThesaurusRestorer:
    """Replaces a word by the most frequent headword that lists it as a synonym.

    A headword qualifies when its Zipf frequency exceeds the word's by at least ``margin``;
    the word's readings (lemma, part of speech, inflection) come from lemminflect, and the
    headword is inflected like the word.
    """

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        config: InverseThesaurusConfig | None = None,
        **settings,
    ) -> None:
        self.config = dataclasses.replace(config or self._default_config(), **settings)
        self.config.validate()
        self.lexicon = lexicon or Lexicon.load()
        self._phrases = self.lexicon.phrase_heads() if self.config.phrases else None
        self._options_cache: dict[str, tuple[tuple[str, float], ...]] = {}

    @staticmethod
    def _default_config() -> InverseThesaurusConfig:
        return InverseThesaurusConfig()

    def restore_batch(self, texts: Sequence[str]) -> list[str]:
        """One restored text per input, in order."""
        return [self.restore(text) for text in texts]

    def restore(self, text: str) -> str:
        tokens = tokenize(text)
        edits = []
        for site in self._sites(text, tokens):
            options = self.options(site.surface)
            if options:
                edits.append((site.start, site.end, apply_casing(options[0][0], site.casing)))
        return _splice(text, edits)

    def options(self, surface: str) -> tuple[tuple[str, float], ...]:
        """Replacement forms (lower case) of a word or phrase with their headwords' Zipf
        frequency, most frequent first; only headwords ``margin`` above the word qualify.

        >>> InverseThesaurusRestorer(margin=1.0).options("celebrations")[0]
        ('parties', 5.49)
        """
        key = surface.lower()
        cached = self._options_cache.get(key)
        if cached is None:
            cached = self._options_cache[key] = self._build_options(key)
        return cached

    def _build_options(self, word: str) -> tuple[tuple[str, float], ...]:
        best: dict[str, float] = {}
        for lemma, pos, tag in readings(word, self.lexicon):
            floor = self.lexicon.zipf(lemma) + self.config.margin
            for head in self.lexicon.inverse(lemma, pos):
                if " " in head and not self.config.phrases:
                    continue
                z = self.lexicon.zipf(head)
                if z < floor:
                    continue
                form = inflect(head, pos, tag)
                if form is not None and form != word and z > best.get(form, -1.0):
                    best[form] = z
        return tuple(sorted(best.items(), key=lambda item: (-item[1], item[0])))

    def _sites(self, text: str, tokens: list[Token]) -> list[_Site]:
        initial = _sentence_initial(text, tokens)
        sites = []
        i = 0
        while i < len(tokens):
            site = self._phrase_site(text, tokens, i, initial[i]) if self._phrases else None
            site = site or self._word_site(tokens, i, initial[i])
            if site is not None:
                sites.append(site)
                i = site.last + 1
            else:
                i += 1
        return sites

    def _word_site(self, tokens: list[Token], i: int, initial: bool) -> _Site | None:
        tok = tokens[i]
        if tok.kind != "word":
            return None
        case = casing(tok.text)
        if case == "upper" or (case == "title" and not initial):
            return None
        surface = tok.text
        m = _POSSESSIVE_RE.match(surface)
        if m:
            surface = m.group("base")
        if any(c in surface for c in "'’-") or self.lexicon.function_alternatives(surface):
            return None
        return _Site(i, i, tok.start, tok.start + len(surface), surface, case)

    def _phrase_site(self, text: str, tokens: list[Token], i: int, initial: bool) -> _Site | None:
        run = []
        for tok in tokens[i : i + self._phrases.max_words]:
            if tok.kind != "word" or (run and text[run[-1].end : tok.start] != " "):
                break
            run.append(tok)
        if len(run) < 2 or casing(run[0].text) == "upper":
            return None
        if (casing(run[0].text) == "title" and not initial) or any(
            t.text[:1].isupper() for t in run[1:]
        ):
            return None
        phrase = self._phrases.match([t.text.lower() for t in run], 0)
        if phrase is None:
            return None
        last = i + phrase.count(" ")
        surface = text[tokens[i].start : tokens[last].end]
        return _Site(i, last, tokens[i].start, tokens[last].end, surface, casing(run[0].text))


class NgramInverseThesaurusRestorer(InverseThesaurusRestorer):
    """The inverse thesaurus's candidates, chosen in context by a trigram model.

    At each word, the word itself and up to ``max_candidates`` of its most frequent qualifying
    headwords are scored by the model over the word and the two tokens after it, left to right
    (earlier choices are the context of later ones); a headword wins only with a log-score gain
    of more than ``min_gain`` over keeping the word.
    """

    def __init__(
        self,
        model: NgramModel,
        lexicon: Lexicon | None = None,
        config: NgramInverseThesaurusConfig | None = None,
        **settings,
    ) -> None:
        super().__init__(lexicon, config, **settings)
        self.model = model

    @staticmethod
    def _default_config() -> NgramInverseThesaurusConfig:
        return NgramInverseThesaurusConfig()

    def restore(self, text: str) -> str:
        tokens = tokenize(text)
        lm = [lm_token(t) for t in tokens]
        sites = {site.first: site for site in self._sites(text, tokens)}
        edits = []
        left: list[str] = []  # the model tokens of the restored text so far
        i = 0
        while i < len(tokens):
            site = sites.get(i)
            options = self.options(site.surface)[: self.config.max_candidates] if site else ()
            if not options:
                left.append(lm[i])
                i += 1
                continue
            right = lm[site.last + 1 : site.last + 3]
            # A possessive clitic outside the site still belongs to the token the model reads.
            clitic = tokens[site.last].text[site.end - tokens[site.last].start :].lower()
            keep = lm[site.first : site.last + 1]
            best, best_tokens = None, keep
            best_score = self.model.score_span(left, keep, right) + self.config.min_gain
            for form, _ in options:
                middle = form.split(" ")
                middle[-1] += clitic
                s = self.model.score_span(left, middle, right)
                if s > best_score:
                    best, best_tokens, best_score = form, middle, s
            if best is not None:
                edits.append((site.start, site.end, apply_casing(best, site.casing)))
            left.extend(best_tokens)
            i = site.last + 1
        return _splice(text, edits)


# -- morphology and casing ------------------------------------------------------------------


def readings(word: str, lexicon: Lexicon) -> tuple[tuple[str, str, str], ...]:
    """The (lemma, pos, tag) readings of a word (lemminflect's, plus the word as a base form) or
    of a phrase (as written, with a plural last word, or with an inflected first verb)."""
    found = []
    words = word.split(" ")
    if len(words) == 1:
        # A thesaurus word that lemminflect does not know ("fete") can still be a base form.
        found = [*word_readings(word), *((word, p, BASE_TAG[p]) for p in BASE_TAG)]
    else:
        found = [(word, pos, BASE_TAG[pos]) for pos in lexicon.poses(word)]
        for lemma, pos, tag in word_readings(words[-1]):
            if pos == "n" and tag == "NNS":
                found.append((" ".join(words[:-1] + [lemma]), "n", tag))
        for lemma, pos, tag in word_readings(words[0]):
            if pos == "v" and tag != "VB":
                found.append((" ".join([lemma] + words[1:]), "v", tag))
    return tuple(dict.fromkeys(found))


def _sentence_initial(text: str, tokens: list[Token]) -> list[bool]:
    """Per token, whether it is the first word of its sentence (restore.text's sentences, so
    "Mr. Fete" is no sentence start) and not capitalised elsewhere mid-sentence (a name)."""
    starts = {start for start, _ in split_sentences(text)}
    flags = [False] * len(tokens)
    at_start = False
    for i, tok in enumerate(tokens):
        at_start = at_start or tok.start in starts
        if tok.kind == "word" and at_start:
            flags[i] = True
        if not (tok.kind == "other" and tok.text in _OPENERS):
            at_start = False
    names = {
        t.text.lower()
        for t, first in zip(tokens, flags)
        if t.kind == "word" and t.text[:1].isupper() and not first
    }
    return [first and t.text.lower() not in names for t, first in zip(tokens, flags)]


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    parts = []
    pos = 0
    for start, end, new in sorted(edits):
        parts.append(text[pos:start])
        parts.append(new)
        pos = end
    parts.append(text[pos:])
    return "".join(parts)

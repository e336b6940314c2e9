"""Part-of-speech readings, inflection and casing of words: shared by the spinner and the
inverse-thesaurus baselines, so that spinning and restoring inflect the same way.

>>> word_readings("greets")
(('greet', 'v', 'VBZ'),)
>>> inflect("eject", "v", "VBZ"), inflect("press conference", "n", "NNS")
('ejects', 'press conferences')
>>> apply_casing("celebration", casing("Party"))
'Celebration'
"""

from __future__ import annotations

from functools import lru_cache

import lemminflect

UPOS = {"NOUN": "n", "VERB": "v", "ADJ": "a", "ADV": "r"}
TAGS = {
    "n": ("NN", "NNS"),
    "v": ("VB", "VBZ", "VBD", "VBN", "VBG"),
    "a": ("JJ", "JJR", "JJS"),
    "r": ("RB", "RBR", "RBS"),
}
BASE_TAG = {"n": "NN", "v": "VB", "a": "JJ", "r": "RB"}


@lru_cache(maxsize=200_000)
def lemmas(word: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """lemminflect's (upos, lemmas) of a word. Cached: lemminflect deep-copies its answer on
    every call, which was half the spinner's time."""
    return tuple(lemminflect.getAllLemmas(word).items())


@lru_cache(maxsize=200_000)
def word_readings(word: str) -> tuple[tuple[str, str, str], ...]:
    """Every (lemma, pos, tag) whose inflection gives ``word``."""
    found = []
    for upos, options in lemmas(word):
        pos = UPOS.get(upos)
        if pos is None:
            continue
        for lemma in options:
            for tag in TAGS[pos]:
                if word in forms(lemma, tag):
                    found.append((lemma, pos, tag))
    return tuple(dict.fromkeys(found))


@lru_cache(maxsize=200_000)
def forms(lemma: str, tag: str) -> tuple[str, ...]:
    """The forms of ``lemma`` for a Penn tag (the lemma itself for base tags)."""
    if tag in BASE_TAG.values():
        return (lemma,)
    return tuple(lemminflect.getInflection(lemma, tag, inflect_oov=False))


def inflect(lemma: str, pos: str, tag: str) -> str | None:
    """A (possibly multiword) lemma in inflection ``tag``; None when it has no such form.

    Nouns inflect their last word (press conferences), verbs their first (took off);
    multiword adjectives and adverbs have no comparative here.
    """
    if tag == BASE_TAG[pos]:
        return lemma
    words = lemma.split(" ")
    if pos in ("a", "r") and len(words) > 1:
        return None
    head = len(words) - 1 if pos == "n" else 0
    options = forms(words[head], tag)
    if not options:
        return None
    words[head] = options[0]
    return " ".join(words)


def casing(word: str) -> str:
    """ "upper" (two or more letters, all capitals), "title" or "lower"."""
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return "upper"
    if letters and letters[0].isupper():
        return "title"
    return "lower"


def apply_casing(text: str, pattern: str) -> str:
    """``text`` in the casing pattern returned by :func:`casing`."""
    if pattern == "upper":
        return text.upper()
    if pattern == "title":
        return text[:1].upper() + text[1:]
    return text

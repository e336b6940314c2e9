"""Build the inverse thesaurus a tagger model ships (:class:`restore.tagger.inverse.InverseTable`).

    python -m training.tagger.inverse --lm runs/ngram --output runs/inverse.npz  # [train,lexicon]

Keys are the words of the n-gram model's vocabulary (the words of the train split), every
multiword headword of the lexicon, every form a spinner can write from the lexicon (each
candidate at least ``--min-zipf`` frequent, in each inflection of its part of speech) and every
function-word alternative; each key maps to the
headwords that list it under any relation and sense (the inverse thesaurus baseline's options
with no frequency floor), inflected like the key, at most ``--top-k`` of them, most frequent
first by wordfreq's Zipf (which rates a multiword original near its rarest word: "strong room"
5.0, as common as "library"; docs/experiments.md, "Phrases rated as common as their words").
Function words map back to the function words that list them ("through" -> "by"), and the
phrases other spinners write (:data:`SPUN_PHRASES`) to the words they stand for ("be that as it
may" -> "however"; rated by wordfreq, so this needs the ``lexicon`` extra). Each original also
records how its entry lists the key: under which relations, and how many words the entry lists
under each (``InverseTable.relations``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from restore.tagger.inverse import InverseTable
from restore.tagger.ngram import SPECIALS, load_ngram_model
from training.baselines import InverseThesaurusRestorer, readings
from training.inflection import TAGS, inflect
from training.lexicon import Lexicon
from training.lexicon_build import zipf as wordfreq_zipf

logger = logging.getLogger(__name__)

# Phrases that popular article spinners write for a function word or phrase, which neither
# thesaurus lists ("be that as it may" for "however", "as indicated by" for "according to").
# Only the table reads them: our spinner does not write them, so our pairs and test figures stay
# what they were. Each phrase must be no other key of the table (tests/test_tagger.py).
SPUN_PHRASES: dict[str, tuple[str, ...]] = {
    "a lot of": ("a ton of",),
    "according to": ("as indicated by", "as reported by", "as stated by"),
    "again": ("yet again",),
    "although": (
        "despite the fact that",
        "in spite of the fact that",
        "regardless of the fact that",
    ),
    "at least": ("at the very least",),
    "because": (
        "on the grounds that",
        "in light of the fact that",
        "due to the fact that",
        "because of the fact that",
        "considering that",
        "seeing as",
    ),
    "because of": ("as a result of", "in view of", "by virtue of"),
    "expected to": ("relied upon to", "anticipated to"),
    "if": ("on the off chance that",),
    "in order to": ("with the goal of", "with the end goal of", "with the end goal to"),
    "instead of": ("in place of", "rather than"),
    "more than": ("in excess of",),
    "about": ("with respect to", "in regards to", "with regards to", "in relation to"),
    "after": ("in the wake of",),
    "however": ("be that as it may", "that being said", "having said that"),
    "in addition": ("what's more", "on top of that"),
    "in fact": ("truth be told",),
    "meanwhile": ("in the interim",),
    "now": ("at this point", "as of now", "right now"),
    "often": ("as often as possible",),
    "recently": ("as of late", "in recent times", "not long ago", "as of not long ago"),
    "so": ("as a result", "along these lines"),
    "so far": ("up until now",),
    "so that": ("with the goal that", "with the end goal that"),
    "soon": ("in the not so distant future", "in a little while"),
    "therefore": ("as a result", "along these lines"),
    "thus": ("along these lines",),
    "usually": ("generally speaking",),
    "whether": ("regardless of whether",),
}
SPUN_KEYS = frozenset(p for phrases in SPUN_PHRASES.values() for p in phrases)


def build_inverse_table(
    words: list[str], lexicon: Lexicon, *, top_k: int = 64, min_zipf: float = 2.0
) -> InverseTable:
    """The inverse table over ``words`` (lower case), the lexicon's phrases and the forms a
    spinner writes."""
    restorer = InverseThesaurusRestorer(lexicon, margin=-99.0, phrases=True)
    keys = dict.fromkeys(w for w in words if w.replace("-", "").replace("'", "").isalpha())
    keys.update(dict.fromkeys(_phrases(lexicon)))
    keys.update(dict.fromkeys(_spinner_outputs(lexicon, min_zipf)))
    function_inverse: dict[str, dict[str, None]] = {}
    for word in lexicon.function_words():
        for alternative in lexicon.function_alternatives(word):
            function_inverse.setdefault(alternative.lower(), {})[word.lower()] = None
    for word, alternatives in SPUN_PHRASES.items():
        for alternative in alternatives:
            function_inverse.setdefault(alternative, {})[word] = None
    keys.update(dict.fromkeys(function_inverse))
    entries, relations = {}, {}
    listing = EntryRelations(lexicon)
    for key in keys:
        options = [] if key in function_inverse else list(restorer.options(key)[:top_k])
        # A phrase the lexicon does not hold is rated by wordfreq, as the lexicon rates the
        # function-word swaps it does ("so as to" 6.29).
        options.extend(
            (w, lexicon.zipf(w) or wordfreq_zipf(w)) for w in function_inverse.get(key, ())
        )
        if options:
            zipf = wordfreq_zipf(key) if key in SPUN_KEYS else _key_zipf(key, lexicon)
            entries[key] = (zipf, options)
            relations[key] = [listing(original, key) for original, _ in options]
    return InverseTable(entries, relations)


class EntryRelations:
    """How a lexicon's entries list a word: ``(original, key) -> {relation: words}`` for each
    relation under which an entry of ``original`` (any reading) lists ``key`` (a reading of
    the same part of speech), with the number of words the entry lists under that relation
    (the smallest, when several readings do).

    >>> EntryRelations(Lexicon.load())("snapped", "snatched")
    {'syn': 13}
    """

    def __init__(self, lexicon: Lexicon):
        self.lexicon = lexicon
        self._lemmas: dict[str, dict[str, frozenset[str]]] = {}
        self._listed: dict[tuple[str, str], dict[str, frozenset[str]]] = {}

    def __call__(self, original: str, key: str) -> dict[str, int]:
        key_lemmas = self._lemmas_by_pos(key)
        found: dict[str, int] = {}
        for pos, lemmas in self._lemmas_by_pos(original).items():
            wanted = key_lemmas.get(pos)
            if not wanted:
                continue
            for lemma in lemmas:
                for relation, words in self._entry(lemma, pos).items():
                    if words & wanted:
                        found[relation] = min(found.get(relation, len(words)), len(words))
        return found

    def _lemmas_by_pos(self, word: str) -> dict[str, frozenset[str]]:
        cached = self._lemmas.get(word)
        if cached is None:
            by_pos: dict[str, set[str]] = {}
            for lemma, pos, _ in readings(word, self.lexicon):
                by_pos.setdefault(pos, set()).add(lemma.lower())
            cached = self._lemmas[word] = {p: frozenset(ls) for p, ls in by_pos.items()}
        return cached

    def _entry(self, lemma: str, pos: str) -> dict[str, frozenset[str]]:
        cached = self._listed.get((lemma, pos))
        if cached is None:
            by_relation: dict[str, set[str]] = {}
            for c in self.lexicon.candidates(lemma, pos):
                by_relation.setdefault(c.relation, set()).add(c.text.lower())
            cached = self._listed[(lemma, pos)] = {
                r: frozenset(words) for r, words in by_relation.items()
            }
        return cached


def _phrases(lexicon: Lexicon) -> list[str]:
    heads = lexicon.phrase_heads()
    return [phrase for first in heads for phrase in heads[first]]


def _spinner_outputs(lexicon: Lexicon, min_zipf: float) -> list[str]:
    """Every inflected form of every candidate at least ``min_zipf`` frequent (the spinner
    never picks rarer ones)."""
    seen: dict[tuple[str, str], None] = {}
    for lemma, pos in lexicon.entries():
        for cand in lexicon.candidates(lemma, pos):
            if lexicon.zipf(cand.text) >= min_zipf:
                seen[(cand.text.lower(), pos)] = None
    found: dict[str, None] = {}
    for text, pos in seen:
        for tag in TAGS[pos]:
            form = inflect(text, pos, tag)
            if form is not None:
                found[form] = None
    return list(found)


def _key_zipf(key: str, lexicon: Lexicon) -> float:
    found = lexicon.zipf(key)
    if found:
        return found
    return max((lexicon.zipf(lemma) for lemma, _, _ in readings(key, lexicon)), default=0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tagger.inverse", description=__doc__)
    parser.add_argument("--lm", required=True, help="n-gram model folder (its vocabulary)")
    parser.add_argument("--output", required=True, help="the .npz file to write")
    parser.add_argument("--top-k", type=int, default=64, help="originals kept per key")
    parser.add_argument("--min-zipf", type=float, default=2.0, help="rarest spinner output")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        print(f"error: {out} exists (use --overwrite)", file=sys.stderr)
        return 2
    started = time.time()
    vocab = [w for w in load_ngram_model(args.lm).vocab if w not in SPECIALS]
    table = build_inverse_table(vocab, Lexicon.load(), top_k=args.top_k, min_zipf=args.min_zipf)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.save(out)
    logger.info(
        "%d keys, %d originals, %.0f s -> %s (%.1f MB)",
        len(table),
        sum(len(c) for _, c in table.entries().values()),
        time.time() - started,
        out,
        out.stat().st_size / 1e6,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

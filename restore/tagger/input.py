"""The tagger's input: one owner of the text -> model-input format, for training and inference.

A unit of text becomes

* its tokens (:func:`restore.text.tokenize`), fed to the encoder as pre-split words, with the
  first word piece of each token marked;
* its *sites*: the words and phrases of the model's inverse thesaurus
  (:mod:`restore.tagger.inverse`), each with up to ``max_candidates`` originals (the most
  frequent first) and, per original, evidence the encoder cannot learn on two CPU cores: the
  trigram model's log-score gain of the original over the written word in this context, how
  much better the original fits the rest of the unit's topic than the written word
  (:mod:`restore.tagger.context`; the trigram sees two words either side), and Zipf
  frequencies.

The unit comes prepared (:func:`restore.text.prepare_unit`: normalised and tokenised once), and
its word pieces are encoded here once, for the batch and for measuring its length.

>>> from restore.tagger.inverse import InverseTable
>>> from restore.text import prepare_unit
>>> table = InverseTable({"fete": (2.0, [("party", 5.5), ("feast", 4.0)])})
>>> spun = UnitPieces(prepare_unit("The  fete ended."))  # no word pieces
>>> unit = encode_unit(spun, table, lm=None, context=None, max_candidates=8)
>>> unit.text, [t.text for t in unit.tokens], [(s.first, s.last, s.key) for s in unit.sites]
('The fete ended.', ['The', 'fete', 'ended', '.'], [(1, 1, 'fete')])
>>> unit.sites[0].candidates
('party', 'feast')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from restore.tagger.context import ContextVectors, unit_length
from restore.tagger.inverse import InverseTable
from restore.tagger.ngram import BOS, EOS, NgramModel, lm_token
from restore.text import Token, Unit

# Per candidate: LM gain over the written word (clipped, scaled), the candidate's Zipf, its
# Zipf above the written word's, its rank among the candidates, its word count change, and its
# topic fit above the written word's.
CANDIDATE_FEATURE_NAMES = (
    "lm_gain",
    "zipf",
    "zipf_above_spun",
    "rank",
    "word_count_change",
    "topic_fit",
)
CANDIDATE_FEATURES = len(CANDIDATE_FEATURE_NAMES)
# Per site: the best LM gain among its candidates, the written word's Zipf, the candidate
# count, and the written word's topic fit.
SITE_FEATURE_NAMES = ("best_lm_gain", "spun_zipf", "candidates", "topic_fit")
SITE_FEATURES = len(SITE_FEATURE_NAMES)
# A candidate's word pieces beyond this many are left out of its embedding.
MAX_CANDIDATE_PIECES = 6
_CANDIDATE_CACHE = 1 << 18
_FIT_SCALE = 4.0
_GAIN_CLIP = 15.0


@dataclass(frozen=True)
class SiteInput:
    """Tokens ``first..last`` (inclusive) of a unit form ``key``, a word or phrase that a
    spinner may have written; ``candidates`` are its possible originals (lower case)."""

    first: int
    last: int
    start: int
    end: int
    key: str
    candidates: tuple[str, ...]
    candidate_ids: np.ndarray  # (len(candidates),) int64: their ids among the table's words
    features: np.ndarray  # (len(candidates), CANDIDATE_FEATURES) float32
    site_features: np.ndarray  # (SITE_FEATURES,) float32


@dataclass(frozen=True)
class UnitPieces:
    """A prepared unit and its word pieces: ``ids`` with [CLS] and [SEP], and the first piece
    of each of its tokens (what the Restorer measures a unit by)."""

    unit: Unit
    ids: tuple[int, ...] = ()
    first: tuple[int, ...] = ()


@dataclass(frozen=True)
class UnitInput:
    """A unit as the network reads it: its normalised text and tokens, its sites, and its word
    pieces (``piece_ids`` with [CLS] and [SEP]; ``first_pieces``: each token's first piece;
    both empty where no piece encoder was given)."""

    text: str
    tokens: tuple[Token, ...]
    sites: tuple[SiteInput, ...]
    piece_ids: tuple[int, ...] = ()
    first_pieces: tuple[int, ...] = ()


class PieceEncoder:
    """Word-piece ids of units and candidates, with a bounded cache for the candidates.

    Words go to the encoder as pre-split words (the word-piece tokenizer's ``is_pretokenized``),
    so every token of :func:`restore.text.tokenize` has a first word piece whose vector stands
    for it.
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.token_to_id("[PAD]") or 0
        self._vocab = tokenizer.get_vocab()
        self._candidates: dict[str, list[int]] = {}

    def unit(self, unit: Unit) -> UnitPieces:
        """The unit's word-piece ids (with [CLS] and [SEP]) and the first piece of each token."""
        tokens = unit.tokens
        encoding = self.tokenizer.encode([t.text for t in tokens], is_pretokenized=True)
        first: dict[int, int] = {}
        for pos, word in enumerate(encoding.word_ids):
            if word is not None and word not in first:
                first[word] = pos
        # A token the tokenizer drops entirely (a lone control mark) reads as [CLS].
        firsts = tuple(first.get(i, 0) for i in range(len(tokens)))
        return UnitPieces(unit, tuple(encoding.ids), firsts)

    def candidates(self, texts: Sequence[str]) -> list[list[int]]:
        """Each candidate's word-piece ids, at most MAX_CANDIDATE_PIECES; those not seen before
        are encoded in one call (a batch meets thousands, one call each cost most of its time)."""
        cache = self._candidates
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            # Bounded: candidates come from the table, but a long job meets many of them.
            if len(cache) + len(missing) > _CANDIDATE_CACHE:
                cache.clear()
            # A lower-case ASCII word the vocabulary holds whole is that one piece (word-piece
            # matching is greedy, longest first); only the rest needs the tokenizer.
            vocab = self._vocab
            hard = []
            for text in missing:
                if text in vocab and text.isascii() and text.isalpha() and text.islower():
                    cache[text] = [vocab[text]]
                else:
                    hard.append(text)
            encoded = self.tokenizer.encode_batch(hard, add_special_tokens=False)
            for text, encoding in zip(hard, encoded):
                cache[text] = encoding.ids[:MAX_CANDIDATE_PIECES] or [self.pad_id]
        return [cache[t] for t in texts]


def encode_unit(
    pieces: UnitPieces,
    table: InverseTable,
    *,
    lm: NgramModel | None,
    context: ContextVectors | None,
    max_candidates: int,
    trained_candidates: int | None = None,
) -> UnitInput:
    """Tokens, word pieces, sites, candidates and their features of one prepared unit; without
    ``lm`` or ``context`` their features are zero. Rank and count features are scaled by
    ``trained_candidates`` (default ``max_candidates``), the count the network trained on."""
    unit = pieces.unit
    tokens = unit.tokens
    by_start = {t.start: i for i, t in enumerate(tokens)}
    by_end = {t.end: i for i, t in enumerate(tokens)}
    found = []
    for site in table.match(tokens):
        originals = table.originals(site.key, max_candidates)
        found.append((by_start[site.start], by_end[site.end], site, originals))
    lm_words = [lm_token(t) for t in tokens]
    sites = _site_inputs(table, lm, context, lm_words, found, trained_candidates or max_candidates)
    return UnitInput(unit.normal, tokens, tuple(sites), pieces.ids, pieces.first)


def refit_sites(
    unit: UnitInput,
    restored: Mapping[int, str],
    indices: Sequence[int],
    table: InverseTable,
    *,
    lm: NgramModel | None,
    context: ContextVectors | None,
    max_candidates: int,
    trained_candidates: int | None = None,
) -> list[SiteInput]:
    """The sites ``indices`` of ``unit`` with their evidence recomputed in a partly restored
    context: each site ``k`` of ``restored`` reads as its original ``restored[k]`` (a lower-case
    word or phrase). In spun text a site's neighbours are often spun too, and the counts see
    them as written; with the sure ones put back, the counts judge the rest in truer context."""
    words: list[str] = []
    where: dict[int, tuple[int, int]] = {}
    starts = {site.first: k for k, site in enumerate(unit.sites)}
    i = 0
    while i < len(unit.tokens):
        k = starts.get(i)
        if k is None:
            words.append(lm_token(unit.tokens[i]))
            i += 1
            continue
        site = unit.sites[k]
        begin = len(words)
        if k in restored:
            words.extend(restored[k].split(" "))
        else:
            words.extend(lm_token(t) for t in unit.tokens[site.first : site.last + 1])
        where[k] = (begin, len(words) - 1)
        i = site.last + 1
    found = [
        (*where[k], unit.sites[k], table.originals(unit.sites[k].key, max_candidates))
        for k in indices
    ]
    refit = _site_inputs(table, lm, context, words, found, trained_candidates or max_candidates)
    # Token positions stay the unit's: only the evidence changes.
    return [
        dataclasses.replace(new, first=unit.sites[k].first, last=unit.sites[k].last)
        for k, new in zip(indices, refit)
    ]


def _site_inputs(
    table: InverseTable,
    lm: NgramModel | None,
    context: ContextVectors | None,
    lm_words: list[str],
    found: list,
    scale: int,
) -> list[SiteInput]:
    """A :class:`SiteInput` for each ``(first, last, site, originals)`` of ``found``, its
    evidence read from ``lm_words``, the unit's tokens as the counts read them; ranks and
    counts of candidates as fractions of ``scale``."""
    gains = _lm_gains(lm, lm_words, found)
    fits = _topic_fits(context, lm_words, found)
    sites = []
    for (first, last, site, originals), gain, (fit, key_fit) in zip(found, gains, fits):
        key_zipf = table.zipf(site.key)
        n = len(originals.words)
        key_words = site.key.count(" ") + 1
        feats = np.zeros((n, CANDIDATE_FEATURES), dtype=np.float32)
        feats[:, 0] = gain / 5.0
        feats[:, 1] = originals.zipf / 8.0
        feats[:, 2] = (originals.zipf - key_zipf) / 4.0
        feats[:, 3] = np.arange(n) / max(scale, 1)
        feats[:, 4] = (originals.word_counts - key_words) / 2.0
        feats[:, 5] = (fit - key_fit) * _FIT_SCALE
        best = float(gain.max()) / 5.0 if n else -_GAIN_CLIP / 5.0
        site_feats = np.array(
            [best, key_zipf / 8.0, min(n, scale) / max(scale, 1), key_fit * _FIT_SCALE],
            np.float32,
        )
        sites.append(
            SiteInput(
                first,
                last,
                site.start,
                site.end,
                site.key,
                originals.words,
                originals.ids,
                feats,
                site_feats,
            )
        )
    return sites


def _lm_gains(lm: NgramModel | None, words: list[str], found: list) -> list[np.ndarray]:
    """Per site, each candidate's clipped log-score gain over the written word in context:
    the trigram scores of the candidate and the two tokens after it, given the two before
    (``NgramModel.score_span``), all sites and candidates of the unit in one lookup.

    Every option (the written words, then each original) is laid out as ``left + option +
    right`` in one array, built by index arithmetic: a unit has thousands of options."""
    if lm is None:
        return [np.zeros(len(o.words), dtype=np.float32) for *_, o in found]
    if not found:
        return []
    bos, eos = lm.ids[BOS], lm.ids[EOS]
    ids = [lm.id_of(w) for w in words]
    options, lengths, sides, per_site = [], [], [], []
    for first, last, _, originals in found:
        left = ([bos, bos] + ids[max(first - 2, 0) : first])[-2:]
        right = ids[last + 1 : last + 3]
        if len(right) < 2:
            right = [*right, eos]
        flat, lens = lm.phrases_ids(originals.words)
        options += [ids[first : last + 1], flat]
        lengths += [[last + 1 - first], lens]
        # left, left, right, right (-1: none), and the right side's length
        sides.append([*left, *right, -1][:4] + [len(right)])
        per_site.append(1 + len(lens))
    flat = np.concatenate([np.asarray(o, dtype=np.int64) for o in options])
    lens = np.concatenate([np.asarray(n, dtype=np.int64) for n in lengths])
    side = np.repeat(np.array(sides, dtype=np.int64), per_site, axis=0)
    n_options = len(lens)
    width = 2 + lens + side[:, 4]  # tokens in each option's sequence
    start = np.concatenate([[0], np.cumsum(width)[:-1]]).astype(np.int64)
    seq = np.empty(int(width.sum()), dtype=np.int64)
    seq[start] = side[:, 0]
    seq[start + 1] = side[:, 1]
    seq[run_positions(start + 2, lens)] = flat
    seq[start + 2 + lens] = side[:, 2]
    two = side[:, 4] == 2
    seq[(start + 3 + lens)[two]] = side[two, 3]
    trigrams = width - 2
    at = run_positions(start, trigrams)
    owner = np.repeat(np.arange(n_options), trigrams)
    scores = np.bincount(
        owner, weights=lm.logscores(seq[at], seq[at + 1], seq[at + 2]), minlength=n_options
    )
    gains, at = [], 0
    for n in per_site:
        gain = np.clip(scores[at + 1 : at + n] - scores[at], -_GAIN_CLIP, _GAIN_CLIP)
        gains.append(gain.astype(np.float32))
        at += n
    return gains


def run_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``starts[j], starts[j] + 1, ..., starts[j] + lengths[j] - 1`` for every run ``j``, end to
    end: where each run's items go, without a loop over the runs.

    >>> run_positions(np.array([10, 20]), np.array([2, 3])).tolist()
    [10, 11, 20, 21, 22]
    """
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))


def _topic_fits(
    context: ContextVectors | None, words: list[str], found: list
) -> list[tuple[np.ndarray, float]]:
    """Per site, each candidate's and the written words' fit with the topic of the rest of
    the unit (the unit's word vectors less the site's own)."""
    if context is None:
        return [(np.zeros(len(o.words), dtype=np.float32), 0.0) for *_, o in found]
    ids = np.array([context.index.get(w, -1) for w in words], dtype=np.int64)
    vectors = np.zeros((len(words), context.vectors.shape[1]), dtype=np.float32)
    vectors[ids >= 0] = context.vectors[ids[ids >= 0]]
    total = vectors.sum(axis=0)
    out = []
    for first, last, site, originals in found:
        topic = unit_length(total - vectors[first : last + 1].sum(axis=0))
        fit = context.fits((site.key, *originals.words), topic)
        out.append((fit[1:], float(fit[0])))
    return out

"""Edit-level metrics for restoring spun text, after grammatical error correction's practice.

A restorer mostly copies its input and changes a few words, so, like ERRANT and the M2 scorer,
we score *edits* rather than whole strings. Both sides are aligned on the spun text's tokens
(:func:`restore.text.tokenize`: words, numbers, punctuation):

* gold edits turn the spun text into the original, system edits turn it into the restored text;
* an edit is ``(start, end, content)``: the spun token span it replaces (``start == end`` for an
  insertion) and the target tokens (empty for a deletion), content lower-cased;
* a system edit is a true positive when a gold edit has the same span and the same content.

Precision, recall and F0.5 are corpus-level (counts summed over examples), with ERRANT's
conventions: no system edits gives P = 1, no gold edits gives R = 1, P = R = 0 gives F = 0.
So copying the input scores P = 1, R = 0, F0.5 = 0, and on clean text it scores 1, 1, 1.

Alignment is ``difflib.SequenceMatcher`` over the exact token strings with ``autojunk=False``
(the default junk heuristic would treat frequent tokens such as "the" as unmatchable in long
texts). Its blocks become edits; a replacement of n tokens by n tokens is split into n one-token
edits, so adjacent swapped words count separately, while a block of unequal lengths (a word for
a phrase) stays one edit. Because the alignment is case-sensitive, a case-only change ("The" ->
"the") is a system edit, hence a false positive; content is compared case-insensitively, so
"Fete" -> "party" matches the gold "Fete" -> "Party".

>>> s = score(["The fete began ."], ["The party began ."], ["The party started ."])
>>> s["tp"], s["fp"], s["fn"], s["precision"], s["recall"]
(1, 1, 0, 0.5, 1.0)
>>> round(s["f0.5"], 4)
0.5556
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from restore.text import Token, tokenize

BETA = 0.5
# Penn tags that are the base form: a substitution with any other tag is an inflected one.
_BASE_TAGS = frozenset({"NN", "VB", "JJ", "RB", "", "F"})


@dataclass(frozen=True, order=True)
class Edit:
    """Replace spun tokens ``start:end`` by ``content`` (lower-cased target tokens)."""

    start: int
    end: int
    content: tuple[str, ...]


@dataclass(frozen=True)
class ExampleScore:
    """Edits of one (spun, original, restored) triple; ``tokens`` counts spun tokens."""

    gold: tuple[Edit, ...]
    system: tuple[Edit, ...]
    tokens: int
    clean: bool  # the spun text is the original (nothing to restore)
    exact: bool  # the restored tokens equal the original tokens (case-sensitive)
    matched: frozenset[Edit] = field(default_factory=frozenset)

    @property
    def tp(self) -> int:
        return len(self.matched)

    @property
    def fp(self) -> int:
        return len(self.system) - len(self.matched)

    @property
    def fn(self) -> int:
        return len(self.gold) - len(self.matched)


@dataclass(frozen=True)
class SubstitutionOutcome:
    """Whether one spinner substitution was restored, with what describes it."""

    kind: str  # "word", "phrase" or "function"
    pos: str  # "n", "v", "a", "r" or "f"
    inflected: bool
    restored: bool


def token_texts(text: str) -> list[str]:
    """The token strings of ``text`` (the unit every metric here counts)."""
    return [t.text for t in tokenize(text)]


def align(source: Sequence[str], target: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes ``(tag, i1, i2, j1, j2)`` turning ``source`` tokens into ``target`` tokens.

    Like ``SequenceMatcher.get_opcodes`` (without autojunk), except that equal blocks and
    replacements of equal length are split into one-token pieces.

    >>> align(["a", "b", "c"], ["a", "x", "y"])
    [('equal', 0, 1, 0, 1), ('replace', 1, 2, 1, 2), ('replace', 2, 3, 2, 3)]
    """
    matcher = difflib.SequenceMatcher(None, source, target, autojunk=False)
    pieces = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("equal", "replace") and i2 - i1 == j2 - j1:
            pieces.extend((tag, i1 + k, i1 + k + 1, j1 + k, j1 + k + 1) for k in range(i2 - i1))
        else:
            pieces.append((tag, i1, i2, j1, j2))
    return pieces


def edits_between(source: Sequence[str], target: Sequence[str]) -> list[Edit]:
    """The edits turning ``source`` tokens into ``target`` tokens, in order.

    >>> edits_between(["the", "fete", "began"], ["the", "political", "party", "began"])
    [Edit(start=1, end=2, content=('political', 'party'))]
    """
    return [
        Edit(i1, i2, tuple(t.lower() for t in target[j1:j2]))
        for tag, i1, i2, j1, j2 in align(source, target)
        if tag != "equal"
    ]


def extract_edits(source: str, target: str) -> list[Edit]:
    """The edits turning text ``source`` into text ``target`` (tokenised with restore.text)."""
    return edits_between(token_texts(source), token_texts(target))


def score_example(spun: str, original: str, restored: str) -> ExampleScore:
    """Gold and system edits of one example, and which system edits are correct.

    >>> ex = score_example("A big fete .", "A big party .", "A large party .")
    >>> ex.tp, ex.fp, ex.fn, ex.tokens
    (1, 1, 0, 4)
    """
    spun_tokens = token_texts(spun)
    original_tokens = token_texts(original)
    restored_tokens = token_texts(restored)
    gold = edits_between(spun_tokens, original_tokens)
    system = edits_between(spun_tokens, restored_tokens)
    return ExampleScore(
        gold=tuple(gold),
        system=tuple(system),
        tokens=len(spun_tokens),
        clean=spun == original,
        exact=restored_tokens == original_tokens,
        matched=frozenset(gold) & frozenset(system),
    )


def prf(tp: int, fp: int, fn: int, beta: float = BETA) -> tuple[float, float, float]:
    """Precision, recall and F-beta with ERRANT's conventions for empty denominators.

    >>> prf(0, 0, 3)
    (1.0, 0.0, 0.0)
    >>> prf(0, 0, 0)
    (1.0, 1.0, 1.0)
    """
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    b2 = beta * beta
    denominator = b2 * precision + recall
    f = (1 + b2) * precision * recall / denominator if denominator else 0.0
    return precision, recall, f


def edit_counts(examples: Iterable[ExampleScore]) -> dict[str, Any]:
    """Summed edit counts and P, R, F0.5 of some examples."""
    tp = fp = fn = tokens = 0
    for ex in examples:
        tp, fp, fn, tokens = tp + ex.tp, fp + ex.fp, fn + ex.fn, tokens + ex.tokens
    precision, recall, f = prf(tp, fp, fn)
    return {
        "precision": precision,
        "recall": recall,
        "f0.5": f,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tokens": tokens,
    }


def false_change_rate(examples: Iterable[ExampleScore]) -> dict[str, Any]:
    """System edits per 100 spun tokens over the clean examples; ``None`` rate if there are none.

    On clean text every system edit is a false change.
    """
    edits = tokens = n = 0
    for ex in examples:
        if ex.clean:
            edits, tokens, n = edits + len(ex.system), tokens + ex.tokens, n + 1
    rate = 100.0 * edits / tokens if tokens else (0.0 if n else None)
    return {
        "false_changes_per_100_tokens": rate,
        "false_changes": edits,
        "clean_examples": n,
        "clean_tokens": tokens,
    }


def substitution_outcomes(
    spun: str, original: str, restored: str, substitutions: Sequence[Mapping[str, Any]]
) -> list[SubstitutionOutcome]:
    """Per spinner substitution, whether the restored text holds the original words there.

    Each substitution needs ``spun_start``/``spun_end`` (its character span in the spun text)
    and ``original`` (the text it replaced). Undoing the substitutions in order gives each one's
    span in the original text; the original tokens overlapping it (a whole token, so "party's"
    when only "party" was swapped) must all survive in the restored text: aligned unchanged,
    ignoring case, by the original -> restored alignment, with nothing inserted among or right
    next to them (keeping "public press" where the original says "press" is not a restoration).
    Aligning with the original rather than the spun text keeps a substitution's boundaries
    exact: "council" spun from "city council" and put back is one restored substitution. The
    spun words, or the text right next to them, must also have been changed (spun -> restored
    alignment), so a copy of the input never counts, even where the spun words contain the
    original ("good" spun from "good enough").

    >>> subs = [{"spun_start": 4, "spun_end": 8, "original": "party", "kind": "word",
    ...          "pos": "n", "tag": "NN"}]
    >>> [o.restored for o in substitution_outcomes("The fete .", "The party .", "The Party .",
    ...                                              subs)]
    [True]
    """
    original_tokens = tokenize(original)
    restored_lower = [t.lower() for t in token_texts(restored)]
    kept, inserted = _survivors(align([t.text.lower() for t in original_tokens], restored_lower))
    spun_tokens = tokenize(spun)
    spun_changes = [
        (i1, i2)
        for tag, i1, i2, _, _ in align([t.text.lower() for t in spun_tokens], restored_lower)
        if tag != "equal"
    ]
    outcomes = []
    shift = 0  # length of the original text minus the spun text, before the current span
    for sub in sorted(substitutions, key=lambda x: x["spun_start"]):
        start = sub["spun_start"] + shift
        end = start + len(sub["original"])
        shift += len(sub["original"]) - (sub["spun_end"] - sub["spun_start"])
        c, d = _token_span(original_tokens, start, end)
        survived = c < d and all(kept[c:d]) and not any(c <= k <= d for k in inserted)
        # The spun words, or the text right next to them, must have been changed: an alignment
        # that finds the original words inside the spun ones must not credit a copy.
        a, b = _token_span(spun_tokens, sub["spun_start"], sub["spun_end"])
        changed = any(i1 <= b and i2 >= a for i1, i2 in spun_changes)
        tag = sub.get("tag", "")
        outcomes.append(
            SubstitutionOutcome(
                kind=sub.get("kind", "word"),
                pos=sub.get("pos") or "unknown",
                inflected=bool(sub.get("inflected", tag not in _BASE_TAGS)),
                restored=survived and changed,
            )
        )
    return outcomes


def accuracy_slices(outcomes: Iterable[SubstitutionOutcome]) -> dict[str, Any]:
    """Restored-substitution accuracy overall and by kind, inflection and part of speech."""
    groups: dict[str, dict[str, list[int]]] = {"kind": {}, "inflection": {}, "pos": {}}
    total = [0, 0]
    for o in outcomes:
        keys = {
            "kind": o.kind,
            "inflection": "inflected" if o.inflected else "base",
            "pos": o.pos,
        }
        for group, key in keys.items():
            cell = groups[group].setdefault(key, [0, 0])
            cell[0] += o.restored
            cell[1] += 1
        total[0] += o.restored
        total[1] += 1
    result: dict[str, Any] = {
        "word_accuracy": total[0] / total[1] if total[1] else None,
        "substitutions": total[1],
    }
    for group, cells in groups.items():
        result[f"word_accuracy_by_{group}"] = {
            key: {"accuracy": hit / n, "count": n} for key, (hit, n) in sorted(cells.items())
        }
    return result


def text_scores(spun: Sequence[str], original: Sequence[str], restored: Sequence[str]) -> dict:
    """BLEU and chrF (sacrebleu, corpus level) of the restored and of the copied input."""
    import sacrebleu  # only callers that want these pay for the import

    if not original:
        return {"bleu": None, "chrf": None, "copy_bleu": None, "copy_chrf": None}
    refs = [list(original)]
    return {
        "bleu": sacrebleu.corpus_bleu(list(restored), refs).score,
        "chrf": sacrebleu.corpus_chrf(list(restored), refs).score,
        "copy_bleu": sacrebleu.corpus_bleu(list(spun), refs).score,
        "copy_chrf": sacrebleu.corpus_chrf(list(spun), refs).score,
    }


def score(
    spun: Sequence[str],
    original: Sequence[str],
    restored: Sequence[str],
    substitutions: Sequence[Sequence[Mapping[str, Any]]] | None = None,
    *,
    text_metrics: bool = True,
) -> dict[str, Any]:
    """Every aggregate metric of a set of examples, as a flat-ish JSON-ready dict.

    Keys: ``precision``, ``recall``, ``f0.5``, ``tp``, ``fp``, ``fn``, ``tokens`` (over all
    examples, clean ones included, as ERRANT would); ``false_changes_per_100_tokens`` (over the
    examples whose spun text equals the original; ``None`` when there are none),
    ``false_changes``, ``clean_examples``, ``clean_tokens``; ``exact_match`` (share of examples
    whose restored tokens equal the original's); ``examples``; with ``text_metrics``: ``bleu``,
    ``chrf``, ``copy_bleu``, ``copy_chrf``; with ``substitutions`` (one list of spinner
    substitution dicts per example): ``word_accuracy`` and its slices by kind, inflection and
    part of speech.

    >>> s = score(["a fete"], ["a party"], ["a fete"], text_metrics=False)
    >>> s["precision"], s["recall"], s["f0.5"], s["exact_match"]
    (1.0, 0.0, 0.0, 0.0)
    """
    if not len(spun) == len(original) == len(restored):
        raise ValueError(
            f"spun, original and restored differ in length: "
            f"{len(spun)}, {len(original)}, {len(restored)}"
        )
    if substitutions is not None and len(substitutions) != len(spun):
        raise ValueError(f"substitutions has {len(substitutions)} rows for {len(spun)} examples")
    examples = [score_example(s, o, r) for s, o, r in zip(spun, original, restored)]
    result: dict[str, Any] = {"examples": len(examples)}
    result.update(edit_counts(examples))
    result.update(false_change_rate(examples))
    result["exact_match"] = sum(ex.exact for ex in examples) / len(examples) if examples else None
    if text_metrics:
        result.update(text_scores(spun, original, restored))
    if substitutions is not None:
        outcomes = [
            outcome
            for row in zip(spun, original, restored, substitutions)
            for outcome in substitution_outcomes(*row)
        ]
        result.update(accuracy_slices(outcomes))
    return result


def _survivors(pieces: list[tuple[str, int, int, int, int]]) -> tuple[list[bool], set[int]]:
    """Per source token, whether it is aligned unchanged; and where target tokens are inserted."""
    size = pieces[-1][2] if pieces else 0
    kept = [False] * size
    inserted = set()
    for tag, i1, _, _, _ in pieces:
        if tag == "equal":
            kept[i1] = True
        elif tag == "insert":
            inserted.add(i1)
    return kept, inserted


def _token_span(tokens: list[Token], start: int, end: int) -> tuple[int, int]:
    """Indices of the tokens overlapping characters ``start:end`` (an empty span: where it is)."""
    starts = [t.start for t in tokens]
    first = bisect.bisect_right(starts, start) - 1
    if first < 0 or tokens[first].end <= start:
        first += 1
    last = bisect.bisect_left(starts, end)
    return first, max(first, last)

"""The do-no-harm guard: when a restored unit is not trusted, the unit keeps its input.

A spinner swaps words; it does not touch numbers or names, does not write much longer or shorter
text, and the model is sure of itself when it undoes a swap. A restored unit that breaks one of
these expectations is more likely a model error than a restoration, so the Restorer keeps the
input unit and reports why. Thresholds live in :class:`restore.settings.GuardSettings`
(``restore.json``) and can be overridden when loading a model.

The guard also makes the Restorer's other decisions about a unit: :func:`judge` gives its
status before edits are made, :func:`withhold` drops edits less sure than the threshold.

>>> from restore.settings import GuardSettings
>>> from restore.text import prepare_unit
>>> unit = prepare_unit("He paid 40 dollars.")
>>> check(unit, "He paid 14 dollars.", confidence=0.9, guard=GuardSettings())
('number_changed',)
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from restore.settings import GuardSettings
from restore.text import Token, Unit, is_mid_sentence_capital, tokenize

RESTORED = "restored"  # the unit's restoration was accepted (it has edits)
UNCHANGED = "unchanged"  # the model left the unit's words as they were
REJECTED = "rejected"  # the guard kept the input; ``reasons`` says why
SKIPPED = "skipped"  # the unit was not sent to the model (or not aligned); ``reasons`` says why
SOURCE_TOO_LONG = "source_too_long"
TOKEN_MISMATCH = "token_mismatch"
UNREPRESENTABLE = "unrepresentable"  # the tokenizer does not round-trip the unit

NUMBER_CHANGED = "number_changed"
NAME_CHANGED = "name_changed"
LENGTH_RATIO = "length_ratio"
LOW_CONFIDENCE = "low_confidence"
UNPLACED_EDITS = "unplaced_edits"
UNFINISHED = "unfinished"
LOW_EDIT_CONFIDENCE = "low_edit_confidence"  # some edits withheld, the others made
REASONS = (
    NUMBER_CHANGED,
    NAME_CHANGED,
    LENGTH_RATIO,
    LOW_CONFIDENCE,
    UNPLACED_EDITS,
    UNFINISHED,
    LOW_EDIT_CONFIDENCE,
)


def check(
    unit: Unit,
    restored: str,
    *,
    confidence: float,
    guard: GuardSettings,
    finished: bool = True,
    failed_items: int = 0,
) -> tuple[str, ...]:
    """Reasons to reject ``restored`` (normalised) as the restoration of ``unit``.

    An empty tuple accepts it. ``finished`` is false when the model stopped at its length limit;
    ``failed_items`` counts edit-list items that could not be placed (edits format).
    """
    reasons = []
    before, after = list(unit.tokens), tokenize(restored)
    if guard.keep_numbers and _numbers(before) != _numbers(after):
        reasons.append(NUMBER_CHANGED)
    if guard.keep_names and _names_differ(before, after):
        reasons.append(NAME_CHANGED)
    if not _length_ok(before, after, guard.max_length_ratio):
        reasons.append(LENGTH_RATIO)
    if confidence < guard.min_confidence:
        reasons.append(LOW_CONFIDENCE)
    if failed_items:
        reasons.append(UNPLACED_EDITS)
    if not finished:
        reasons.append(UNFINISHED)
    return tuple(reasons)


def judge(
    unit: Unit,
    restored: str,
    changes: Sequence | None,
    *,
    confidence: float,
    guard: GuardSettings,
    finished: bool = True,
    failed_items: int = 0,
) -> tuple[str, tuple[str, ...]] | None:
    """The status and reasons of a unit whose output gave ``restored`` and aligned to
    ``changes`` (None: not aligned), or None when its edits are to be made.

    >>> from restore.text import prepare_unit
    >>> judge(prepare_unit("A b."), "A b.", [], confidence=0.9, guard=GuardSettings())
    ('unchanged', ())
    """
    if changes is None:
        return SKIPPED, (TOKEN_MISMATCH,)
    if not changes:
        return UNCHANGED, ()
    reasons = check(
        unit,
        restored,
        confidence=confidence,
        guard=guard,
        finished=finished,
        failed_items=failed_items,
    )
    return (REJECTED, reasons) if reasons else None


Confident = TypeVar("Confident")


def withhold(
    edits: Sequence[Confident], guard: GuardSettings
) -> tuple[tuple[Confident, ...], tuple[Confident, ...], str, tuple[str, ...]]:
    """The edits (anything with a ``confidence``) sure enough to make, those withheld, the
    unit's status and its reasons (:data:`LOW_EDIT_CONFIDENCE` when some were withheld)."""
    kept = tuple(e for e in edits if e.confidence >= guard.min_edit_confidence)
    withheld = tuple(e for e in edits if e.confidence < guard.min_edit_confidence)
    reasons = (LOW_EDIT_CONFIDENCE,) if withheld else ()
    return kept, withheld, RESTORED if kept else UNCHANGED, reasons


def resolve_guard(
    base: GuardSettings, override: GuardSettings | Mapping[str, Any] | None
) -> GuardSettings:
    """``base`` with ``override`` applied (a whole GuardSettings, or the fields to change);
    raises ValueError for unknown fields or thresholds out of range."""
    if override is None:
        result = base
    elif isinstance(override, GuardSettings):
        result = override
    else:
        try:
            result = dataclasses.replace(base, **dict(override))
        except TypeError as err:
            raise ValueError(f"unknown guard setting: {err}") from err
    if not 0.0 <= result.min_confidence <= 1.0:
        raise ValueError("guard min_confidence must lie in [0, 1]")
    if not 0.0 <= result.min_edit_confidence <= 1.0:
        raise ValueError("guard min_edit_confidence must lie in [0, 1]")
    if not 0.0 <= result.min_suggestion_confidence <= 1.0:
        raise ValueError("guard min_suggestion_confidence must lie in [0, 1]")
    if result.max_length_ratio < 1.0:
        raise ValueError("guard max_length_ratio must be at least 1")
    return result


def _numbers(tokens: list[Token]) -> Counter[str]:
    return Counter(t.text for t in tokens if t.kind == "number")


def _names_differ(before: list[Token], after: list[Token]) -> bool:
    """Whether a mid-sentence capitalised word of either side occurs a different number of times
    on the other side (anywhere, so a name that moves to the start of a sentence still counts)."""
    count_before = Counter(t.text for t in before)
    count_after = Counter(t.text for t in after)
    names = _mid_sentence_capitals(before) | _mid_sentence_capitals(after)
    return any(count_before[name] != count_after[name] for name in names)


def _mid_sentence_capitals(tokens: list[Token]) -> set[str]:
    return {t.text for i, t in enumerate(tokens) if is_mid_sentence_capital(tokens, i)}


def _length_ok(before: list[Token], after: list[Token], max_ratio: float) -> bool:
    n_before = sum(1 for t in before if t.kind != "other")
    n_after = sum(1 for t in after if t.kind != "other")
    if n_before == 0 or n_after == 0:
        return n_before == n_after
    ratio = n_after / n_before
    return 1 / max_ratio <= ratio <= max_ratio

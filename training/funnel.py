"""Where a tagger's gold swaps go, to tell what limits its recall.

Every swap the spinner made ends in one bucket: the spun word is not in the inverse thesaurus
(``no_site``), its original is not among the site's candidates (``not_candidate``), the model
proposes the original (``restored`` at or above the threshold, ``right_unsure`` below it) or
another candidate (``wrong_applied``, a false positive too, or ``wrong_unsure``).
``clean_word_edits`` counts the edits it would make where the spinner changed nothing, and
``alternative_right`` the wrong originals (applied or not) whose proposal names the right one
among its alternatives (``restore.tagger.engine.alternatives``), for a reader to pick.
Confidences are the ones the Restorer thresholds (the model's edit rule applied per document);
proposals are counted before alignment and the guard, so ``restored`` is an upper bound on the
true positives that ``training.metrics`` credits (adjacent edits merge into one there, and a
unit the guard rejects keeps all its words).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from training.tagger.edit_rule import gold_swaps

BUCKETS = (
    "no_site",
    "not_candidate",
    "restored",
    "right_unsure",
    "wrong_applied",
    "wrong_unsure",
)


def swap_funnel(
    restorer,
    rows: Sequence[Mapping[str, Any]],
    threshold: float | None = None,
    bands: Sequence[float] = (),
) -> dict[str, Any]:
    """Counts of :data:`BUCKETS`, ``gold`` and ``clean_word_edits`` over pair ``rows``
    (``training.evaluation.spin_paragraphs``) for a tagger ``restorer``; ``threshold`` defaults
    to its guard's ``min_edit_confidence``.

    With ``bands`` (lower edges), also ``bands``: per band of proposal confidence (the last one
    open above), how many proposals put back a swap's original (``right``), propose a wrong one
    at a swap (``wrong_original``; of them, ``alternative_right`` name the original among their
    alternatives) or change a word nobody spun (``clean``): how far a reader can trust a
    proposal, or a suggestion, of that confidence."""
    if threshold is None:
        threshold = restorer.guard.min_edit_confidence
    counts = Counter(
        {name: 0 for name in (*BUCKETS, "gold", "clean_word_edits", "alternative_right")}
    )
    edges = sorted(bands)
    banded = [
        {"from": low, "right": 0, "wrong_original": 0, "alternative_right": 0, "clean": 0}
        for low in edges
    ]
    for gold, candidates, proposals in _read_rows(restorer, rows):
        counts["gold"] += len(gold)
        for span, original in gold.items():
            proposal = proposals.get(span)
            bucket = _bucket(original, candidates.get(span), proposal, threshold)
            counts[bucket] += 1
            if bucket.startswith("wrong") and original in _named(proposal.alternatives):
                counts["alternative_right"] += 1
        counts["clean_word_edits"] += sum(
            p.confidence >= threshold for span, p in proposals.items() if span not in gold
        )
        for span, p in proposals.items():
            k = bisect.bisect_right(edges, p.confidence) - 1
            if k < 0:
                continue
            if span not in gold:
                banded[k]["clean"] += 1
            elif p.restored.lower() == gold[span]:
                banded[k]["right"] += 1
            else:
                banded[k]["wrong_original"] += 1
                banded[k]["alternative_right"] += gold[span] in _named(p.alternatives)
    return {**counts, "bands": banded} if bands else dict(counts)


def _read_rows(restorer, rows):
    """Per row: its gold swaps, and the candidates and the proposal (confidences as the
    Restorer thresholds them) at each site, keyed by span."""
    engine = restorer.runtime.engine
    outputs = restorer.unit_outputs([row["spun"] for row in rows])
    for row, units in zip(rows, outputs):
        candidates, proposals = {}, {}
        weighed = restorer.format.weigh_document([unit for _, _, unit in units])
        for (start, end, _), unit in zip(units, weighed):
            for site in engine.encode_text(row["spun"][start:end]).sites:
                candidates[(start + site.start, start + site.end)] = site.candidates
            for p in unit.proposals:
                proposals[(start + p.start, start + p.end)] = p
        yield gold_swaps(row), candidates, proposals


def _named(alternatives) -> set[str]:
    return {word.lower() for word, _ in alternatives}


def _bucket(original: str, candidates, proposal, threshold: float) -> str:
    if candidates is None:
        return "no_site"
    if original not in candidates or proposal is None:
        return "not_candidate"
    sure = proposal.confidence >= threshold
    if proposal.restored.lower() == original:
        return "restored" if sure else "right_unsure"
    return "wrong_applied" if sure else "wrong_unsure"

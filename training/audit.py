"""Audit the spinner on real paragraphs: achieved rate, protected tokens, exact spans.

``scripts/audit_spinner.py`` runs this on held-out corpus paragraphs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.evaluation import iter_split_documents
from training.spinner import Spinner, SpinnerConfig, apply_substitutions, revert_substitutions
from training.synthesize import derive_seed

_SENTENCE_START = '.!?"“‘('


def sample_paragraphs(corpus_dir: str | Path, split: str, count: int, seed: int) -> list[str]:
    """A seeded random sample of ``count`` non-blank paragraphs of one split."""
    paragraphs = [
        paragraph
        for doc in iter_split_documents(corpus_dir, split)
        for paragraph in doc["text"].split("\n\n")
        if paragraph.strip()
    ]
    random.Random(seed).shuffle(paragraphs)
    return paragraphs[:count]


def audit(paragraphs: Sequence[str], rate: float, seed: int = 0, **config: Any) -> dict:
    """Spin every paragraph and check the spinner's promises; returns counts and rates."""
    spinner = Spinner(SpinnerConfig(rate=rate, **config))
    eligible = replaced = words = 0
    number_changes = capital_changes = caps_line_changes = span_errors = 0
    kinds: dict[str, int] = {}
    inflected = 0
    started = time.perf_counter()
    for i, paragraph in enumerate(paragraphs):
        result = spinner.spin(paragraph, seed=derive_seed(seed, i))
        eligible += result.eligible_words
        replaced += result.replaced_words
        words += len(paragraph.split())
        if (
            apply_substitutions(paragraph, result.substitutions) != result.text
            or revert_substitutions(result.text, result.substitutions) != paragraph
        ):
            span_errors += 1
        for s in result.substitutions:
            kinds[s.kind] = kinds.get(s.kind, 0) + 1
            inflected += s.inflected
            number_changes += any(c.isdigit() for c in s.original)
            before = paragraph[: s.start].rstrip()
            mid_sentence = bool(before) and before[-1] not in _SENTENCE_START
            if mid_sentence and any(c.isupper() for c in s.original):
                # ALL-CAPS words are spun only inside ALL-CAPS lines (wire headlines); count
                # them apart from capitalised words, which would be names.
                if s.original.isupper():
                    caps_line_changes += 1
                else:
                    capital_changes += 1
    seconds = time.perf_counter() - started
    total = sum(kinds.values())
    return {
        "rate": rate,
        "paragraphs": len(paragraphs),
        "words": words,
        "eligible_words": eligible,
        "replaced_words": replaced,
        "achieved_rate": round(replaced / eligible, 4) if eligible else 0.0,
        "substitutions": kinds,
        "phrase_share": round(kinds.get("phrase", 0) / total, 4) if total else 0.0,
        "inflected_share": round(inflected / total, 4) if total else 0.0,
        "number_changes": number_changes,
        "mid_sentence_capital_changes": capital_changes,
        "all_caps_line_changes": caps_line_changes,
        "span_errors": span_errors,
        "words_per_second": round(words / seconds) if seconds else 0,
    }

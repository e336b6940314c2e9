"""The tagger's training examples: spun pairs as prepared units with their labels.

A label says, per token, whether a spinner wrote it, and per site, which candidate was the
original (``NOT_SPUN`` where the site was not spun, ``UNREACHABLE`` where its original is not a
candidate), plus the original's word piece for the open-vocabulary loss.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import random
from collections.abc import Iterator, Sequence
from typing import Any

from restore.tagger.batch import collate
from restore.tagger.engine import TaggerEngine
from restore.tagger.input import PieceEncoder, UnitInput
from restore.tagger.model import TaggerBatch
from restore.text import prepare_unit
from training.config import TaggerConfig

NOT_SPUN, UNREACHABLE = -1, -2


@dataclasses.dataclass
class Labels:
    words: list[float]  # per token: 1.0 if a spinner wrote it
    sites: list[int]  # per site: candidate index, NOT_SPUN or UNREACHABLE
    vocab: list[int]  # per site: the original's word piece (a one-piece original), else -1


def label_unit(
    unit: UnitInput, substitutions: Sequence[dict[str, Any]], pieces: PieceEncoder
) -> Labels:
    """Training targets of a spun unit from the spinner's substitutions (spun-text offsets)."""
    spans = [(s["spun_start"], s["spun_end"], s["original"].lower()) for s in substitutions]
    words = [float(any(t.start < e and s < t.end for s, e, _ in spans)) for t in unit.tokens]
    gold = {(s, e): original for s, e, original in spans}
    sites, vocab = [], []
    for site in unit.sites:
        original = gold.get((site.start, site.end))
        if original is None:
            sites.append(NOT_SPUN)
            vocab.append(-1)
            continue
        sites.append(
            site.candidates.index(original) if original in site.candidates else UNREACHABLE
        )
        ids = pieces.tokenizer.encode(original, add_special_tokens=False).ids
        vocab.append(ids[0] if len(ids) == 1 else -1)
    return Labels(words, sites, vocab)


def iter_examples(
    rows, engine: TaggerEngine, max_pieces: int, start: int = 0
) -> Iterator[tuple[int, UnitInput, Labels]]:
    """``(row index, unit, labels)`` from ``start`` on; units too long for the encoder are
    skipped."""
    return _examples(rows, engine, max_pieces, start, len(rows))


def _examples(
    rows, engine: TaggerEngine, max_pieces: int, start: int, end: int
) -> Iterator[tuple[int, UnitInput, Labels]]:
    for index in range(start, end):
        row = rows[index]
        prepared = prepare_unit(row["spun"])
        # Substitution offsets are in the spun text: pairs are stored normalised, and a row
        # that is not has no offsets to trust.
        if prepared.normal != row["spun"] or not prepared.tokens:
            continue
        pieces = engine.measure(prepared)
        if len(pieces.ids) > max_pieces:
            continue
        unit = engine.encode(pieces)
        yield index, unit, label_unit(unit, row["substitutions"], engine.pieces)


def iter_batches(
    rows, engine: TaggerEngine, config: TaggerConfig, start: int = 0, window: int = 20
) -> Iterator[tuple[int, TaggerBatch, list[Labels]]]:
    """Collated batches and their labels from row ``start`` on, sorted by length inside
    windows of ``window`` batches (less padding), the windows' batches in a seeded random
    order. Each comes with the row to resume from: the start of its window, until the window
    is done.

    With ``tagger.workers`` > 1, forked processes encode and collate whole windows while the
    main process trains (a GPU outruns one process's encoding). A window is then
    ``batch_size x window`` rows rather than examples: the same batches while no row is
    skipped as too long."""
    if config.workers > 1:
        yield from _forked_batches(rows, engine, config, start, window)
        return
    examples = iter_examples(rows, engine, config.max_pieces, start=start)
    resume = start
    while True:
        pool = [e for _, e in zip(range(config.batch_size * window), examples)]
        if not pool:
            return
        end = max(e[0] for e in pool) + 1
        batches = _window(pool, engine, config, resume)
        for n, (batch, labels) in enumerate(batches):
            yield (end if n == len(batches) - 1 else resume), batch, labels
        resume = end


def _window(pool, engine: TaggerEngine, config: TaggerConfig, seed: int):
    """A window's examples as collated batches of similar length, in a seeded random order."""
    pool.sort(key=lambda e: len(e[1].tokens))
    chunks = [pool[i : i + config.batch_size] for i in range(0, len(pool), config.batch_size)]
    random.Random(config.seed + seed).shuffle(chunks)
    return [
        (collate([u for _, u, _ in chunk], engine.pieces), [lab for _, _, lab in chunk])
        for chunk in chunks
    ]


# What the forked workers read, set before the fork: the rows, the engine (its inverse table
# and counts, never its network) and the config.
_SHARED: tuple[Any, TaggerEngine, TaggerConfig] | None = None


def _forked_batches(rows, engine: TaggerEngine, config: TaggerConfig, start: int, window: int):
    global _SHARED
    _SHARED = (rows, engine, config)
    size = config.batch_size * window
    spans = [(a, min(a + size, len(rows))) for a in range(start, len(rows), size)]
    # Fork, not spawn: the workers share the loaded tables; on a GPU they never touch CUDA.
    with multiprocessing.get_context("fork").Pool(config.workers, _one_thread) as pool:
        for (first, end), batches in zip(spans, pool.imap(_window_job, spans)):
            for n, (batch, labels) in enumerate(batches):
                yield (end if n == len(batches) - 1 else first), batch, labels


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # as DataLoader workers do: the processes are the parallelism


def _window_job(span: tuple[int, int]):
    rows, engine, config = _SHARED
    pool = list(_examples(rows, engine, config.max_pieces, *span))
    return _window(pool, engine, config, span[0]) if pool else []

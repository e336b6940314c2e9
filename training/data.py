"""Training data: the run's candidate table and tokenised splits in the model's format.

The format (:mod:`restore.formats`) turns each (spun, original) pair into a source and a target
string and gives the label columns; this module drops what cannot be used and caches the
result with a fingerprint that changes whenever the format would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from restore.candidates import CANDIDATES_FILE, CandidateTable
from restore.formats import get_format
from restore.formats.marks import FORMAT_CHARS
from restore.settings import ModelSettings
from training.config import ExperimentConfig
from training.errors import TrainingError
from training.format_hooks import hooks_for

ROWS_VERSION = 2  # 2: unfit rows are emptied in encode


def load_run_candidates(config: ExperimentConfig, output_dir: Path) -> CandidateTable | None:
    """The candidate table built by training.candidates, for a format that uses one."""
    if not get_format(config.train.target_format).uses_candidates:
        return None
    path = output_dir / "candidates" / CANDIDATES_FILE
    if not path.is_file():
        raise TrainingError(f"{path} not found: run training.candidates first")
    return CandidateTable.load(path)


def prepare_split(
    dataset,
    tokenizer,
    settings: ModelSettings,
    candidates: CandidateTable | None = None,
    *,
    limit: int = 0,
    reveal_share: float = 0.0,
):
    """Tokenised rows (input_ids, the format's label columns, length, row) of a pairs split.

    Over-long pairs are dropped, not cut: cutting would teach the model to drop text. Pairs
    whose text holds a format mark's characters are dropped too (they cannot be told from
    marks). A ``reveal_share`` of the rows, picked by a hash of their index, get the format's
    answers written into the source (``Seq2SeqFormat.reveal``; see ``TrainConfig.reveal_share``).
    """
    model_format = get_format(settings.target_format)(settings, candidates)
    hooks = hooks_for(model_format)
    if limit:
        dataset = dataset.select(range(min(limit, len(dataset))))

    def encode(batch, indices):
        usable = [
            not (FORMAT_CHARS.intersection(s) or FORMAT_CHARS.intersection(o))
            for s, o in zip(batch["spun"], batch["original"])
        ]
        kept = [i for i, ok in zip(indices, usable) if ok]
        pairs = [(s, o) for s, o, ok in zip(batch["spun"], batch["original"], usable) if ok]
        texts = [model_format.encode_source(s) for s, _ in pairs]
        wanted = [model_format.make_target(s, o) for s, o in pairs]
        if reveal_share:
            texts = [
                model_format.reveal(text, target) if _fraction(i) < reveal_share else text
                for i, text, target in zip(kept, texts, wanted)
            ]
        sources = tokenizer(texts).input_ids
        extra = hooks.label_columns(sources, wanted, tokenizer)
        fits = [
            0 < len(ids) <= settings.max_source_tokens and hooks.fits(labels)
            for ids, labels in zip(sources, extra["labels"])
        ]
        # Rows that cannot be used get empty sequences and are filtered out below.
        rows = iter(range(len(pairs)))
        where = [next(rows) if ok else None for ok in usable]
        where = [k if k is not None and fits[k] else None for k in where]

        def column(values):
            return [values[k] if k is not None else [] for k in where]

        columns = {"input_ids": column(sources)}
        columns.update({key: column(values) for key, values in extra.items()})
        columns["length"] = [len(ids) for ids in columns["input_ids"]]
        columns["row"] = indices
        return columns

    # "row" (the pair's index in ``dataset``) lines predictions up with pairs; the Trainer drops
    # it and "length" before the model sees a batch.
    # datasets fingerprints ``encode`` but not the objects it calls: the target of a probe pair
    # stands in for the format, so a format change never reuses a stale cache. A table word in
    # the probe makes slot layouts part of it; the vocabulary hash catches a rebuilt tokenizer
    # of the same size.
    word = next(iter(candidates.entries), "") if candidates else ""
    probe = model_format.make_target("a b c", "a x c") + model_format.encode_source(f"a b {word}")
    vocabulary = hashlib.sha256(repr(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()
    table = (
        hashlib.sha256(repr(sorted(candidates.entries.items())).encode()).hexdigest()
        if candidates
        else ""
    )
    # ROWS_VERSION: bumped when ``encode`` changes what it writes.
    key = f"{dataset._fingerprint}|{settings}|{probe}|{vocabulary}|{table}|{reveal_share}"
    fingerprint = hashlib.sha256(f"{key}|{ROWS_VERSION}".encode()).hexdigest()[:16]
    encoded = dataset.map(
        encode,
        batched=True,
        with_indices=True,
        remove_columns=dataset.column_names,
        desc="tokenising",
        new_fingerprint=fingerprint,
    )
    return encoded.filter(lambda row: len(row["input_ids"]) > 0)


def _fraction(index: int) -> float:
    """A fixed pseudo-random number in [0, 1) for a row index."""
    return int(hashlib.sha256(str(index).encode()).hexdigest()[:8], 16) / 2**32

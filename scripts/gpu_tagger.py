"""Train the tagger on a GPU machine that has torch but neither `datasets` nor the corpus.

    python scripts/gpu_tagger.py --config configs/tagger-gpu.yaml --news NEWS.jsonl \
        [--spin-workers 16] [--set tagger.minutes=6]

The news file (JSONL with ``id``, ``text`` and ``split``; train and valid documents) is spun
in memory by :func:`training.synthesize.iter_pairs`, one shard of its documents per process,
and the pairs go straight to :func:`training.tagger.train.train`; the model directory is then
written as ``python -m training.tagger`` writes it (``output_dir/model``). A pair dataset on
disk is never made, so ``datasets`` is not needed. The recipe and what it gave are in
docs/experiments.md ("Training on a GPU").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import sys
import time
from typing import Any

import numpy as np

from training.config import add_config_arguments, config_from_args
from training.synthesize import iter_pairs
from training.tagger.export import export
from training.tagger.paths import RunPaths
from training.tagger.train import train

logger = logging.getLogger("gpu_tagger")


class Rows(list):
    """Pair rows in memory, with the two ``datasets.Dataset`` methods the training loop uses."""

    def shuffle(self, seed: int) -> Rows:
        return Rows(self[i] for i in np.random.default_rng(seed).permutation(len(self)))

    def select(self, indices) -> Rows:
        return Rows(self[i] for i in indices)


def _spin_shard(job: tuple[Any, str, int, int]) -> list[dict[str, Any]]:
    config, split, shard, shards = job
    return [
        {k: row[k] for k in ("spun", "original", "substitutions")}
        for row in iter_pairs(split, config, shards=[shard], num_shards=shards)
    ]


def spin(config, workers: int) -> dict[str, Rows]:
    """Each split's pairs, spun on ``workers`` processes (rows in shard order)."""
    jobs = [(config, split, s, workers) for split in ("train", "valid") for s in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_spin_shard, jobs)
    return {
        split: Rows(row for (_, s, _, _), part in zip(jobs, parts) if s == split for row in part)
        for split in ("train", "valid")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--news", required=True, help="JSONL news (id, text, split)")
    parser.add_argument("--spin-workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = config_from_args(args)
    config = dataclasses.replace(
        config, synthesis=dataclasses.replace(config.synthesis, inputs=(args.news,))
    )
    paths = RunPaths.of(config)
    started = time.time()
    pairs = spin(config, args.spin_workers)
    paths.pairs.mkdir(parents=True, exist_ok=True)
    manifest = {
        "news": args.news,
        "seed": config.seed,
        "spun_in_memory": True,
        **{f"{split}_pairs": len(rows) for split, rows in pairs.items()},
        "seconds": round(time.time() - started, 1),
    }
    (paths.pairs / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    logger.info("spun %s", manifest)
    state = train(config, paths, pairs=pairs)
    logger.info("done: %s", state)
    logger.info("model directory: %s", export(config, paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())

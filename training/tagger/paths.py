"""Where a tagger run reads and writes, from its experiment config: the one place that names
the files, so training, export and calibration agree.

>>> from training.config import ExperimentConfig
>>> paths = RunPaths.of(ExperimentConfig(output_dir="runs/t"))
>>> str(paths.pairs), str(paths.model), str(paths.work)
('runs/t/pairs', 'runs/t/model', 'runs/t/model-train')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ExperimentConfig
from training.errors import TrainingError


@dataclass(frozen=True)
class RunPaths:
    pairs: Path  # training.synthesize's pair dataset
    model: Path  # the model directory written at the end
    work: Path  # checkpoints, log.csv, best/ and the resolved config

    @classmethod
    def of(cls, config: ExperimentConfig) -> RunPaths:
        out = Path(config.output_dir)
        pairs = Path(config.tagger.pairs_dir) if config.tagger.pairs_dir else out / "pairs"
        return cls(pairs, out / "model", out / "model-train")


def upstream_manifests(config: ExperimentConfig, paths: RunPaths) -> dict[str, Any]:
    """The manifests of the stages a tagger run reads (pairs, n-gram counts) and the files of
    the others (inverse table, topic vectors); raises TrainingError naming the stage to run
    for anything missing."""
    cfg = config.tagger
    needed = {
        "pairs": (paths.pairs / "manifest.json", "python -m training.synthesize"),
        "ngram": (Path(cfg.ngram_dir) / "manifest.json", "python -m training.tagger.ngram"),
        "inverse": (Path(cfg.inverse_path), "python -m training.tagger.inverse"),
        "context": (Path(cfg.context_path), "python -m training.tagger.context"),
    }
    found: dict[str, Any] = {}
    for name, (path, stage) in needed.items():
        if not path.is_file():
            raise TrainingError(f"{path} not found: run {stage} first")
        if path.suffix == ".json":
            found[name] = {"path": str(path.parent), **_summary(path)}
        else:
            found[name] = {"path": str(path), "bytes": path.stat().st_size}
    return found


def _summary(manifest: Path) -> dict[str, Any]:
    """The scalar fields of a stage's manifest (counts, hashes), not its long lists."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))}

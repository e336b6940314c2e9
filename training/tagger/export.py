"""The tagger's model directory (the contract with ``restore``), written from trained weights,
and the run's summary for its card."""

from __future__ import annotations

import csv
import dataclasses
import json
import platform
import shutil
from pathlib import Path
from typing import Any

import torch

from restore.formats import get_format
from restore.settings import GuardSettings, ModelSettings, save_settings
from restore.tagger.backend import NGRAM_DIR
from restore.tagger.context import CONTEXT_FILE, ContextVectors
from restore.tagger.inverse import INVERSE_FILE, InverseTable
from restore.tagger.model import load_tagger, save_tagger
from restore.tagger.ngram import NgramModel, load_ngram_model
from training.card import write_tagger_card
from training.config import ExperimentConfig, TaggerConfig, save_config
from training.errors import TrainingError
from training.model_dir import library_versions
from training.models.tagger import build_tagger, encoder_folder
from training.tagger.paths import RunPaths

# The tagger section of the run's config, which the model card reads.
CONFIG_FILE = "tagger_config.json"


def write_model_dir(
    source: Path,
    out: Path,
    *,
    encoder_dir: Path,
    table: InverseTable,
    lm: NgramModel,
    context: ContextVectors,
    config: TaggerConfig,
    max_words: int = 48,
    run: dict[str, Any] | None = None,
) -> Path:
    """The model directory the restorer loads (:mod:`restore.tagger.backend` lists its files)
    from the weights saved in ``source``; fp16 weights, the n-gram counts compressed."""
    out.mkdir(parents=True, exist_ok=True)
    save_tagger(load_tagger(source), out, dtype=torch.float16)
    shutil.copy(encoder_dir / "tokenizer.json", out / "tokenizer.json")
    table.save(out / INVERSE_FILE)
    lm.save(out / NGRAM_DIR)
    context.save(out / CONTEXT_FILE)
    settings = ModelSettings(
        target_format="tagger",
        options=get_format("tagger").settings_class(
            max_candidates=config.max_candidates, trained_candidates=config.trained_candidates
        ),
        max_source_tokens=config.max_pieces,
        max_words=max_words,
        # Chosen on the valid split by scripts/calibrate.py --write; 0.5 until then.
        guard=GuardSettings(min_edit_confidence=0.5),
        versions=library_versions(),
    )
    save_settings(settings, out)
    (out / CONFIG_FILE).write_text(
        json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8"
    )
    if run is not None:
        (out / "metrics.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
        write_tagger_card(out)
    return out


def run_summary(
    work: Path,
    pairs: str,
    weights: str = "best",
    init: str | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """metrics.json of a run: its steps, time and the evaluation in ``log.csv`` of the exported
    weights (the best F0.5, or the last row)."""
    with open(work / "log.csv", encoding="utf-8") as fh:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    # Logs name evaluation columns "eval_f0.5" (older runs: "f0.5") and time "seconds".
    rows = [{k.removeprefix("eval_"): v for k, v in row.items()} for row in rows]
    last = rows[-1]
    best = last if weights == "last" else max(rows, key=lambda r: r["f0.5"])
    minutes = last.get("minutes", last.get("seconds", 0.0) / 60)
    return {
        "train": {
            "pairs": pairs,
            "steps": int(last["step"]),
            "minutes": minutes,
            "hardware": _hardware(device),
            **({"init": init} if init else {}),
        },
        "valid": {**best, "step": int(best["step"])},
    }


def export(config: ExperimentConfig, paths: RunPaths) -> Path:
    """Write ``paths.model`` from the run's best (or, with ``tagger.weights: last``, last)
    weights, with the resolved config; raises TrainingError when there are none."""
    cfg = config.tagger
    weights = paths.work / "best"
    if cfg.weights == "last":
        weights = _last_weights(paths.work, cfg)
    if not weights.exists():
        raise TrainingError(f"no trained weights in {weights}: train first")
    out = write_model_dir(
        weights,
        paths.model,
        encoder_dir=encoder_folder(cfg),
        table=InverseTable.load(cfg.inverse_path),
        lm=load_ngram_model(cfg.ngram_dir),
        context=ContextVectors.load(cfg.context_path),
        config=cfg,
        max_words=config.synthesis.max_words,
        run=run_summary(
            paths.work, str(paths.pairs), cfg.weights, cfg.init or None, device=cfg.device
        ),
    )
    save_config(config, out / "training_config.yaml")
    return out


def _hardware(device: str) -> str:
    """What a run trained on, as the model card names it."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{torch.get_num_threads()} CPU threads ({platform.machine()})"


def _last_weights(work: Path, config: TaggerConfig) -> Path:
    """The last checkpoint's weights saved as a tagger folder (``work/last``)."""
    target = work / "last"
    checkpoint = work / "checkpoint.pt"
    if checkpoint.exists():
        model = build_tagger(encoder_folder(config), config.layers, pretrained=False)
        saved = torch.load(checkpoint, weights_only=True, map_location="cpu")
        model.load_state_dict(saved["model"])
        save_tagger(model, target, dtype=torch.float32)
    return target

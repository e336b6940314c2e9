"""Writing the model directory, the only contract between training and inference.

It holds safetensors weights, the model and generation configs, the tokenizer, ``restore.json``
(:class:`restore.settings.ModelSettings`), the format's candidate table if it uses one, and the
resolved experiment config.
"""

from __future__ import annotations

import dataclasses
import platform
import shutil
from pathlib import Path

from restore.candidates import CANDIDATES_FILE, CandidateTable
from restore.formats import get_format
from restore.settings import ModelSettings, save_settings
from training.config import ExperimentConfig, save_config


def build_model_settings(config: ExperimentConfig) -> ModelSettings:
    """The restore.json settings this experiment's model is trained and served with."""
    cfg, synthesis = config.train, config.synthesis
    options_class = get_format(cfg.target_format).settings_class
    wanted = {f.name for f in dataclasses.fields(options_class)}
    options = {k: v for k, v in dataclasses.asdict(cfg).items() if k in wanted}
    return ModelSettings(
        target_format=cfg.target_format,
        options=options_class(**options),
        max_source_tokens=cfg.max_source_tokens,
        segmentation=synthesis.unit,
        max_words=synthesis.max_words,
        versions=library_versions(),
    )


def save_model_dir(
    model,
    tokenizer,
    settings: ModelSettings,
    config: ExperimentConfig,
    model_dir: Path,
    candidates: CandidateTable | None = None,
) -> Path:
    """Write the inference contract: weights, configs, tokenizer, restore.json, config, and the
    candidate table of a format that uses one."""
    import torch

    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    if config.train.save_dtype == "float16":
        model = model.to(torch.float16)
    model.save_pretrained(model_dir)
    model.to(torch.float32)
    tokenizer.save_pretrained(model_dir)
    save_settings(settings, model_dir)
    if candidates is not None:
        candidates.save(model_dir / CANDIDATES_FILE)
    save_config(config, model_dir / "training_config.yaml")
    return model_dir


def library_versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }

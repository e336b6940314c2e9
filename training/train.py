"""Training stage: (spun, original) pairs -> a T5-style seq2seq restorer in a model directory.

    python -m training.train --config configs/tiny.yaml [--output-dir DIR] [--resume]
                             [--set train.max_steps=200 ...]

Reads ``<output_dir>/pairs`` (training.synthesize) and, for a model trained from scratch,
``<output_dir>/tokenizer`` (training.tokenizer); writes checkpoints and logs under
``<output_dir>/train`` and the finished model directory, the only contract with inference,
under ``<output_dir>/model``: safetensors weights, config, generation config, tokenizer,
``restore.json``, the resolved config, metrics and a model card.

This module is the loop; its parts live one concern per file: the stages' settings
(:mod:`training.config`), model families (:mod:`training.models`), data preparation
(:mod:`training.data`, with the format's labels and collator from :mod:`restore.formats`),
evaluation and logging during training (:mod:`training.monitor`), the model directory
(:mod:`training.model_dir`) and its card (:mod:`training.card`).

Multi-GPU or multi-node runs need no code change: ``torchrun --nproc_per_node 4 -m
training.train --config ...`` or ``accelerate launch -m training.train --config ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import time
from pathlib import Path

from restore.formats import get_format
from training.card import write_model_card
from training.config import (
    ConfigError,
    ExperimentConfig,
    add_config_arguments,
    config_from_args,
    save_config,
)
from training.data import load_run_candidates, prepare_split
from training.errors import TrainingError
from training.format_hooks import hooks_for
from training.model_dir import build_model_settings, save_model_dir
from training.models import build_model, load_tokenizer_for
from training.monitor import build_callbacks, make_compute_metrics, plot_log

__all__ = ["LOG_FILE", "MODEL_DIR", "TRAIN_DIR", "TrainingError", "main", "train"]

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
TRAIN_DIR = "train"
LOG_FILE = "log.csv"


def train(config: ExperimentConfig, output_dir: str | Path, *, resume: bool = False) -> Path:
    """Train and write the model directory; returns its path."""
    import datasets
    import torch
    from transformers import GenerationConfig, Seq2SeqTrainer, Seq2SeqTrainingArguments

    out = Path(output_dir)
    train_dir = out / TRAIN_DIR
    if train_dir.exists() and not resume and any(train_dir.glob("checkpoint-*")):
        raise TrainingError(f"{train_dir} holds checkpoints: pass --resume, or remove it")
    pairs_dir = out / "pairs"
    if not pairs_dir.is_dir():
        raise TrainingError(f"{pairs_dir} not found: run training.synthesize first")
    torch.set_num_threads(config.train.num_threads)
    settings = build_model_settings(config)
    tokenizer = load_tokenizer_for(config, out)
    candidates = load_run_candidates(config, out)
    model = build_model(config, tokenizer)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=model.config.decoder_start_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        num_beams=config.train.num_beams,
        do_sample=False,
        max_new_tokens=config.train.max_target_tokens,
    )
    logger.info("model: %.2f M parameters", model.num_parameters() / 1e6)

    pairs = datasets.load_from_disk(str(pairs_dir))
    train_set = prepare_split(
        pairs["train"],
        tokenizer,
        settings,
        candidates,
        limit=config.train.max_train_pairs,
        reveal_share=config.train.reveal_share,
    )
    eval_rows = (
        pairs["valid"]
        .shuffle(seed=config.seed)
        .select(range(min(config.train.eval_samples, len(pairs["valid"]))))
    )
    eval_set = prepare_split(eval_rows, tokenizer, settings, candidates)
    eval_rows = eval_rows.select(eval_set["row"])  # the pairs that fit, in eval order
    if not len(train_set) or not len(eval_set):
        raise TrainingError(
            f"no pair fits train.max_source_tokens={settings.max_source_tokens} and "
            f"train.max_target_tokens={config.train.max_target_tokens} "
            f"(train {len(train_set)}, valid {len(eval_set)} usable pairs)"
        )
    train_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, train_dir / "config.yaml")

    cfg = config.train
    model_format = get_format(settings.target_format)(settings, candidates)
    hooks = hooks_for(model_format)
    args = Seq2SeqTrainingArguments(
        output_dir=str(train_dir),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_steps,
        optim=cfg.optimizer,
        logging_steps=cfg.logging_steps,
        eval_strategy="steps",
        eval_steps=cfg.eval_steps,
        save_strategy="steps",
        save_steps=cfg.eval_steps,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="selection" if cfg.select_by == "f0.5" else "loss",
        greater_is_better=cfg.select_by == "f0.5",
        predict_with_generate=model_format.generates,
        generation_num_beams=cfg.num_beams,
        train_sampling_strategy="group_by_length",
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = _in_order(Seq2SeqTrainer)(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=hooks.collator(tokenizer, model),
        preprocess_logits_for_metrics=hooks.preprocess_logits(tokenizer),
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(tokenizer, settings, eval_rows, candidates),
        callbacks=build_callbacks(config, train_dir / LOG_FILE),
    )
    started = time.time()
    trainer.train(resume_from_checkpoint=resume and _has_checkpoint(train_dir))
    seconds = time.time() - started
    final = trainer.evaluate()
    model_dir = save_model_dir(
        trainer.model, tokenizer, settings, config, out / MODEL_DIR, candidates
    )
    metrics = {
        "valid": {k.removeprefix("eval_"): v for k, v in final.items()},
        "train": {
            "steps": trainer.state.global_step,
            "seconds_this_run": round(seconds, 1),
            "parameters": model.num_parameters(),
            "train_pairs": len(train_set),
            "hardware": _hardware(),
        },
    }
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if (train_dir / LOG_FILE).exists():
        shutil.copy(train_dir / LOG_FILE, model_dir / "training_log.csv")
        plot_log(train_dir / LOG_FILE, model_dir / "training_curves.png")
    write_model_card(model_dir, config, metrics)
    return model_dir


def _in_order(trainer_class):
    """``trainer_class`` evaluating in dataset order.

    With ``train_sampling_strategy="group_by_length"``, transformers 5 also shuffles evaluation
    batches by length, so predictions no longer line up with the valid rows that
    ``compute_metrics`` scores them against (every in-training F0.5 came out wrong).
    """
    from torch.utils.data import SequentialSampler

    class InOrder(trainer_class):
        def _get_eval_sampler(self, eval_dataset):
            return SequentialSampler(eval_dataset)

    return InOrder


def _has_checkpoint(train_dir: Path) -> bool:
    return any(train_dir.glob("checkpoint-*"))


def _hardware() -> str:
    import os

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{os.cpu_count()} CPU cores ({platform.machine()}), {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in <output_dir>/train",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_from_args(args)
        model_dir = train(config, config.output_dir, resume=args.resume)
    except (ConfigError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"model written to {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

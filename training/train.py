"""Training stage: (spun, original) pairs -> a T5-style seq2seq restorer in a model directory.

    python -m training.train --config configs/tiny.yaml [--output-dir DIR] [--resume]
                             [--set train.max_steps=200 ...]

Reads ``<output_dir>/pairs`` (training.synthesize) and, for a model trained from scratch,
``<output_dir>/tokenizer`` (training.tokenizer); writes checkpoints and logs under
``<output_dir>/train`` and the finished model directory, the only contract with inference,
under ``<output_dir>/model``: safetensors weights, config, generation config, tokenizer,
``restore.json``, the resolved config, metrics and a model card.

Multi-GPU or multi-node runs need no code change: ``torchrun --nproc_per_node 4 -m
training.train --config ...`` or ``accelerate launch -m training.train --config ...``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import logging
import platform
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
TRAIN_DIR = "train"
LOG_FILE = "log.csv"


class TrainingError(RuntimeError):
    """Training cannot start: missing stage outputs, or inconsistent settings."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a T5 trained from scratch (ignored when fine-tuning a checkpoint)."""

    d_model: int = 256
    d_ff: int = 1024
    d_kv: int = 64
    num_heads: int = 4
    num_layers: int = 4
    num_decoder_layers: int = 4
    dropout_rate: float = 0.1
    feed_forward_proj: str = "relu"
    relative_attention_num_buckets: int = 32


@dataclass(frozen=True)
class TrainConfig:
    """How the model is built, fed and optimised (YAML section ``train``)."""

    init: str = "scratch"  # "scratch", or a hub name or local path of a seq2seq checkpoint
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # "edits" (span edit list), "text" (the whole original), or "choices"/"tags" (pick among
    # candidate originals shown in the input; need training.candidates): see restore.format
    target_format: str = "edits"
    slots: int = 24  # choices/tags: most slots per unit
    choices: int = 3  # choices/tags: most candidates shown per slot
    # choices: share of training pairs whose answers are also written into the source (a
    # copy-first curriculum: looking a slot's answer up teaches the decoder where to look
    # before the encoder has learned to work the answer out; never done at inference)
    reveal_share: float = 0.0
    prefix: str = ""
    max_source_tokens: int = 128
    max_target_tokens: int = 96
    max_train_pairs: int = 0  # 0 = all
    optimizer: str = "adamw_torch"  # any TrainingArguments.optim name, e.g. "adafactor"
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    warmup_steps: int = 200
    batch_size: int = 32
    grad_accum: int = 1
    max_steps: int = 1000
    max_minutes: float = 0.0  # wall-clock budget of one invocation; 0 = none
    logging_steps: int = 25
    eval_steps: int = 250
    eval_samples: int = 300  # valid pairs decoded at each evaluation
    early_stopping_patience: int = 0  # evaluations without gain before stopping; 0 = off
    # What picks the best checkpoint and drives early stopping: "f0.5" (ties broken by target
    # token accuracy) or "loss" (valid loss; smoother while F0.5 is still 0, early in training).
    select_by: str = "f0.5"
    save_total_limit: int = 2
    num_beams: int = 1
    num_threads: int = 2
    save_dtype: str = "float16"  # weights in the final model directory

    def validate(self) -> None:
        from restore.format import TARGET_FORMATS

        if self.target_format not in TARGET_FORMATS:
            raise ValueError(f"train.target_format must be one of {list(TARGET_FORMATS)}")
        if self.select_by not in ("f0.5", "loss"):
            raise ValueError("train.select_by must be 'f0.5' or 'loss'")
        if self.save_dtype not in ("float16", "float32"):
            raise ValueError("train.save_dtype must be 'float16' or 'float32'")
        for name in (
            "max_source_tokens",
            "max_target_tokens",
            "batch_size",
            "grad_accum",
            "max_steps",
            "logging_steps",
            "eval_steps",
            "eval_samples",
            "num_beams",
            "num_threads",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1")
        if self.learning_rate <= 0:
            raise ValueError("train.learning_rate must be positive")
        if not 0.0 <= self.reveal_share < 1.0:
            raise ValueError("train.reveal_share must lie in [0, 1)")


# -- building the model and the data -------------------------------------------------------


def build_model_settings(config: Any):
    """The restore.json settings this experiment's model is trained and served with."""
    from restore.format import ModelSettings

    train, syn = config.train, config.synthesis
    return ModelSettings(
        target_format=train.target_format,
        prefix=train.prefix,
        max_source_tokens=train.max_source_tokens,
        max_target_tokens=train.max_target_tokens,
        segmentation=syn.unit,
        max_words=syn.max_words,
        slots=train.slots,
        choices=train.choices,
        versions=_versions(),
    )


def load_tokenizer_for(config: Any, output_dir: Path):
    """Our own tokenizer for a model from scratch; the checkpoint's for a pretrained one."""
    from restore.format import format_marks

    if config.train.init == "scratch":
        from training.tokenizer import load_tokenizer

        folder = output_dir / "tokenizer"
        if not folder.is_dir():
            raise TrainingError(f"{folder} not found: run training.tokenizer first")
        tokenizer = load_tokenizer(folder)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config.train.init)
    marks = format_marks(config.train.target_format)
    if marks:
        pieces = tokenizer.convert_ids_to_tokens(tokenizer(" ".join(marks)).input_ids)
        missing = [t for t in marks if t not in pieces]
        if missing and config.train.init == "scratch":
            raise TrainingError(
                f"the tokenizer splits the format marks {missing}: include them in "
                f"tokenizer.extra_tokens (the default) and rerun training.tokenizer"
            )
        if missing:
            tokenizer.add_tokens(missing)
    return tokenizer


def load_run_candidates(config: Any, output_dir: Path):
    """The candidate table built by training.candidates (choices and tags formats only)."""
    from restore.candidates import CANDIDATES_FILE, CandidateTable
    from restore.format import SLOT_FORMATS

    if config.train.target_format not in SLOT_FORMATS:
        return None
    path = output_dir / "candidates" / CANDIDATES_FILE
    if not path.is_file():
        raise TrainingError(f"{path} not found: run training.candidates first")
    return CandidateTable.load(path)


def build_model(config: Any, tokenizer):
    """A T5 from scratch sized by ``train.model``, or the pretrained checkpoint ``train.init``."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration

    torch.manual_seed(config.seed)
    train = config.train
    if train.init != "scratch":
        # Shipped models store fp16 weights; training runs in fp32.
        model = AutoModelForSeq2SeqLM.from_pretrained(
            train.init, use_safetensors=True, dtype=torch.float32
        )
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(len(tokenizer))
        return model
    shape = train.model
    model_config = T5Config(
        vocab_size=len(tokenizer),
        d_model=shape.d_model,
        d_ff=shape.d_ff,
        d_kv=shape.d_kv,
        num_heads=shape.num_heads,
        num_layers=shape.num_layers,
        num_decoder_layers=shape.num_decoder_layers,
        dropout_rate=shape.dropout_rate,
        feed_forward_proj=shape.feed_forward_proj,
        relative_attention_num_buckets=shape.relative_attention_num_buckets,
        # A T5 from scratch must agree with its own tokenizer on these ids.
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5ForConditionalGeneration(model_config)


def prepare_split(
    dataset, tokenizer, settings, candidates=None, *, limit: int = 0, reveal_share: float = 0.0
):
    """Tokenised (input_ids, labels) for a pairs split; over-long pairs are dropped, not cut.

    Cutting would teach the model to drop text. Rows whose text holds the format marks are
    dropped too (they cannot be written in the edits format). A ``reveal_share`` of the rows,
    picked by a hash of their index, get the choices format's answers written into the source
    (see ``TrainConfig.reveal_share``). For the tags format the decoder reads the source
    (``decoder_input_ids``) and only the slot marks carry labels: their choices.
    """
    from restore.format import FORMAT_CHARS, encode_source, make_target

    tags = settings.target_format == "tags"
    marks = _tag_marks(tokenizer) if tags else None

    if limit:
        dataset = dataset.select(range(min(limit, len(dataset))))

    def encode(batch, indices):
        usable = [
            not (FORMAT_CHARS.intersection(s) or FORMAT_CHARS.intersection(o))
            for s, o in zip(batch["spun"], batch["original"])
        ]
        pairs = [(s, o) for s, o, ok in zip(batch["spun"], batch["original"], usable) if ok]
        texts = [encode_source(s, settings, candidates) for s, _ in pairs]
        wanted = [make_target(s, o, settings, candidates) for s, o in pairs]
        if reveal_share and not tags:
            kept = [i for i, ok in zip(indices, usable) if ok]
            texts = [
                reveal_answers(text, target) if _fraction(i) < reveal_share else text
                for i, text, target in zip(kept, texts, wanted)
            ]
        sources = tokenizer(texts).input_ids
        if tags:
            targets = [_tag_labels(ids, target, marks) for ids, target in zip(sources, wanted)]
        else:
            targets = tokenizer(text_target=wanted).input_ids
        encoded = iter(zip(sources, targets))
        # Unusable rows get empty sequences and are filtered out below.
        inputs, labels = zip(*(next(encoded) if ok else ([], []) for ok in usable))
        columns = {
            "input_ids": list(inputs),
            "labels": list(labels),
            "length": [len(i) for i in inputs],
            "row": indices,
        }
        if tags:
            columns["decoder_input_ids"] = list(inputs)
        return columns

    # "row" (the pair's index in ``dataset``) lines predictions up with pairs; the Trainer drops
    # it and "length" before the model sees a batch.
    # datasets fingerprints ``encode`` but not the functions it calls: the target of a probe
    # pair stands in for the format, so a format change never reuses a stale cache.
    # A table word in the probe makes slot layouts part of it; the vocabulary hash catches a
    # rebuilt tokenizer of the same size.
    word = next(iter(candidates.entries), "") if candidates else ""
    probe = make_target("a b c", "a x c", settings, candidates) + encode_source(
        f"a b {word}", settings, candidates
    )
    vocabulary = hashlib.sha256(repr(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()
    table = (
        hashlib.sha256(repr(sorted(candidates.entries.items())).encode()).hexdigest()
        if candidates
        else ""
    )
    fingerprint = hashlib.sha256(
        f"{dataset._fingerprint}|{settings}|{probe}|{vocabulary}|{table}|{reveal_share}".encode()
    ).hexdigest()[:16]
    encoded = dataset.map(
        encode,
        batched=True,
        with_indices=True,
        remove_columns=dataset.column_names,
        desc="tokenising",
        new_fingerprint=fingerprint,
    )
    return encoded.filter(
        lambda row: (
            0 < len(row["input_ids"]) <= settings.max_source_tokens
            # Tags labels run along the source; the others are the decoder's output.
            and (tags or 0 < len(row["labels"]) <= settings.max_target_tokens)
        )
    )


def _tag_marks(tokenizer) -> tuple[dict[int, int], dict[str, int]]:
    """Slot-mark ids (to their slot number) and choice-mark ids (by mark) of the tokenizer."""
    from restore.format import CHOICE_TOKENS, SLOT_TOKENS

    slots = {tokenizer.convert_tokens_to_ids(t): i for i, t in enumerate(SLOT_TOKENS, 1)}
    choices = {t: tokenizer.convert_tokens_to_ids(t) for t in CHOICE_TOKENS}
    return slots, choices


def _tag_labels(source_ids: list[int], target: str, marks) -> list[int]:
    """Labels of the tags format: -100 everywhere but at slot marks, which get their choice."""
    from restore.format import CHOICE_RE

    slots, choices = marks
    picked = {int(slot): choices[f"⟨{choice}⟩"] for slot, choice in CHOICE_RE.findall(target)}
    return [picked.get(slots.get(token, 0), -100) for token in source_ids]


def _tag_collator(pad_id: int):
    """Pads input_ids/decoder_input_ids with ``pad_id`` and labels with -100."""
    import torch

    def collate(features):
        width = max(len(f["input_ids"]) for f in features)

        def column(key, fill):
            return torch.tensor([f[key] + [fill] * (width - len(f[key])) for f in features])

        input_ids = column("input_ids", pad_id)
        return {
            "input_ids": input_ids,
            "attention_mask": (input_ids != pad_id).long(),
            "decoder_input_ids": column("decoder_input_ids", pad_id),
            "labels": column("labels", -100),
        }

    return collate


def _best_choices(choice_ids: list[int]):
    """preprocess_logits_for_metrics of the tags format: the likeliest choice id per position."""

    def best(logits, labels):
        import torch

        logits = logits[0] if isinstance(logits, tuple) else logits
        ids = torch.tensor(choice_ids, device=logits.device)
        return ids[logits[..., ids].argmax(-1)]

    return best


def reveal_answers(source: str, target: str) -> str:
    """The choices-format source with each slot's answer written after its mark (``⟦1⟧⇒⟨2⟩``)."""
    from restore.format import ARROW, CHOICE_RE

    answers = {slot: choice for slot, choice in CHOICE_RE.findall(target)}
    return re.sub(
        r"⟦(\d+)⟧",
        lambda m: f"{m[0]}{ARROW}⟨{answers[m[1]]}⟩" if m[1] in answers else m[0],
        source,
    )


def _fraction(index: int) -> float:
    """A fixed pseudo-random number in [0, 1) for a row index."""
    return int(hashlib.sha256(str(index).encode()).hexdigest()[:8], 16) / 2**32


# -- evaluation during training ------------------------------------------------------------


def make_compute_metrics(tokenizer, settings, eval_rows, candidates=None):
    """compute_metrics for Seq2SeqTrainer: decode, apply to the spun text, score edits."""
    import numpy as np

    from restore.format import apply_target
    from training.metrics import score

    spun = [row["spun"] for row in eval_rows]
    original = [row["original"] for row in eval_rows]

    from restore.format import SLOT_TOKENS

    def compute(prediction) -> dict[str, float]:
        if settings.target_format == "tags":
            # Each row's choices at its labelled positions (the slot marks), in order.
            outputs = [
                "".join(
                    f"{SLOT_TOKENS[k]}{tokenizer.convert_ids_to_tokens(int(i))}"
                    for k, i in enumerate(row[gold >= 0])
                )
                for row, gold in zip(prediction.predictions, prediction.label_ids)
            ]
        else:
            ids = np.where(
                prediction.predictions < 0, tokenizer.pad_token_id, prediction.predictions
            )
            outputs = tokenizer.batch_decode(ids, skip_special_tokens=True)
        restored = [
            apply_target(s, out, settings, candidates).text for s, out in zip(spun, outputs)
        ]
        metrics = {
            k: v for k, v in score(spun, original, restored).items() if isinstance(v, (int, float))
        }
        # Model selection: F0.5, with target-token accuracy breaking ties (early on every
        # checkpoint has F0.5 = 0, and a tie would keep the oldest).
        if settings.target_format == "tags":
            gold = prediction.label_ids
            metrics["token_accuracy"] = float((prediction.predictions == gold)[gold >= 0].mean())
        else:
            metrics["token_accuracy"] = _token_accuracy(
                prediction.predictions, prediction.label_ids
            )
        metrics["selection"] = metrics["f0.5"] + 1e-3 * metrics["token_accuracy"]
        return metrics

    return compute


def _token_accuracy(predictions, labels) -> float:
    """Share of label tokens that the generated sequence has at the same position."""
    import numpy as np

    # Generated ids start with the decoder start token; labels do not.
    predicted = predictions[:, 1:]
    width = min(predicted.shape[1], labels.shape[1])
    mask = labels[:, :width] >= 0
    correct = (predicted[:, :width] == labels[:, :width]) & mask
    return float(correct.sum() / max(int(np.count_nonzero(labels >= 0)), 1))


# -- logging -------------------------------------------------------------------------------


def _callbacks(config: Any, log_path: Path):
    from transformers import TrainerCallback

    class CsvLog(TrainerCallback):
        """Every logged value as one CSV row (step, time, loss, eval metrics...).

        Rows are kept in memory (an earlier run's, on resume, read once) and the file is
        rewritten whole, since evaluation columns appear only after the first rows.
        """

        def __init__(self):
            self.started = time.time()
            self.rows: list[dict[str, str]] = []
            if log_path.exists():
                with open(log_path, newline="", encoding="utf-8") as fh:
                    self.rows = list(csv.DictReader(fh))

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            row = {"step": state.global_step, "seconds": round(time.time() - self.started, 1)}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float))})
            self.rows.append({k: str(v) for k, v in row.items()})
            fields = list(dict.fromkeys(k for r in self.rows for k in r))
            with open(log_path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(self.rows)

    class TimeBudget(TrainerCallback):
        """Stops (after a save and an evaluation) when the wall-clock budget is spent."""

        def __init__(self, minutes: float):
            self.deadline = time.time() + minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            if time.time() >= self.deadline:
                logger.info("time budget spent at step %d", state.global_step)
                control.should_training_stop = True
                control.should_evaluate = True
                control.should_save = True

    callbacks = [CsvLog()]
    if config.train.max_minutes > 0:
        callbacks.append(TimeBudget(config.train.max_minutes))
    if config.train.early_stopping_patience > 0:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(config.train.early_stopping_patience))
    return callbacks


def plot_log(log_path: Path, png_path: Path) -> None:
    """Training loss and validation F0.5/recall against steps, from the CSV log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(log_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def series(key):
        points = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
        return [p[0] for p in points], [p[1] for p in points]

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(*series("loss"), label="train loss")
    left.plot(*series("eval_loss"), "o-", label="valid loss")
    left.set_xlabel("step")
    left.set_yscale("log")
    left.legend()
    for key in ("eval_f0.5", "eval_precision", "eval_recall"):
        steps, values = series(key)
        if steps:
            right.plot(steps, values, "o-", label=key.removeprefix("eval_"))
    right.set_xlabel("step")
    right.set_ylim(0, 1)
    right.legend()
    right.set_title("validation edits")
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)


# -- the stage -----------------------------------------------------------------------------


def train(config: Any, output_dir: str | Path, *, resume: bool = False) -> Path:
    """Train and write the model directory; returns its path."""
    import datasets
    import torch
    from transformers import (
        DataCollatorForSeq2Seq,
        GenerationConfig,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    from training.config import save_config

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
            f"train.max_target_tokens={settings.max_target_tokens} "
            f"(train {len(train_set)}, valid {len(eval_set)} usable pairs)"
        )
    train_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, train_dir / "config.yaml")

    cfg = config.train
    tags = cfg.target_format == "tags"
    if tags:
        from restore.format import CHOICE_TOKENS

        collator = _tag_collator(tokenizer.pad_token_id)
        choice_ids = tokenizer.convert_tokens_to_ids(list(CHOICE_TOKENS[: settings.choices + 1]))
    else:
        collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
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
        predict_with_generate=not tags,
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
        data_collator=collator,
        preprocess_logits_for_metrics=_best_choices(choice_ids) if tags else None,
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(tokenizer, settings, eval_rows, candidates),
        callbacks=_callbacks(config, train_dir / LOG_FILE),
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


def save_model_dir(
    model, tokenizer, settings, config: Any, model_dir: Path, candidates=None
) -> Path:
    """Write the inference contract: weights, configs, tokenizer, restore.json, config, and the
    candidate table of the choices and tags formats."""
    import torch

    from restore.candidates import CANDIDATES_FILE
    from restore.format import save_settings
    from training.config import save_config

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


def write_model_card(model_dir: Path, config: Any, metrics: dict[str, Any]) -> None:
    """README.md of the model directory: data, spinner, training, and measured figures."""
    valid = metrics.get("valid", {})
    test = metrics.get("test")
    run = metrics["train"]
    lines = [
        f"# restore model `{config.name}`",
        "",
        "A T5-style seq2seq model that restores the original wording of synonym-spun English "
        "news. Load it with `restore.Restorer.from_pretrained(path)` or plain transformers "
        "(`AutoModelForSeq2SeqLM`, `AutoTokenizer`); `restore.json` holds the input/output "
        "format.",
        "",
        "## Data",
        f"- inputs: {', '.join(config.synthesis.inputs)} (train split only; valid for model "
        "selection)",
        f"- units: {config.synthesis.unit}, at most {config.synthesis.max_words} words; "
        f"{config.synthesis.spins_per_unit} spin(s) per unit, {config.synthesis.clean_share:.0%} "
        "kept unspun",
        f"- spinner: rates {list(config.synthesis.rates) or [config.spinner.rate]}, "
        f"choice {config.spinner.choice}, relation weights {config.spinner.relation_weights}, "
        f"function-word rate {config.spinner.function_rate}",
        "",
        "## Training",
        f"- init: {config.train.init}; target format: {config.train.target_format}"
        + _FORMAT_NOTES.get(config.train.target_format, ""),
        f"- parameters: {run['parameters'] / 1e6:.1f} M; steps: {run['steps']}; "
        f"train pairs: {run['train_pairs']}",
        f"- time (last run): {run['seconds_this_run'] / 60:.1f} min on {run['hardware']}",
        "",
        "## Validation (during training)",
        _metric_line(valid),
    ]
    if test:
        lines += ["", "## Held-out test", "", *_test_table(test)]
    (model_dir / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


_FORMAT_NOTES = {
    "choices": " (picks among candidate originals from `candidates.json.gz`, shown in the input)",
    "tags": (
        " (the decoder reads the input and picks, at each slot mark, one of the candidate "
        "originals from `candidates.json.gz` shown before it, in one forward pass: run it with "
        "the torch backends; `generate` is not how it is used)"
    ),
}


def _test_table(test: dict[str, Any]) -> list[str]:
    """Rows of the held-out table: this model beside the baselines, per spin rate."""
    header = [
        f"Measured with `{test['command']}`." if test.get("command") else "",
        "",
        "| rate | system | P | R | F0.5 | false changes /100 tokens | BLEU | chrF | copy BLEU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = []
    for m in test.get("runs", []):
        fc = m.get("false_changes_per_100_tokens")
        rows.append(
            f"| {m['rate']} | {m['system']} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['f0.5']:.3f} | {'' if fc is None else f'{fc:.2f}'} | {m['bleu']:.1f} | "
            f"{m['chrf']:.1f} | {m['copy_bleu']:.1f} |"
        )
    return header + rows


def add_test_results(model_dir: str | Path, test: dict[str, Any]) -> None:
    """Record held-out results (scripts/evaluate.py's results.json: ``{"command", "runs"}``,
    each run a flat dict with system, rate and metrics) in metrics.json; rewrite the card."""
    from training.config import load_config

    model_dir = Path(model_dir)
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    metrics["test"] = test
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    config = load_config(model_dir / "training_config.yaml")
    write_model_card(model_dir, config, metrics)


def _metric_line(metrics: dict[str, Any]) -> str:
    keys = ("precision", "recall", "f0.5", "false_changes_per_100_tokens", "bleu", "chrf")
    return " | ".join(f"{k} {metrics[k]:.4g}" for k in keys if isinstance(metrics.get(k), float))


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


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
    from training.config import ConfigError, add_config_arguments, config_from_args

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

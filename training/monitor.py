"""Watching a training run: validation metrics, the CSV log and its plot, callbacks.

At each evaluation the format reads the model's predictions back as targets
(``TrainingHooks.decode_predictions``), applies them to the spun text and the restorations are
scored as edits (:mod:`training.metrics`); model selection uses F0.5 with the format's target-token
accuracy breaking ties.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

from restore.candidates import CandidateTable
from restore.formats import get_format
from restore.settings import ModelSettings
from training.config import ExperimentConfig
from training.format_hooks import hooks_for
from training.metrics import score

logger = logging.getLogger(__name__)


def make_compute_metrics(
    tokenizer, settings: ModelSettings, eval_rows, candidates: CandidateTable | None = None
):
    """compute_metrics for Seq2SeqTrainer: decode, apply to the spun text, score edits."""
    model_format = get_format(settings.target_format)(settings, candidates)
    hooks = hooks_for(model_format)
    spun = [row["spun"] for row in eval_rows]
    original = [row["original"] for row in eval_rows]

    def compute(prediction) -> dict[str, float]:
        predictions, gold = prediction.predictions, prediction.label_ids
        outputs = hooks.decode_predictions(predictions, gold, tokenizer)
        restored = [model_format.apply_target(s, out).text for s, out in zip(spun, outputs)]
        metrics = {
            k: v for k, v in score(spun, original, restored).items() if isinstance(v, (int, float))
        }
        # Model selection: F0.5, with target-token accuracy breaking ties (early on every
        # checkpoint has F0.5 = 0, and a tie would keep the oldest).
        metrics["token_accuracy"] = hooks.token_accuracy(predictions, gold)
        metrics["selection"] = metrics["f0.5"] + 1e-3 * metrics["token_accuracy"]
        return metrics

    return compute


def build_callbacks(config: ExperimentConfig, log_path: Path):
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

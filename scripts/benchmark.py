"""Throughput and memory of the restore backends on the same inputs, each in its own process.

    python scripts/benchmark.py INPUT --model MODEL_DIR [--backends torch,torch-int8,ctranslate2]
                                [--threads 2] [--batch-size 32] [--field text] [--limit N]
                                [--repeats N] [--json OUT.json]

INPUT is a JSONL file (documents in ``--field``) or a text file (documents separated by blank
lines). Every backend restores the same documents in a fresh subprocess (so its peak RSS is its
own: imports, weights and activations), after one warm-up document. Reported per backend:
words/s (whitespace-separated input words over the timed ``restore_batch``), peak RSS, load
time, speed relative to the first backend (with ``--repeats N``, each backend runs in N fresh
processes, the backends taking turns, and its median run is reported: a shared machine's speed
drifts by tens of percent from minute to minute), and agreement with the first backend (documents
restored identically; edits in common, as F1; units whose model output, before the guard, is
identical). ``ctranslate2`` needs an export in
``MODEL_DIR/ctranslate2`` (``restore export-ct2 MODEL_DIR MODEL_DIR/ctranslate2``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_BACKENDS = "torch,torch-int8,ctranslate2"


def load_documents(path: Path, field: str, limit: int | None) -> list[str]:
    """Documents of a JSONL file's ``field`` or of a text file's blank-line-separated blocks."""
    if path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as fh:
            docs = [json.loads(line)[field] for line in fh if line.strip()]
    else:
        docs = [d for d in path.read_text(encoding="utf-8").split("\n\n") if d.strip()]
    return docs[:limit] if limit else docs


def run_worker(args: argparse.Namespace) -> dict:
    """Measure one backend in this process."""
    from restore import Restorer

    documents = load_documents(Path(args.input), args.field, args.limit)
    started = time.perf_counter()
    restorer = Restorer.from_pretrained(
        args.model, backend=args.worker, threads=args.threads, batch_size=args.batch_size
    )
    load_s = time.perf_counter() - started
    restorer.restore_batch(documents[:1])  # warm-up: first-call allocations and caches
    started = time.perf_counter()
    results = list(restorer.restore_detailed_iter(documents))
    seconds = time.perf_counter() - started
    words = sum(len(d.split()) for d in documents)
    return {
        "backend": args.worker,
        "documents": len(documents),
        "words": words,
        "seconds": round(seconds, 3),
        "words_per_s": round(words / seconds, 1),
        "load_s": round(load_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "texts": [r.text for r in results],
        "edits": [[[e.start, e.end, e.restored] for e in r.edits] for r in results],
        "proposals": [u.proposal for r in results for u in r.units],
    }


def agreement(reference: dict, other: dict) -> dict:
    """Share of documents restored identically, F1 of the edit sets, and share of units where
    the model proposed the same restoration (before the guard: the backends' raw agreement)."""
    same = sum(a == b for a, b in zip(reference["texts"], other["texts"]))
    units = sum(a == b for a, b in zip(reference["proposals"], other["proposals"]))
    common = total_ref = total_other = 0
    for a, b in zip(reference["edits"], other["edits"]):
        ref_set, other_set = {tuple(e) for e in a}, {tuple(e) for e in b}
        common += len(ref_set & other_set)
        total_ref += len(ref_set)
        total_other += len(other_set)
    f1 = 2 * common / (total_ref + total_other) if total_ref + total_other else 1.0
    return {
        "documents_identical": round(same / max(len(reference["texts"]), 1), 4),
        "edits_f1": round(f1, 4),
        "units_identical": round(units / max(len(reference["proposals"]), 1), 4),
    }


def markdown(rows: list[dict]) -> str:
    lines = [
        "| backend | words/s | × first | peak RSS (MB) | load (s) | identical docs | edit F1 "
        "| identical unit outputs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['backend']} | {row['words_per_s']:,.0f} | {row['speedup']:.2f} | "
            f"{row['peak_rss_mb']:,.0f} | {row['load_s']:.1f} | "
            f"{row['documents_identical']:.1%} | {row['edits_f1']:.3f} | "
            f"{row['units_identical']:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="JSONL or text file of documents")
    parser.add_argument("--model", required=True, help="model directory (or 'default')")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated")
    parser.add_argument("--threads", type=int, default=2, help="model threads (default: 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--field", default="text", help="JSONL field of the documents")
    parser.add_argument("--limit", type=int, help="use the first N documents")
    parser.add_argument(
        "--repeats", type=int, default=1, help="fresh runs per backend; the median is reported"
    )
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: measure one backend
    args = parser.parse_args(argv)
    if args.worker:
        json.dump(run_worker(args), sys.stdout)
        return 0

    backends = args.backends.split(",")
    runs: dict[str, list[dict]] = {backend: [] for backend in backends}
    # Repeats interleave the backends (A B A B ...): the machine's speed drifts in spells, and
    # one backend's runs all in one spell would compare the spells, not the backends.
    for _ in range(max(args.repeats, 1)):
        for backend in backends:
            command = [sys.executable, __file__, *_forward(args), "--worker", backend]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"benchmark: {backend} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                return 1
            runs[backend].append(json.loads(done.stdout))
    rows = []
    for backend in backends:
        ranked = sorted(runs[backend], key=lambda run: run["words_per_s"])
        rows.append(ranked[(len(ranked) - 1) // 2])
        rows[-1]["runs_words_per_s"] = [run["words_per_s"] for run in ranked]
        shown = ", ".join(f"{run['words_per_s']:,.0f}" for run in ranked)
        print(f"{backend}: {rows[-1]['words_per_s']:,.0f} words/s (runs: {shown})", file=sys.stderr)
    for row in rows:
        row["speedup"] = round(row["words_per_s"] / rows[0]["words_per_s"], 2)
        row.update(agreement(rows[0], row))
    dropped = ("texts", "edits", "proposals")
    summary = [{k: v for k, v in row.items() if k not in dropped} for row in rows]
    print(markdown(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


def _forward(args: argparse.Namespace) -> list[str]:
    forwarded = [args.input, "--model", str(args.model), "--threads", str(args.threads)]
    forwarded += ["--batch-size", str(args.batch_size), "--field", args.field]
    return forwarded + (["--limit", str(args.limit)] if args.limit else [])


if __name__ == "__main__":
    raise SystemExit(main())

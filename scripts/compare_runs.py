"""Compare training runs at equal CPU time: validation F0.5 and recall against wall-clock minutes.

    python scripts/compare_runs.py runs/a/train/log.csv:"edits" runs/b/train/log.csv:"choices" \
        --out docs/recipes.png

Each argument is a training ``log.csv`` with an optional ``:label``. Prints a Markdown table
of each run's last and best evaluation and writes the plot.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def read_evals(path: Path) -> list[dict[str, float]]:
    """The evaluation rows of a training log (minutes, step, F0.5, recall, ...)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # A resumed run's clock restarts: carry the earlier invocations' time over.
    offset = last = 0.0
    for r in rows:
        seconds = float(r["seconds"])
        if seconds < last:
            offset += last
        last = seconds
        r["seconds"] = seconds + offset
    rows = [r for r in rows if r.get("eval_f0.5")]
    return [
        {
            "minutes": float(r["seconds"]) / 60,
            "step": int(r["step"]),
            "f0.5": float(r["eval_f0.5"]),
            "precision": float(r["eval_precision"]),
            "recall": float(r["eval_recall"]),
            "false_changes": float(r.get("eval_false_changes_per_100_tokens") or 0.0),
        }
        for r in rows
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", help="LOG.csv[:label]")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    print("| run | minutes | steps | F0.5 (last) | P | R | best F0.5 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec in args.logs:
        path, _, label = spec.partition(":")
        evals = read_evals(Path(path))
        if not evals:
            raise SystemExit(f"{path} has no evaluation rows")
        label = label or path
        minutes = [e["minutes"] for e in evals]
        left.plot(minutes, [e["f0.5"] for e in evals], "o-", label=label)
        right.plot(minutes, [e["recall"] for e in evals], "o-", label=label)
        last = evals[-1]
        best = max(e["f0.5"] for e in evals)
        print(
            f"| {label} | {last['minutes']:.0f} | {last['step']} | {last['f0.5']:.3f} | "
            f"{last['precision']:.3f} | {last['recall']:.3f} | {best:.3f} |"
        )
    for axis, name in ((left, "validation F0.5"), (right, "validation recall")):
        axis.set_xlabel("training minutes (2 CPU cores)")
        axis.set_ylim(0, 1)
        axis.set_title(name)
        axis.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()

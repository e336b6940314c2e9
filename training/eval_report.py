"""Markdown reports and plots of evaluation runs (from :mod:`training.evaluation`).

A report folder holds ``report.md``, ``results.json`` (every run with its slices),
``f05_vs_rate.png`` and ``recall_by_pos.png``. Nothing in it depends on the clock, so the same
runs give the same files.

>>> run = {"system": "identity", "rate": 0.3, "precision": 1.0, "recall": 0.0, "f0.5": 0.0,
...        "false_changes_per_100_tokens": 0.0, "exact_match": 0.0, "bleu": 70.0,
...        "chrf": 80.0, "copy_bleu": 70.0, "copy_chrf": 80.0}
>>> print(results_table([run]).splitlines()[2])
| identity | 0.3 | 1.000 | 0.000 | 0.000 | 0.00 | 0.000 | – | 70.0 | 80.0 | 70.0 | 80.0 |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPORT_FILES = ("report.md", "results.json", "f05_vs_rate.png", "recall_by_pos.png")
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "r": "adverb", "f": "function word"}
DEFAULT_RATE = 0.3


class ReportError(RuntimeError):
    """The report folder exists and may not be overwritten."""


def check_report_folder(folder: str | Path, *, overwrite: bool = False) -> None:
    """Raise :class:`ReportError` if ``folder`` holds report files and ``overwrite`` is off."""
    folder = Path(folder)
    existing = [name for name in REPORT_FILES if (folder / name).exists()]
    if existing and not overwrite:
        raise ReportError(f"{folder} already holds {', '.join(existing)}; pass --overwrite")


def write_report(
    runs: Sequence[Mapping[str, Any]],
    folder: str | Path,
    *,
    command: str,
    data: Mapping[str, Any],
    overwrite: bool = False,
) -> list[Path]:
    """Write the Markdown report, the JSON results and the two plots; returns their paths."""
    check_report_folder(folder, overwrite=overwrite)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in REPORT_FILES]
    paths[0].write_text(render_markdown(runs, command=command, data=data), encoding="utf-8")
    with open(paths[1], "w", encoding="utf-8") as fh:
        json.dump({"command": command, "data": data, "runs": list(runs)}, fh, indent=2)
        fh.write("\n")
    plot_f05_vs_rate(runs, paths[2])
    plot_recall_by_pos(runs, paths[3], rate=reference_rate(runs))
    return paths


def reference_rate(runs: Sequence[Mapping[str, Any]]) -> float | None:
    """The rate the per-slice tables use: 0.3 when it was run, else the first run's rate."""
    rates = [run.get("rate") for run in runs]
    return DEFAULT_RATE if DEFAULT_RATE in rates else (rates[0] if rates else None)


def results_table(runs: Sequence[Mapping[str, Any]], *, rate: float | None = None) -> str:
    """The headline table (one row per run, or per system at ``rate``), Markdown."""
    header = (
        "| system | rate | P | R | F0.5 | false changes /100 tokens | exact match "
        "| word accuracy | BLEU | chrF | copy BLEU | copy chrF |"
    )
    lines = [header, "|" + " --- |" * 2 + " ---: |" * 10]
    for run in runs:
        if rate is not None and run.get("rate") != rate:
            continue
        lines.append(
            "| "
            + " | ".join(
                [
                    str(run["system"]),
                    _num(run.get("rate"), "g"),
                    _num(run.get("precision"), ".3f"),
                    _num(run.get("recall"), ".3f"),
                    _num(run.get("f0.5"), ".3f"),
                    _num(run.get("false_changes_per_100_tokens"), ".2f"),
                    _num(run.get("exact_match"), ".3f"),
                    _num(run.get("word_accuracy"), ".3f"),
                    _num(run.get("bleu"), ".1f"),
                    _num(run.get("chrf"), ".1f"),
                    _num(run.get("copy_bleu"), ".1f"),
                    _num(run.get("copy_chrf"), ".1f"),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def render_markdown(
    runs: Sequence[Mapping[str, Any]], *, command: str, data: Mapping[str, Any]
) -> str:
    """The whole report as Markdown."""
    ref = reference_rate(runs)
    at_ref = [run for run in runs if run.get("rate") == ref]
    ref_label = f"rate {ref:g}" if ref is not None else "all pairs"
    parts = [
        "# Restoration evaluation",
        "",
        "Produced by:",
        "",
        f"```\n{command}\n```",
        "",
        _data_lines(data),
        "",
        "## Results",
        "",
        results_table(runs),
        "",
        "## F0.5 by spin rate",
        "",
        _rate_table(runs),
        "",
        "![F0.5 against spin rate](f05_vs_rate.png)",
        "",
        f"## Restored-word accuracy by part of speech ({ref_label})",
        "",
        "The share of the spinner's substitutions put back exactly, by the part of speech of "
        "the original word: recall per substitution.",
        "",
        _accuracy_table(at_ref, "pos", [POS_NAMES.get(k, k) for k in POS_NAMES], POS_NAMES),
        "",
        "![Restored-word accuracy by part of speech](recall_by_pos.png)",
        "",
        f"## Restored-word accuracy by substitution type ({ref_label})",
        "",
        _type_table(at_ref),
        "",
        f"## Edits by sentence length ({ref_label})",
        "",
        "Sentences of the spun text by their number of words; an edit counts in the sentence "
        "holding its first token. Cells: F0.5 (P / R).",
        "",
        _length_table(at_ref),
        "",
        "## Definitions",
        "",
        _DEFINITIONS,
        "",
    ]
    return "\n".join(parts)


_DEFINITIONS = """\
- Tokens are those of `restore.text.tokenize` (words, numbers, punctuation). Gold edits align
  the spun text with the original, system edits the spun text with the restored text (difflib,
  no autojunk); an n-for-n replacement is split into one-token edits. A system edit is correct
  when a gold edit has the same span and the same content, ignoring case.
- P = correct / system edits (1 when there are none), R = correct / gold edits (1 when there
  are none), F0.5 weighs precision over recall; all summed over the whole set (ERRANT, M2).
- False changes /100 tokens: system edits on the unspun paragraphs per 100 of their tokens.
- Exact match: restored tokens equal the original tokens. Word accuracy: share of the spinner's
  substitutions whose restored tokens equal the original ones (case-insensitive).
- BLEU and chrF: sacrebleu corpus scores of the restored text against the original; the copy
  columns score the spun input itself, the floor to beat."""


def plot_f05_vs_rate(runs: Sequence[Mapping[str, Any]], path: str | Path) -> None:
    """F0.5 against spin rate, one line per system (rates from runs or from rows' rates)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for system, points in _f05_by_rate(runs).items():
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], marker="o", label=system)
    ax.set_xlabel("spin rate (share of eligible words replaced)")
    ax.set_ylabel("F0.5")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def plot_recall_by_pos(
    runs: Sequence[Mapping[str, Any]], path: str | Path, *, rate: float | None
) -> None:
    """Restored-word accuracy by part of speech, grouped bars per system."""
    plt = _pyplot()
    chosen = [run for run in runs if run.get("rate") == rate]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / max(len(chosen), 1)
    keys = list(POS_NAMES)
    for k, run in enumerate(chosen):
        cells = run.get("word_accuracy_by_pos") or {}
        values = [cells.get(p, {}).get("accuracy") or 0.0 for p in keys]
        ax.bar([i + k * width for i in range(len(keys))], values, width, label=run["system"])
    ax.set_xticks([i + width * (len(chosen) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([POS_NAMES[p] for p in keys])
    ax.set_ylabel("restored-word accuracy (recall)")
    ax.set_ylim(0, 1)
    title = f"rate {rate:g}" if rate is not None else "all pairs"
    ax.set_title(f"Substitutions restored, by part of speech ({title})")
    if chosen:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120, metadata={"Software": None})
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _f05_by_rate(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[float, float]]:
    points: dict[str, dict[float, float]] = {}
    for run in runs:
        series = points.setdefault(str(run["system"]), {})
        if run.get("rate") is not None:
            series[float(run["rate"])] = run["f0.5"]
        else:
            for rate, cell in (run.get("slices") or {}).get("by_rate", {}).items():
                series[float(rate)] = cell["f0.5"]
    return points


def _rate_table(runs: Sequence[Mapping[str, Any]]) -> str:
    points = _f05_by_rate(runs)
    rates = sorted({r for series in points.values() for r in series})
    if not rates:
        return "No spin rates recorded."
    lines = [
        "| system | " + " | ".join(f"{r:g}" for r in rates) + " |",
        "| --- |" + " ---: |" * len(rates),
    ]
    for system, series in points.items():
        cells = [_num(series.get(r), ".3f") for r in rates]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _accuracy_table(runs, group: str, labels: list[str], names: Mapping[str, str]) -> str:
    key = f"word_accuracy_by_{group}"
    if not any(run.get(key) for run in runs):
        return "No substitution spans given."
    lines = ["| system | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    for run in runs:
        cells = run.get(key) or {}
        row = []
        for code in names:
            cell = cells.get(code)
            row.append(f"{cell['accuracy']:.3f} ({cell['count']})" if cell else "–")
        lines.append(f"| {run['system']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _type_table(runs) -> str:
    if not any(run.get("word_accuracy_by_kind") for run in runs):
        return "No substitution spans given."
    columns = [
        ("kind", "word", "single word"),
        ("kind", "phrase", "phrase"),
        ("kind", "function", "function word"),
        ("inflection", "inflected", "inflected form"),
        ("inflection", "base", "base form"),
    ]
    lines = [
        "| system | all | " + " | ".join(label for *_, label in columns) + " |",
        "| --- |" + " ---: |" * (len(columns) + 1),
    ]
    for run in runs:
        row = [f"{_num(run.get('word_accuracy'), '.3f')} ({run.get('substitutions', 0)})"]
        for group, key, _ in columns:
            cell = (run.get(f"word_accuracy_by_{group}") or {}).get(key)
            row.append(f"{cell['accuracy']:.3f} ({cell['count']})" if cell else "–")
        lines.append(f"| {run['system']} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def _length_table(runs) -> str:
    labels: list[str] = []
    for run in runs:
        for label in (run.get("slices") or {}).get("by_sentence_length", {}):
            if label not in labels:
                labels.append(label)
    if not labels:
        return "No sentences."
    lines = [
        "| system | " + " | ".join(f"{label} words" for label in labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    gold_row = None
    for run in runs:
        cells = run["slices"]["by_sentence_length"]
        row = []
        for label in labels:
            c = cells.get(label)
            row.append(f"{c['f0.5']:.3f} ({c['precision']:.2f} / {c['recall']:.2f})" if c else "–")
        lines.append(f"| {run['system']} | " + " | ".join(row) + " |")
        if gold_row is None:
            gold_row = [
                str(cells[label]["tp"] + cells[label]["fn"]) if label in cells else "–"
                for label in labels
            ]
    lines.append("| *gold edits* | " + " | ".join(gold_row or []) + " |")
    return "\n".join(lines)


def _data_lines(data: Mapping[str, Any]) -> str:
    if data.get("mode") == "corpus":
        return (
            f"Data: {data['paragraphs']:,} paragraphs of the `{data['split']}` split of "
            f"`{data['corpus']}` ({data['tokens']:,} tokens, {data['words']:,} words), chosen "
            f"by a hash of their id; spun by `training.spinner` ({_spinner_source(data)}) at "
            f"each rate with seed {data['seed']}; the same paragraphs unspun give the "
            "false-change rate."
        )
    return (
        f"Data: {data.get('rows', 0):,} pairs from `{data.get('pairs')}` "
        f"({data.get('tokens', 0):,} spun tokens; {data.get('clean_rows', 0):,} rows unspun)."
    )


def _spinner_source(data: Mapping[str, Any]) -> str:
    if data.get("thesaurus"):
        return f"drawing only from the synonyms of `{data['thesaurus']}`, no function words"
    relations = data.get("relations", "all")
    if relations == "all":
        return "default settings"
    return "drawing only from the relations " + ", ".join(f"`{r}`" for r in relations)


def _num(value: Any, spec: str) -> str:
    return "–" if value is None else format(value, spec)

"""scripts/benchmark.py: its measurements, agreement figures and table."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "benchmark.py"
DATA = Path(__file__).parent / "data" / "tiny_news.jsonl"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_agreement_by_hand(bench):
    reference = {
        "texts": ["a", "b", "c"],
        "edits": [[[0, 1, "x"]], [[2, 3, "y"]], []],
        "proposals": ["p", "q", None, "r"],
    }
    other = {
        "texts": ["a", "B", "c"],
        "edits": [[[0, 1, "x"]], [[2, 3, "z"]], [[1, 2, "w"]]],
        "proposals": ["p", "Q", None, "s"],
    }
    # 2 of 3 documents equal; edits: 1 in common, 2 + 3 in total -> F1 = 2 * 1 / 5; 2 of 4 units.
    assert bench.agreement(reference, other) == {
        "documents_identical": 0.6667,
        "edits_f1": 0.4,
        "units_identical": 0.5,
    }


def test_worker_measures_one_backend(bench, tiny_model):
    args = argparse.Namespace(
        input=str(DATA), field="text", limit=4, model=str(tiny_model), worker="torch",
        threads=1, batch_size=8,
    )  # fmt: skip
    row = bench.run_worker(args)
    assert row["documents"] == 4 and len(row["texts"]) == 4
    assert row["words"] > 0 and row["words_per_s"] > 0 and row["peak_rss_mb"] > 0


def test_main_runs_each_backend_in_a_subprocess(bench, tiny_ct2_model, tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = [str(DATA), "--model", str(tiny_ct2_model), "--backends", "ctranslate2,ctranslate2"]
    assert bench.main([*argv, "--threads", "1", "--limit", "3", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [r["backend"] for r in rows] == ["ctranslate2", "ctranslate2"]
    assert rows[1]["documents_identical"] == 1.0  # deterministic across processes
    assert "| ctranslate2 |" in capsys.readouterr().out


def test_repeats_report_the_median_run(bench, tiny_ct2_model, tmp_path):
    out = tmp_path / "bench.json"
    argv = [str(DATA), "--model", str(tiny_ct2_model), "--backends", "ctranslate2"]
    argv += ["--threads", "1", "--limit", "2", "--repeats", "3", "--json", str(out)]
    assert bench.main(argv) == 0
    (row,) = json.loads(out.read_text())
    runs = row["runs_words_per_s"]
    assert len(runs) == 3 and runs == sorted(runs)
    assert row["words_per_s"] == runs[1]

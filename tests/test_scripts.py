"""The scripts' pure parts: calibration's choice (training.calibrate), compare_runs, load_test,
gpu_bundle."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

SCRIPTS = Path(__file__).parents[1] / "scripts"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_runs_reads_only_evaluation_rows(tmp_path):
    compare = load("compare_runs")
    log = tmp_path / "log.csv"
    log.write_text(
        "step,seconds,loss,eval_f0.5,eval_precision,eval_recall\n"
        "10,60,2.0,,,\n"
        "20,120,,0.5,0.6,0.3\n",
        encoding="utf-8",
    )
    (row,) = compare.read_evals(log)
    assert row["minutes"] == 2.0 and row["step"] == 20
    assert (row["f0.5"], row["precision"], row["recall"]) == (0.5, 0.6, 0.3)
    out = tmp_path / "plot.png"
    compare.main([f"{log}:run", "--out", str(out)])
    assert out.stat().st_size > 0


def test_load_test_sends_bounded_requests_and_checks_answers(tiny_detect_model, capsys):
    load_test = load("load_test")
    # Unspun texts: the spinner's lexicon takes longer to load than the whole test.
    argv = ["--requests", "12", "--concurrency", "3", "--rate", "0"]
    argv += ["--model", str(tiny_detect_model)]
    assert load_test.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == 12 and report["errors"] == 0 and report["mismatches"] == 0
    assert 0 < report["p50_ms"] <= report["p95_ms"] <= report["max_ms"]
    assert load_test.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0
    assert load_test.percentile([4.0, 1.0, 3.0, 2.0], 0.95) == 4.0


def test_calibrate_chooses_the_best_f05_within_the_false_change_limit():
    from training import calibrate

    def row(threshold, f, fc, rule="none"):
        return {"rule": rule, "threshold": threshold, "f0.5": f, "false_changes_per_100_tokens": fc}

    rows = [row(0.5, 0.62, 0.5), row(0.8, 0.58, 0.25), row(0.6, 0.60, 0.2, "learned")]
    rows.append(row(0.9, 0.6, 0.1, "learned"))
    assert calibrate.choose(rows, 0.3) == rows[2]  # of equal F0.5, the first
    assert calibrate.choose(rows, 0.05) == rows[3]  # none allowed: the fewest false changes


def test_startup_measures_each_run_in_a_fresh_process(tmp_path, capsys):
    import sys

    startup = load("startup")
    upper = [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper())"]
    run = startup.run_once(upper, b"abc")
    assert run.output == b"ABC" and run.returncode == 0
    assert run.seconds > 0 and run.peak_rss_mb > 1
    failing = startup.run_once([sys.executable, "-c", "raise SystemExit(3)"], b"")
    assert failing.returncode == 3
    out = tmp_path / "startup.json"
    assert startup.main(["--runs", "2", "--text", "x", "--json", str(out), "--", *upper]) == 0
    summary = json.loads(out.read_text())
    assert summary["runs"] == 2 and summary["same_output"] and summary["returncodes"] == [0]
    assert "'X'" in capsys.readouterr().out


def test_startup_summary_by_hand():
    startup = load("startup")
    runs = [startup.Run(s, m, 0, b"same") for s, m in [(1.0, 400.0), (3.0, 410.0), (2.0, 405.0)]]
    summary = startup.summarise([*runs[:2], startup.Run(2.0, 405.0, 1, b"other")])
    assert summary["median_s"] == 2.0 and summary["max_s"] == 3.0
    assert summary["median_peak_rss_mb"] == 405.0 and summary["max_peak_rss_mb"] == 410.0
    assert summary["returncodes"] == [0, 1] and not summary["same_output"]


def test_startup_builds_its_documents():
    startup = load("startup")
    assert startup.document(b'{"t": "a b"}\n{"t": "c"}\n', field="t") == b"a b\n\nc"
    assert startup.document("né".encode(), repeat_to=7) == "né\n\nn".encode()
    assert startup.document(b"x", repeat_to=1) == b"x"


def test_gpu_bundle_picks_news_after_the_skipped_words_and_packs_a_loadable_model(tmp_path):
    import gzip
    import tarfile

    import numpy as np

    bundle = load("gpu_bundle")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = [{"id": f"t{i}", "text": "word " * 10, "split": "train"} for i in range(20)]
    docs += [{"id": f"v{i}", "text": "word " * 10, "split": "valid"} for i in range(5)]
    with gzip.open(corpus / "allsides.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps({**d, "source": "allsides"}) + "\n" for d in docs)
    first = [json.loads(line) for line in bundle.pick_news(corpus, 30, 0, 20, 7).splitlines()]
    later = [json.loads(line) for line in bundle.pick_news(corpus, 30, 30, 20, 7).splitlines()]
    ids = [d["id"] for d in first if d["split"] == "train"]
    assert len(ids) == 3 and all(int(i[1:]) >= 10 for i in ids)  # the second half only
    assert not set(ids) & {d["id"] for d in later if d["split"] == "train"}
    assert [d["id"] for d in first if d["split"] == "valid"] == ["v0", "v1"]
    assert first == [
        json.loads(line) for line in bundle.pick_news(corpus, 30, 0, 20, 7).splitlines()
    ]

    model = tmp_path / "model"
    (model / "ngram").mkdir(parents=True)
    for name in bundle.MODEL_FILES + bundle.NGRAM_FILES:
        (model / name).write_text(name, encoding="utf-8")
    for name in bundle.NPZ_FILES:
        np.savez_compressed(model / name, values=np.arange(5), relation_sizes=np.ones(3))
    bundle.pack_model(model, tmp_path / "model.tar.xz")
    with tarfile.open(tmp_path / "model.tar.xz") as tar:
        tar.extractall(tmp_path / "out", filter="data")
    unpacked = tmp_path / "out" / "default"
    assert (unpacked / "ngram" / "vocab.txt").read_text(encoding="utf-8") == "ngram/vocab.txt"
    assert np.load(unpacked / "ngram" / "counts.npz")["values"].tolist() == [0, 1, 2, 3, 4]
    # The inverse table travels without its relation counts; other files keep every array.
    assert np.load(unpacked / "inverse.npz").files == ["values"]
    assert sorted(np.load(unpacked / "context.npz").files) == ["relation_sizes", "values"]


def test_reach_counts_each_candidate_source_over_the_swaps():
    from restore.tagger.inverse import InverseTable
    from training.tagger.fillin import count_gaps

    reach = load("reach_signals").reach
    entries = {
        "ejects": (2.1, [("greets", 3.9), ("expels", 2.8)]),
        "expels": (2.8, [("removes", 4.0), ("ejects", 2.1)]),
    }
    relations = {"ejects": [{"rel": 50}, {"syn": 3}], "expels": [{"syn": 4}, {"syn": 3}]}
    table = InverseTable(entries, relations)
    spun = "She ejects the crowd and ejects the band."
    row = {
        "spun": spun,
        "substitutions": [
            {"spun_start": 4, "spun_end": 10, "original": "greets"},  # listed under Moby only
            {"spun_start": 25, "spun_end": 31, "original": "removes"},  # two hops away
            {"spun_start": 15, "spun_end": 20, "original": "group"},  # "crowd": not a key
        ],
    }
    neighbours = {"eject\tv": ["greet"]}
    out = reach(table, [row], neighbours=neighbours, counts=(1,), hops=2)
    assert out["swaps"] == 3 and out["sites"] == 2
    assert out["table"] == round(1 / 3, 4)
    assert out["kept"] == round(1 / 3, 4)
    assert out["kept + two hops (2 x 2)"] == round(2 / 3, 4)
    without_moby = reach(table, [row], keep=("syn", "sim", "hyper", "hypo"), neighbours=neighbours)
    assert without_moby["table"] == round(1 / 3, 4) and without_moby["kept"] == 0.0
    # Without Moby, "greets" comes back only as an embedding neighbour of "ejects".
    assert without_moby["kept + neighbours 10"] == round(1 / 3, 4)
    assert without_moby["kept + neighbours 10: median added"] == 1.0
    # Without Moby, "greets" also comes back as a word the text puts between "she" and "the".
    gaps = count_gaps(["She greets the crowd.", "She sees the band.", "She sees the light."])
    by_gaps = reach(table, [row], keep=("syn",), gaps=gaps, gap_counts=(1, 2), hops=0)
    assert by_gaps["kept"] == 0.0
    assert by_gaps["kept + gap words 1"] == 0.0  # "sees", seen twice, comes first
    assert by_gaps["kept + gap words 2"] == round(1 / 3, 4)
    assert by_gaps["kept + gap words 2: median added"] == 1.0  # 2 and 0 at the two sites


def test_spun_phrases_swaps_counts_and_finds_edited_phrases():
    import random

    study = load("spun_phrases")
    text = "However, the vote was delayed because of rain. Be that as it may, it went on."
    spun = study.spin_with_phrases(text, random.Random(0), share=1.0)
    assert spun != text and spun.split(",")[0] in (
        "Be that as it may",
        "That being said",
        "Having said that",
    )
    assert study.spin_with_phrases(text, random.Random(0), share=0.0) == text
    assert study.written_phrases(text) == 1  # "Be that as it may", as a writer used it
    assert study.edited_phrases(text, text) == 0
    assert study.edited_phrases(text, text.replace("Be that as it may", "However")) == 1

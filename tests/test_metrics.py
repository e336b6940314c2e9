"""Metrics with hand-computed values, the local evaluate module, and the evaluate CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.metrics import (
    Edit,
    edits_between,
    extract_edits,
    prf,
    score,
    score_example,
    substitution_outcomes,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"


def _load_cli():
    spec = importlib.util.spec_from_file_location("evaluate_cli", ROOT / "scripts/evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counts(spun, original, restored):
    s = score([spun], [original], [restored], text_metrics=False)
    return s["tp"], s["fp"], s["fn"]


# -- edits ---------------------------------------------------------------------------------


def test_edits_split_equal_length_replacements_per_token():
    assert extract_edits("a big fete began", "a large party began") == [
        Edit(1, 2, ("large",)),
        Edit(2, 3, ("party",)),
    ]


def test_edits_of_unequal_blocks_insertions_and_deletions():
    assert extract_edits("a celebration began", "a political party began") == [
        Edit(1, 2, ("political", "party"))
    ]
    assert extract_edits("He left .", "He has left .") == [Edit(1, 1, ("has",))]
    assert extract_edits("the political party won", "the party won") == [Edit(1, 2, ())]
    assert extract_edits("", "") == []
    assert extract_edits("", "Hello") == [Edit(0, 0, ("hello",))]
    assert extract_edits("a fete", "") == [Edit(0, 2, ())]


def test_edit_content_is_lower_cased_but_alignment_is_case_sensitive():
    assert extract_edits("The fete", "the fete") == [Edit(0, 1, ("the",))]
    assert extract_edits("A Fete", "A PARTY") == [Edit(1, 2, ("party",))]


# -- precision, recall, F0.5 -----------------------------------------------------------------


def test_prf_conventions():
    assert prf(0, 0, 0) == (1.0, 1.0, 1.0)
    assert prf(0, 0, 4) == (1.0, 0.0, 0.0)
    assert prf(0, 3, 0) == (0.0, 1.0, 0.0)
    assert prf(0, 2, 2) == (0.0, 0.0, 0.0)
    p, r, f = prf(1, 1, 3)  # P 0.5, R 0.25: F0.5 = 1.25 * 0.125 / (0.125 + 0.25)
    assert (p, r) == (0.5, 0.25)
    assert f == pytest.approx(0.15625 / 0.375)


def test_perfect_identity_and_partial_restorations():
    spun, original = "a big fete began", "a large party began"
    assert counts(spun, original, original) == (2, 0, 0)
    assert counts(spun, original, spun) == (0, 0, 2)
    assert counts(spun, original, "a big party began") == (1, 0, 1)
    assert counts(spun, original, "a big gathering began") == (0, 1, 2)
    assert counts(spun, original, "a LARGE Party began") == (2, 0, 0)  # content ignores case
    s = score([spun], [original], ["a big party began"], text_metrics=False)
    assert (s["precision"], s["recall"]) == (1.0, 0.5)
    assert s["f0.5"] == pytest.approx(0.625 / 0.75)  # 1.25 * 0.5 / (0.25 + 0.5)


def test_identity_scores_precision_one_recall_zero():
    s = score(["a fete", "no change"], ["a party", "no change"], ["a fete", "no change"])
    assert (s["precision"], s["recall"], s["f0.5"]) == (1.0, 0.0, 0.0)
    assert s["bleu"] == pytest.approx(s["copy_bleu"])
    assert s["chrf"] == pytest.approx(s["copy_chrf"])
    assert s["exact_match"] == 0.5


def test_perfect_restoration_scores_one_and_full_bleu():
    spun = ["The fete began at noon today .", "Officials commenced the talks on Monday ."]
    original = ["The party began at noon today .", "Officials started the talks on Monday ."]
    s = score(spun, original, original)
    assert (s["precision"], s["recall"], s["f0.5"], s["exact_match"]) == (1.0, 1.0, 1.0, 1.0)
    assert s["bleu"] == pytest.approx(100.0)
    assert s["chrf"] == pytest.approx(100.0)
    assert s["copy_bleu"] < 100.0


def test_counts_are_summed_over_the_corpus():
    # Example 1: 1 correct edit. Example 2: left as is, 2 gold edits missed.
    s = score(
        ["the fete began", "a big fete"],
        ["the party began", "a large party"],
        ["the party began", "a big fete"],
        text_metrics=False,
    )
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 2)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f0.5"] == pytest.approx(1.25 * (1 / 3) / (0.25 + 1 / 3))


def test_edge_cases_empty_insertions_deletions_all_changed():
    assert counts("", "", "") == (0, 0, 0)
    assert score([""], [""], [""], text_metrics=False)["f0.5"] == 1.0
    assert counts("a fete", "a party", "") == (0, 1, 1)  # everything deleted: one wrong edit
    assert counts("", "Hello", "Hello") == (1, 0, 0)
    assert counts("He left .", "He has left .", "He has left .") == (1, 0, 0)
    assert counts("He left .", "He has left .", "He had left .") == (0, 1, 1)
    assert counts("the political party won", "the party won", "the party won") == (1, 0, 0)
    assert counts("a celebration began", "a political party began", "a party began") == (0, 1, 1)
    assert counts("a b c", "x y z", "x y z") == (3, 0, 0)
    assert counts("a b c", "x y z", "x q z") == (2, 1, 1)
    assert score([], [], [], text_metrics=False)["examples"] == 0


def test_false_changes_per_100_tokens_on_clean_text():
    s = score(
        ["The cat sat .", "a fete"],
        ["The cat sat .", "a party"],
        ["The dog sat .", "a party"],
        text_metrics=False,
    )
    assert s["clean_examples"] == 1 and s["clean_tokens"] == 4
    assert s["false_changes_per_100_tokens"] == 25.0
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 0)  # the clean row's change counts in P too
    assert score(["a fete"], ["a party"], ["a fete"])["false_changes_per_100_tokens"] is None


def test_case_only_change_is_a_false_change():
    s = score(["The cat sat ."], ["The cat sat ."], ["the cat sat ."], text_metrics=False)
    assert s["fp"] == 1 and s["false_changes_per_100_tokens"] == 25.0


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="differ in length"):
        score(["a"], ["a", "b"], ["a"])
    with pytest.raises(ValueError, match="substitutions"):
        score(["a"], ["a"], ["a"], [[], []])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from("a b c d the fete party , .".split()), max_size=12),
    st.lists(st.sampled_from("a b c d the fete party , .".split()), max_size=12),
)
def test_edits_rebuild_the_target_and_perfect_output_scores_one(source, target):
    rebuilt, pos = [], 0
    for edit in edits_between(source, target):
        rebuilt += [t.lower() for t in source[pos : edit.start]] + list(edit.content)
        pos = edit.end
    rebuilt += [t.lower() for t in source[pos:]]
    assert rebuilt == [t.lower() for t in target]
    ex = score_example(" ".join(source), " ".join(target), " ".join(target))
    assert ex.fp == 0 and ex.fn == 0


# -- restored-word accuracy ------------------------------------------------------------------


def _sub(spun_start, spun_end, original, **extra):
    return {"spun_start": spun_start, "spun_end": spun_end, "original": original, **extra}


def test_substitution_outcomes_use_spans_and_ignore_case():
    spun, original = "The fete began .", "The party began ."
    subs = [_sub(4, 8, "party", kind="word", pos="n", tag="NN")]
    assert [o.restored for o in substitution_outcomes(spun, original, original, subs)] == [True]
    assert [o.restored for o in substitution_outcomes(spun, original, spun, subs)] == [False]
    out = substitution_outcomes(spun, original, "The PARTY began .", subs)
    assert out[0].restored and out[0].pos == "n" and not out[0].inflected


def test_substitution_inside_a_possessive_token():
    spun, original = "The fete's end .", "The party's end ."
    subs = [_sub(4, 8, "party", start=4, end=9, kind="word", pos="n", tag="NN")]
    assert substitution_outcomes(spun, original, original, subs)[0].restored
    assert not substitution_outcomes(spun, original, "The party end .", subs)[0].restored


def test_word_accuracy_slices():
    spun = "A big celebration commenced ."
    original = "A large party started ."
    subs = [
        _sub(2, 5, "large", start=2, end=7, kind="word", pos="a", tag="JJ"),
        _sub(6, 17, "party", start=8, end=13, kind="word", pos="n", tag="NN"),
        _sub(18, 27, "started", start=14, end=21, kind="word", pos="v", tag="VBD"),
    ]
    s = score([spun], [original], ["A large party commenced ."], [subs], text_metrics=False)
    assert s["word_accuracy"] == pytest.approx(2 / 3) and s["substitutions"] == 3
    assert s["word_accuracy_by_pos"]["v"] == {"accuracy": 0.0, "count": 1}
    assert s["word_accuracy_by_pos"]["n"] == {"accuracy": 1.0, "count": 1}
    assert s["word_accuracy_by_inflection"]["inflected"] == {"accuracy": 0.0, "count": 1}
    assert s["word_accuracy_by_inflection"]["base"] == {"accuracy": 1.0, "count": 2}
    assert s["word_accuracy_by_kind"]["word"]["count"] == 3


def test_spinner_output_reverted_scores_perfectly():
    from training.spinner import Spinner, SpinnerConfig, revert_substitutions

    with open(ROOT / "tests/data/tiny_news.jsonl", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh][:6]
    spinner = Spinner(SpinnerConfig(rate=0.5))
    spun, subs = [], []
    for k, text in enumerate(texts):
        result = spinner.spin(text, seed=k)
        assert revert_substitutions(result.text, result.substitutions) == text
        spun.append(result.text)
        subs.append([{**s.__dict__, "inflected": s.inflected} for s in result.substitutions])
    s = score(spun, texts, texts, subs)
    assert (s["precision"], s["recall"], s["word_accuracy"]) == (1.0, 1.0, 1.0)
    assert s["substitutions"] > 20
    copy = score(spun, texts, spun, subs)
    assert copy["recall"] == 0.0 and copy["word_accuracy"] == 0.0


# -- the local evaluate module ---------------------------------------------------------------


def test_evaluate_module_loads_offline(tmp_path):
    code = (
        "import evaluate, json\n"
        "m = evaluate.load('training/restore_metric')\n"
        "r = m.compute(sources=['a big fete', 'same'], predictions=['a big party', 'same'],\n"
        "              references=['a large party', 'same'], text_metrics=False)\n"
        "print(json.dumps(r))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = score(
        ["a big fete", "same"],
        ["a large party", "same"],
        ["a big party", "same"],
        text_metrics=False,
    )
    assert result == expected
    assert (result["tp"], result["fp"], result["fn"]) == (1, 0, 1)


# -- the CLI ---------------------------------------------------------------------------------

PAIRS = [
    {"spun": "The fete began at noon.", "original": "The party began at noon."},
    {"spun": "Nothing here changed.", "original": "Nothing here changed."},
    {"spun": "A big celebration commenced.", "original": "A big party started."},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _run_cli(capsys, *argv):
    code = _load_cli().main(list(argv))
    return code, capsys.readouterr()


@pytest.mark.parametrize(
    "restored, expected",
    [
        # identity: nothing changed; 3 gold edits missed
        ([p["spun"] for p in PAIRS], dict(tp=0, fp=0, fn=3, precision=1.0, recall=0.0)),
        # perfect
        ([p["original"] for p in PAIRS], dict(tp=3, fp=0, fn=0, precision=1.0, recall=1.0)),
        # partial: one fix, one false change on the clean row, one fix of two in row 3
        (
            ["The party began at noon.", "Nothing there changed.", "A big party commenced."],
            dict(tp=2, fp=1, fn=1, precision=2 / 3, recall=2 / 3),
        ),
    ],
)
def test_cli_scores_predictions(tmp_path, capsys, restored, expected):
    pairs = _write(tmp_path / "p.jsonl", PAIRS)
    preds = _write(tmp_path / "r.jsonl", [{"restored": r} for r in restored])
    code, out = _run_cli(capsys, "--pairs", pairs, "--predictions", preds)
    assert code == 0, out.err
    result = json.loads(out.out)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key
    p, r = expected["precision"], expected["recall"]
    assert result["f0.5"] == pytest.approx(prf(expected["tp"], expected["fp"], expected["fn"])[2])
    assert result["f0.5"] == pytest.approx(1.25 * p * r / (0.25 * p + r) if p + r else 0.0)
    fc = 100.0 * (restored[1] != PAIRS[1]["spun"]) / 4  # the clean row has 4 tokens
    assert result["false_changes_per_100_tokens"] == pytest.approx(fc)
    for key in ("bleu", "chrf", "copy_bleu", "copy_chrf"):
        assert 0.0 <= round(result[key], 9) <= 100.0, key  # sacrebleu may give 100.00000000000004


def test_cli_refuses_bad_inputs(tmp_path, capsys):
    pairs = _write(tmp_path / "p.jsonl", PAIRS)
    short = _write(tmp_path / "r.jsonl", [{"restored": "x"}])
    code, out = _run_cli(capsys, "--pairs", pairs, "--predictions", short)
    assert code == 2 and "1 predictions for 3 pairs" in out.err
    bad = _write(tmp_path / "bad.jsonl", [{"spun": "a"}])
    code, out = _run_cli(capsys, "--pairs", bad, "--baseline", "identity")
    assert code == 2 and "original" in out.err
    with pytest.raises(SystemExit) as exc:
        _load_cli().main(["--pairs", pairs])  # no system
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        _load_cli().main(["--pairs", pairs, "--corpus", "x", "--baseline", "identity"])


def test_cli_baseline_on_pairs_writes_a_report_and_never_overwrites(tmp_path, capsys):
    rows = [dict(p, rate=0.3) for p in PAIRS]
    pairs = _write(tmp_path / "p.jsonl", rows)
    report = tmp_path / "report"
    args = ["--pairs", pairs, "--baseline", "identity", "inverse", "--report", str(report)]
    code, out = _run_cli(capsys, *args)
    assert code == 0, out.err
    result = json.loads(out.out)
    assert [run["system"] for run in result["runs"]] == ["identity", "inverse"]
    assert result["runs"][0]["recall"] == 0.0
    for name in ("report.md", "results.json", "f05_vs_rate.png", "recall_by_pos.png"):
        assert (report / name).stat().st_size > 0
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "| identity |" in text and "F0.5 by spin rate" in text
    code, out = _run_cli(capsys, *args)
    assert code == 2 and "--overwrite" in out.err
    code, out = _run_cli(capsys, *args, "--overwrite")
    assert code == 0


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_cli_spins_the_corpus(tmp_path, capsys):
    code, out = _run_cli(
        capsys,
        "--corpus",
        str(CORPUS),
        "--split",
        "valid",
        "--rate",
        "0.1",
        "0.5",
        "--max-paragraphs",
        "20",
        "--baseline",
        "identity",
        "--write-pairs",
        str(tmp_path / "pairs.jsonl"),
    )
    assert code == 0, out.err
    result = json.loads(out.out)
    assert result["data"]["paragraphs"] == 20
    low, high = result["runs"]
    assert low["recall"] == 0.0 and low["false_changes_per_100_tokens"] == 0.0
    assert high["fn"] > low["fn"] > 0
    with open(tmp_path / "pairs.jsonl", encoding="utf-8") as fh:
        written = [json.loads(line) for line in fh]
    assert len(written) == 40 and all(row["substitutions"] is not None for row in written)


def test_whole_documents_are_sampled_and_joined(tmp_path):
    from training import evaluation

    docs = [
        {
            "id": "a",
            "split": "test",
            "text": "One two three four five.\n\nSix seven eight nine ten.",
        },
        {"id": "b", "split": "test", "text": "Only one paragraph of five words."},
        {
            "id": "c:x",
            "split": "test",
            "text": "Alpha beta gamma delta eps.\n\nShort.\n\nZeta eta theta iota kappa.",
        },
        {
            "id": "d",
            "split": "valid",
            "text": "Not this split at all here.\n\nNor this one either friend.",
        },
    ]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write(corpus / "news.jsonl", docs)
    found = evaluation.select_documents(corpus, "test")
    # Whole documents of two or more paragraphs of five words or more, paragraphs in order.
    assert sorted({evaluation.document_of(p.id) for p in found}) == ["a", "c:x"]
    by_doc = {}
    for p in found:
        by_doc.setdefault(evaluation.document_of(p.id), []).append(p.id)
    assert by_doc == {"a": ["a:0", "a:1"], "c:x": ["c:x:0", "c:x:2"]}
    assert len(evaluation.select_documents(corpus, "test", max_paragraphs=1)) == 2  # whole
    assert [p.id for p in evaluation.select_documents(corpus, "test", exclude={"a"})] == [
        "c:x:0",
        "c:x:2",
    ]
    with pytest.raises(evaluation.EvaluationError):
        evaluation.select_documents(corpus, "test", exclude={"a", "c:x"})

    rows = []
    for p in found:
        start = p.text.index(" ") + 1
        end = p.text.index(" ", start)
        rows.append(
            {
                "id": p.id,
                "source": "",
                "rate": 0.3,
                "spun": p.text,
                "original": p.text,
                "substitutions": [{"spun_start": start, "spun_end": end, "original": "x"}],
            }
        )
    rows += evaluation.clean_rows(found)
    joined = evaluation.join_documents(rows)
    assert [(r["id"], r["rate"]) for r in joined] == [
        ("a", 0.3),
        ("c:x", 0.3),
        ("a", 0.0),
        ("c:x", 0.0),
    ]
    for doc in joined[:2]:
        parts = [r for r in rows[:4] if evaluation.document_of(r["id"]) == doc["id"]]
        assert doc["spun"] == "\n\n".join(r["spun"] for r in parts)
        words = [doc["spun"][s["spun_start"] : s["spun_end"]] for s in doc["substitutions"]]
        assert words == [r["spun"].split(" ")[1] for r in parts]
    assert joined[2]["substitutions"] == []


def test_cli_whole_needs_documents_and_a_corpus(tmp_path, capsys):
    pairs = _write(tmp_path / "p.jsonl", PAIRS)
    for extra in (["--whole"], ["--documents"]):
        with pytest.raises(SystemExit) as exc:
            _load_cli().main(["--pairs", pairs, "--baseline", "identity", *extra])
        assert exc.value.code == 2
    with pytest.raises(SystemExit):
        _load_cli().main(["--corpus", "x", "--baseline", "identity", "--whole"])


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent")
def test_cli_restores_whole_documents_of_the_corpus(capsys):
    args = [
        "--corpus",
        str(CORPUS),
        "--split",
        "valid",
        "--rate",
        "0.5",
        "--max-paragraphs",
        "10",
        "--baseline",
        "inverse",
        "--documents",
    ]
    code, out = _run_cli(capsys, *args)
    assert code == 0, out.err
    paragraphs = json.loads(out.out)
    code, out = _run_cli(capsys, *args, "--whole")
    assert code == 0, out.err
    whole = json.loads(out.out)
    assert whole["data"]["documents"] == "whole" and paragraphs["data"]["documents"] is True
    # The same spun paragraphs: the same gold edits, whether restored one by one or together.
    assert whole["tp"] + whole["fn"] == paragraphs["tp"] + paragraphs["fn"] > 0

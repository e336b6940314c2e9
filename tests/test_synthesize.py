import gzip
import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from training.config import load_config
from training.synthesize import (
    SynthesisError,
    iter_documents,
    split_for_id,
    synthesize,
)
from training.tokenizer import build_tokenizer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def tiny_config(tmp_path, *overrides):
    return load_config(TINY, [f"output_dir={tmp_path / 'run'}", *overrides])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    config = tiny_config(tmp)
    manifest = synthesize(config, config.output_dir)
    return config, manifest, datasets.load_from_disk(str(Path(config.output_dir) / "pairs"))


def test_splits_hold_disjoint_documents_and_follow_the_split_field(tiny_run):
    _, manifest, pairs = tiny_run
    docs = {split: set(pairs[split]["doc_id"]) for split in pairs}
    assert docs["train"] and docs["valid"] and docs["test"]
    assert not docs["train"] & docs["valid"] and not docs["train"] & docs["test"]
    assert not docs["valid"] & docs["test"]
    with open(ROOT / "tests/data/tiny_news.jsonl", encoding="utf-8") as fh:
        expected = {row["id"]: row["split"] for row in map(json.loads, fh)}
    for split, ids in docs.items():
        assert all(expected[i] == split for i in ids)
    assert manifest["documents"] == {"train": 36, "valid": 6, "test": 6}


def test_pairs_spans_and_clean_share(tiny_run):
    config, manifest, pairs = tiny_run
    train = pairs["train"]
    clean = [row for row in train if row["spun"] == row["original"] and row["rate"] == 0]
    assert 0 < len(clean) < len(train) * 0.5
    for row in train:
        text = row["original"]
        for s in sorted(row["substitutions"], key=lambda s: s["start"], reverse=True):
            text = text[: s["start"]] + s["replacement"] + text[s["end"] :]
        assert text == row["spun"]
        assert row["rate"] == 0 or row["rate"] in config.synthesis.rates
    stats = manifest["splits"]["train"]
    assert stats["pairs"] == len(train) and stats["clean_pairs"] == len(clean)
    assert 0.2 < stats["achieved_rate"] < 0.4
    assert 0 < stats["phrase_share"] < 1 and 0 < stats["inflected_share"] < 1
    out = Path(config.output_dir) / "pairs"
    assert (out / "manifest.json").is_file() and (out / "config.yaml").is_file()


def test_same_config_gives_identical_pairs_and_two_processes_agree(tmp_path, tiny_run):
    _, _, pairs = tiny_run
    config = tiny_config(tmp_path, "synthesis.num_proc=2")
    synthesize(config, config.output_dir)
    again = datasets.load_from_disk(str(Path(config.output_dir) / "pairs"))
    for split in pairs:
        assert sorted(map(json.dumps, again[split])) == sorted(map(json.dumps, pairs[split]))


def test_refuses_to_overwrite_without_flag(tiny_run):
    config, _, _ = tiny_run
    with pytest.raises(SynthesisError, match="overwrite"):
        synthesize(config, config.output_dir)


def test_malformed_rows_are_counted_not_fatal(tmp_path):
    src = tmp_path / "in.jsonl.gz"
    good = {"id": "a-1", "text": "The party greets journalists outside the bank today."}
    with gzip.open(src, "wb") as fh:
        fh.write(json.dumps(good).encode() + b"\n")
        fh.write(b"{not json\n")
        fh.write(b'{"id": "a-2", "text": "caf\xe9 bad bytes"}\n')
        fh.write(b'{"id": "a-3", "body": "wrong field"}\n')
        fh.write(b"\n")
        fh.write(json.dumps({"id": "a-4", "text": "x" * 1_000_000}).encode() + b"\n")
    config = tiny_config(tmp_path, f"synthesis.inputs=[{src}]")
    manifest = synthesize(config, config.output_dir)
    assert manifest["malformed_rows"] == 3
    assert sum(manifest["documents"].values()) == 2


def test_plain_text_input_and_hash_split(tmp_path):
    src = tmp_path / "notes.txt"
    src.write_text(
        "\n\n".join(f"Paragraph {i} says the council approved the plan." for i in range(60)),
        encoding="utf-8",
    )
    docs = list(iter_documents(tiny_config(tmp_path, f"synthesis.inputs=[{src}]").synthesis))
    assert len(docs) == 60
    assert all(d.split == split_for_id(d.id) for d in docs)
    assert {d.split for d in docs} >= {"train"}


def test_split_for_id_matches_the_corpus_rule():
    # sha1("bbc-17") etc. computed independently; the rule is sha1(id) mod 100: 0-1 test, 2-3 valid.
    import hashlib

    for doc_id in ("bbc-17", "reuters21578-5", "allsides-99", "x"):
        bucket = int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 100
        expected = "test" if bucket < 2 else "valid" if bucket < 4 else "train"
        assert split_for_id(doc_id) == expected


def test_tokenizer_stage_round_trips_the_pairs(tiny_run):
    config, _, pairs = tiny_run
    manifest = build_tokenizer(config, config.output_dir)
    assert manifest["train_tokens_per_pair"]["spun_mean"] > 10
    from training.tokenizer import load_tokenizer

    tok = load_tokenizer(Path(config.output_dir) / "tokenizer")
    for row in pairs["valid"]:
        for text in (row["spun"], row["original"]):
            assert tok.decode(tok(text).input_ids, skip_special_tokens=True) == text


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "training.synthesize", *args],
        capture_output=True,
        cwd=ROOT,
        timeout=300,
        text=True,
    )


def test_cli_errors(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    proc = run_cli(
        "--config",
        str(TINY),
        "--output-dir",
        str(tmp_path / "o"),
        "--set",
        f"synthesis.inputs=[{empty}]",
    )
    assert proc.returncode == 2 and "no documents" in proc.stderr
    proc = run_cli(
        "--config",
        str(TINY),
        "--set",
        "synthesis.inputs=[/no/such.jsonl]",
        "--output-dir",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "not found" in proc.stderr
    proc = run_cli("--config", str(TINY), "--set", "spinner.bogus=1")
    assert proc.returncode == 2 and "spinner.bogus" in proc.stderr

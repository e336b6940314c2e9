"""Batch jobs: order, every field kept, malformed rows counted, refusals, exactly-once resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import fixture_texts

from restore import Restorer
from restore.batch import default_paths, run_batch
from restore.errors import InputError


def _rows(count: int) -> list[dict]:
    paragraphs = [p for text in fixture_texts() for p in text.split("\n\n")]
    return [
        {"id": i, "meta": {"n": i, "tags": ["a", "ü"]}, "text": paragraphs[i % len(paragraphs)]}
        for i in range(count)
    ]


def _write_jsonl(path: Path, lines: list) -> Path:
    with open(path, "wb") as fh:
        for line in lines:
            if isinstance(line, bytes):
                fh.write(line + b"\n")
            elif isinstance(line, str):
                fh.write(line.encode() + b"\n")
            else:
                fh.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_rows_keep_order_and_fields_and_malformed_rows_are_counted(tmp_path, stub_restorer):
    restorer = stub_restorer(lambda s: s.replace("council", "board"), batch_size=2)
    rows = _rows(20)
    lines = [
        *rows[:3],
        "{not json",
        rows[3],
        "",
        {"id": "no-text", "body": "x"},
        {"id": "number", "text": 5},
        [1, 2],
        b'{"text": "bad \xff byte"}',
        *rows[4:],
    ]
    source = _write_jsonl(tmp_path / "in.jsonl", lines)
    summary = run_batch(restorer, source, tmp_path / "out.jsonl", progress=False)
    assert (summary.rows, summary.errors, summary.blank) == (20, 5, 1)
    out = _read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == list(range(20))
    for row, original in zip(out, rows):
        assert {k: row[k] for k in original} == original
        assert row["restored"] == original["text"].replace("council", "board")
        for edit in row["edits"]:
            assert original["text"][edit["start"] : edit["end"]] == edit["spun"]
            assert edit["spun"].replace("council", "board") == edit["restored"]
    errors = _read_jsonl(summary.errors_path)
    assert [e["line"] for e in errors] == [4, 7, 8, 9, 10]
    assert "invalid JSON" in errors[0]["error"] and "invalid UTF-8" in errors[4]["error"]
    assert errors[1]["raw"] == '{"id": "no-text", "body": "x"}'


def test_rows_can_carry_their_suggestions_and_resume_only_with_the_same_choice(
    tmp_path, stub_restorer
):
    unsure = {"min_edit_confidence": 0.5, "min_suggestion_confidence": 0.3}
    restorer = stub_restorer(lambda s: s.replace("council", "board"), prob=0.4, guard=unsure)
    rows = _rows(6)
    source = _write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    run_batch(restorer, source, out, progress=False, include_suggestions=True)
    written = _read_jsonl(out)
    assert [r["restored"] for r in written] == [r["text"] for r in rows]  # none made
    for row, original in zip(written, rows):
        want = restorer.restore_detailed(original["text"]).to_dict()["suggestions"]
        assert row["suggestions"] == want and row["edits"] == []
    assert any(row["suggestions"] for row in written)
    with pytest.raises(InputError, match="cannot resume: job"):
        run_batch(restorer, source, out, progress=False, resume=True)
    run_batch(restorer, source, tmp_path / "plain.jsonl", progress=False)
    assert all("suggestions" not in row for row in _read_jsonl(tmp_path / "plain.jsonl"))


def test_refusals_and_bad_inputs(tmp_path, stub_restorer):
    restorer = stub_restorer(lambda s: s)
    source = _write_jsonl(tmp_path / "in.jsonl", _rows(3))
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match="not found"):
        run_batch(restorer, tmp_path / "missing.jsonl", out)
    with pytest.raises(InputError, match="no field 'body'"):
        run_batch(restorer, source, out, field="body")
    (tmp_path / "bin.jsonl").write_bytes(b'{"text": "a"}\n\x00\x01\x02')
    with pytest.raises(InputError, match="binary"):
        run_batch(restorer, tmp_path / "bin.jsonl", out)
    assert not out.exists()  # nothing written for refused inputs

    run_batch(restorer, source, out, progress=False)
    first = out.read_bytes()
    with pytest.raises(InputError, match="exists"):
        run_batch(restorer, source, out)
    run_batch(restorer, source, out, overwrite=True, progress=False)
    assert out.read_bytes() == first
    again = run_batch(restorer, source, out, resume=True, progress=False)  # already complete
    assert again.rows == 3 and out.read_bytes() == first
    with pytest.raises(InputError, match="field"):
        run_batch(restorer, source, out, resume=True, field="other")
    out.write_bytes(first[:10])
    with pytest.raises(InputError, match="shorter than its checkpoint"):
        run_batch(restorer, source, out, resume=True)
    default_paths(out)[1].unlink()
    with pytest.raises(InputError, match="no checkpoint"):
        run_batch(restorer, source, out, resume=True)


def test_resume_after_a_crash_gives_the_same_bytes(tmp_path, tiny_model):
    rows = _rows(30)
    lines = [*rows[:10], "{broken", *rows[10:]]
    source = _write_jsonl(tmp_path / "in.jsonl", lines)
    reference = tmp_path / "reference.jsonl"
    restorer = Restorer.from_pretrained(tiny_model, threads=1, batch_size=2)
    run_batch(restorer, source, reference, progress=False, include_units=True)

    class Crash(Exception):
        pass

    crashing = Restorer.from_pretrained(tiny_model, threads=1, batch_size=2)
    real = crashing.runtime.generate
    calls = []

    def generate(batch):
        calls.append(1)
        if len(calls) > 20:
            raise Crash
        return real(batch)

    crashing.runtime.generate = generate
    out = tmp_path / "out.jsonl"
    with pytest.raises(Crash):
        run_batch(crashing, source, out, progress=False, include_units=True)
    written = len(out.read_bytes().splitlines())
    assert 0 < written < 30
    summary = run_batch(restorer, source, out, resume=True, progress=False, include_units=True)
    assert summary.resumed_at_line > 0 and (summary.rows, summary.errors) == (30, 1)
    assert out.read_bytes() == reference.read_bytes()
    assert default_paths(out)[0].read_bytes() == default_paths(reference)[0].read_bytes()


@pytest.mark.parametrize(
    "batching",
    [
        ["--batch-size", "4"],  # many read-ahead windows of 64 units
        ["--checkpoint-rows", "10"],  # the whole job in one 512-unit window: cut by rows
    ],
)
def test_sigkill_mid_file_then_resume_gives_the_same_file(tmp_path, tiny_model, batching):
    rows = _rows(120)
    source = _write_jsonl(tmp_path / "in.jsonl", [*rows[:50], "not json", *rows[50:]])
    reference = tmp_path / "reference.jsonl"
    batch_size = int(batching[1]) if batching[0] == "--batch-size" else 32
    checkpoint_rows = int(batching[1]) if batching[0] == "--checkpoint-rows" else 64
    restorer = Restorer.from_pretrained(tiny_model, threads=1, batch_size=batch_size)
    run_batch(
        restorer,
        source,
        reference,
        progress=False,
        include_units=True,
        checkpoint_rows=checkpoint_rows,
    )

    out = tmp_path / "out.jsonl"
    command = [
        sys.executable,
        "-m",
        "restore.cli",
        "batch",
        str(source),
        str(out),
        "--model",
        str(tiny_model),
        "--threads",
        "1",
        *batching,
        "--units",
        "--quiet",
    ]
    checkpoint = default_paths(out)[1]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    killed_at = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            state = json.loads(checkpoint.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("line", 0) > 0 and not state.get("complete"):
            os.kill(process.pid, signal.SIGKILL)
            killed_at = state["line"]
            break
        time.sleep(0.02)
    process.wait()
    assert killed_at is not None, "the job ended before it could be killed"
    assert process.returncode == -signal.SIGKILL
    assert 0 < len(out.read_bytes().splitlines()) < 120

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 1, resumed.stderr  # 1: finished, one malformed row
    assert "120 rows restored" in resumed.stderr and "1 malformed" in resumed.stderr
    assert out.read_bytes() == reference.read_bytes()
    assert default_paths(out)[0].read_bytes() == default_paths(reference)[0].read_bytes()


def _units(restorer, rows: list[dict]) -> int:
    return sum(len(restorer.unit_spans(row["text"])) for row in rows)


def test_a_job_shorter_than_one_window_resumes_midway(tmp_path, tiny_model):
    rows = _rows(60)
    source = _write_jsonl(tmp_path / "in.jsonl", [*rows[:25], "{broken", *rows[25:]])
    restorer = Restorer.from_pretrained(tiny_model, threads=1)
    assert _units(restorer, rows) < restorer.read_ahead  # one read-ahead window, uncut
    reference = tmp_path / "reference.jsonl"
    run_batch(restorer, source, reference, progress=False, checkpoint_rows=16)

    class Crash(Exception):
        pass

    crashing = Restorer.from_pretrained(tiny_model, threads=1)
    real = crashing.runtime.generate
    rows_seen = []

    def generate(batch):
        rows_seen.append(len(batch))
        if sum(rows_seen) > 40:  # well into the job: past the first 16-row window
            raise Crash
        return real(batch)

    crashing.runtime.generate = generate
    out = tmp_path / "out.jsonl"
    with pytest.raises(Crash):
        run_batch(crashing, source, out, progress=False, checkpoint_rows=16)
    written = len(out.read_bytes().splitlines())
    assert written > 0 and written % 16 == 0 and written < 60
    summary = run_batch(restorer, source, out, resume=True, progress=False, checkpoint_rows=16)
    assert summary.resumed_at_line > 0 and (summary.rows, summary.errors) == (60, 1)
    assert out.read_bytes() == reference.read_bytes()
    assert default_paths(out)[0].read_bytes() == default_paths(reference)[0].read_bytes()
    with pytest.raises(InputError, match="checkpoint_rows"):  # other windows: other batches
        run_batch(restorer, source, out, resume=True, progress=False, checkpoint_rows=8)


def test_progress_advances_a_window_at_a_time(tmp_path, tiny_model, monkeypatch):
    import restore.batch as batch

    class Bar:
        def __init__(self, total, initial):
            self.total, self.updates = total, [initial]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            self.updates.append(n)

    bars = []
    monkeypatch.setattr(
        batch, "_progress", lambda on, total, initial: bars.append(Bar(total, initial)) or bars[-1]
    )
    rows = _rows(30)
    source = _write_jsonl(tmp_path / "in.jsonl", [*rows[:10], "", "{broken", *rows[10:]])
    restorer = Restorer.from_pretrained(tiny_model, threads=1)
    run_batch(restorer, source, tmp_path / "out.jsonl", checkpoint_rows=8)
    (bar,) = bars
    # Windows of 8, 8, 8 and 6 rows; the blank and broken lines go with the row after them.
    assert bar.updates == [0, 8, 10, 8, 6, 0] and sum(bar.updates) == bar.total == 32

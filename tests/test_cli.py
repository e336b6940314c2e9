"""The command line: stdin/stdout, views, exit codes and messages for bad input."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import pytest

from restore.cli import main, render_diff
from restore.restorer import Edit

TEXT = "The big dog — “quick”,\tthen ejects it.\n\nZoë’s café: 3 miles.\n"


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def _model_args(tiny_model) -> list[str]:
    return ["--model", str(tiny_model), "--threads", "1"]


def test_stdin_to_stdout_matches_the_api(monkeypatch, capsysbinary, tiny_model, tiny_restorer):
    _stdin(monkeypatch, TEXT.encode())
    assert main(_model_args(tiny_model)) == 0
    assert capsysbinary.readouterr().out.decode() == tiny_restorer.restore(TEXT)


def test_file_argument_and_json_view(tmp_path, capsys, tiny_model, tiny_restorer):
    path = tmp_path / "doc.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main([str(path), "--json", *_model_args(tiny_model)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == tiny_restorer.restore_detailed(TEXT).to_dict()
    assert set(data) == {"text", "edits", "units", "suggestions"}


def test_diff_view_marks_edits():
    text = "He ejects the big crowd."
    edits = [Edit(3, 9, "ejects", "greets", 0.9), Edit(14, 17, "big", "large", 0.8)]
    assert render_diff(text, edits, color=False) == (
        "He [-ejects-]{+greets+} the [-big-]{+large+} crowd."
    )
    coloured = render_diff(text, edits, color=True)
    assert "\x1b[31;9mejects\x1b[0m\x1b[32mgreets\x1b[0m" in coloured
    # A suggestion keeps its word; one overlapping a shown edit is left out.
    suggestions = [Edit(10, 13, "the", "a", 0.4), Edit(14, 23, "big crowd", "mob", 0.3)]
    assert render_diff(text, edits, suggestions, color=False) == (
        "He [-ejects-]{+greets+} the{?a?} [-big-]{+large+} crowd."
    )
    assert "the\x1b[33m{?a?}\x1b[0m" in render_diff(text, edits, suggestions, color=True)


def test_diff_view_on_the_command_line(tmp_path, capsys, tiny_model):
    path = tmp_path / "doc.txt"
    path.write_text(TEXT, encoding="utf-8")
    assert main([str(path), "--diff", "--color", "never", *_model_args(tiny_model)]) == 0
    assert capsys.readouterr().out  # the random model may or may not edit; it must not fail


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.txt", None, "not found"),
        ("bad.txt", b"caf\xe9 \xff\xfe", "not valid UTF-8"),
        ("binary.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ],
)
def test_bad_files_exit_2_with_a_message(tmp_path, capsys, tiny_model, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main([str(path), *_model_args(tiny_model)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err


def test_bad_stdin_and_bad_options(monkeypatch, capsys, tiny_model, tmp_path):
    _stdin(monkeypatch, b"\xff\xfe\x00")
    assert main(_model_args(tiny_model)) == 2
    assert "stdin" in capsys.readouterr().err
    _stdin(monkeypatch, b"text")
    assert main(["--model", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    _stdin(monkeypatch, b"text")
    assert main([*_model_args(tiny_model), "--min-confidence", "3"]) == 2
    assert "min_confidence" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--backend", "onnx"])
    assert exit_info.value.code == 2


def test_default_model_missing_message(monkeypatch, capsys):
    from restore.loading import DEFAULT_MODEL_DIR

    if (DEFAULT_MODEL_DIR / "restore.json").exists():
        pytest.skip("the default model is installed")
    _stdin(monkeypatch, b"The big dog.")
    assert main([]) == 2
    assert "default model is not installed" in capsys.readouterr().err


def test_empty_input_comes_back_empty(monkeypatch, capsysbinary, tiny_model):
    _stdin(monkeypatch, b"")
    assert main(_model_args(tiny_model)) == 0
    assert capsysbinary.readouterr().out == b""


def test_batch_exit_codes(tmp_path, capsys, tiny_model):
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "The big dog."}\n{"text": "A cat."}\n', encoding="utf-8")
    args = [*_model_args(tiny_model), "--quiet"]
    assert main(["batch", str(good), str(tmp_path / "o1.jsonl"), *args]) == 0
    assert main(["batch", str(good), str(tmp_path / "o1.jsonl"), *args]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["batch", str(good), str(tmp_path / "o1.jsonl"), "--overwrite", *args]) == 0
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"text": "The big dog."}\n{oops\n', encoding="utf-8")
    assert main(["batch", str(mixed), str(tmp_path / "o2.jsonl"), *args]) == 1
    assert "1 malformed rows" in capsys.readouterr().err
    assert main(["batch", str(good), str(tmp_path / "o3.jsonl"), "--field", "body", *args]) == 2
    assert "no field 'body'" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "none.jsonl"), str(tmp_path / "o4.jsonl"), *args]) == 2
    assert not (tmp_path / "o3.jsonl").exists() and not (tmp_path / "o4.jsonl").exists()
    out = tmp_path / "o5"
    assert main(["batch", str(good), str(out), "--ray", "--resume", *args]) == 2
    assert "not supported with --ray" in capsys.readouterr().err
    assert not out.exists()


def test_export_ct2_subcommand(tmp_path, capsys, model_copy):
    pytest.importorskip("ctranslate2")
    out = model_copy / "ctranslate2"
    assert main(["export-ct2", str(model_copy), str(out)]) == 0
    assert (out / "model.bin").is_file()
    assert main(["export-ct2", str(model_copy), str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    path = tmp_path / "doc.txt"
    path.write_text(TEXT, encoding="utf-8")
    args = [str(path), "--model", str(model_copy), "--backend", "ctranslate2", "--threads", "1"]
    assert main(args) == 0


@pytest.mark.skipif(shutil.which("restore") is None, reason="the entry point is not installed")
def test_installed_command_reads_stdin(tiny_model, tiny_restorer):
    out = subprocess.run(
        ["restore", *_model_args(tiny_model)],
        input=TEXT.encode(),
        capture_output=True,
        check=True,
    )
    assert out.stdout.decode() == tiny_restorer.restore(TEXT)
    assert out.stderr == b""  # no progress bars or advice from the libraries


def test_help_lists_every_subcommand_with_one_line(capsys):
    from restore.cli import SUBCOMMANDS

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ["batch", "detect", "serve", "export-ct2"]:
        assert name in SUBCOMMANDS
        assert sum(line.split()[:1] == [name] for line in lines) == 1, name


@pytest.fixture
def no_model_loading(monkeypatch):
    """Fail any attempt to load a model's runtime."""
    from restore.restorer import Restorer

    def refuse(*args, **kwargs):
        raise AssertionError("blank input loaded a model")

    monkeypatch.setattr(Restorer, "from_pretrained", refuse)


@pytest.mark.parametrize("blank", [b"", b"  \n\t\n"])
def test_blank_input_is_answered_without_loading_the_model(
    monkeypatch, capsys, tiny_model, tiny_restorer, no_model_loading, blank
):
    _stdin(monkeypatch, blank)
    assert main(["--json", *_model_args(tiny_model)]) == 0
    assert (
        json.loads(capsys.readouterr().out)
        == tiny_restorer.restore_detailed(blank.decode()).to_dict()
    )
    _stdin(monkeypatch, blank)
    assert main(_model_args(tiny_model)) == 0
    assert capsys.readouterr().out == blank.decode()


def test_blank_input_still_checks_the_options(
    monkeypatch, capsys, tiny_model, tmp_path, no_model_loading
):
    _stdin(monkeypatch, b"")
    assert main(["--model", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    _stdin(monkeypatch, b"")
    assert main([*_model_args(tiny_model), "--min-confidence", "3"]) == 2
    assert "min_confidence" in capsys.readouterr().err
    _stdin(monkeypatch, b"\n")
    assert main(["detect", *_model_args(tiny_model)]) == 2  # a text-format model cannot detect
    assert "detection" in capsys.readouterr().err


def test_blank_input_detection_is_the_models_answer_for_no_words(monkeypatch, capsys):
    from restore.restorer import Restorer

    expected = Restorer.from_pretrained("default", threads=1).detect(" \n").to_dict()
    _stdin(monkeypatch, b" \n")
    monkeypatch.setattr(Restorer, "from_pretrained", None)  # not called for blank input
    assert main(["detect", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected

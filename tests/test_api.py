"""Loading contracts: a light import, clear errors for missing or foreign models, scores."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_in_place

import restore
from restore import BackendError, ModelNotFoundError, Restorer
from restore.loading import DEFAULT_MODEL_DIR
from restore.settings import ModelFormatError

RESTORE_DIR = Path(restore.__file__).parent


def test_importing_restore_loads_nothing_heavy():
    code = (
        "import sys, restore; from restore import Restorer, Edit, GuardSettings; "
        "heavy = {'torch', 'transformers', 'ctranslate2', 'datasets', 'training', 'ray'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert out.stderr == ""


def test_the_library_never_imports_training_or_datasets(tiny_model):
    for path in RESTORE_DIR.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for banned in ("import training", "from training", "import datasets", "from datasets"):
            assert banned not in source, f"{path.name} has {banned!r}"
    code = (
        "import sys; from restore import Restorer; "
        f"r = Restorer.from_pretrained({str(tiny_model)!r}, threads=1); r.restore('A big dog.'); "
        "print(sorted({'training', 'datasets'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_default_model_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("restore.loading.DEFAULT_MODEL_DIR", tmp_path / "not-installed")
    with pytest.raises(ModelNotFoundError, match="default model is not installed"):
        Restorer.from_pretrained("default")
    with pytest.raises(ModelNotFoundError, match="default model is not installed"):
        Restorer.from_pretrained()


def test_the_shipped_default_model_loads_and_passes_text_through_unharmed():
    restorer = Restorer.from_pretrained("default", threads=1)
    text = "On March 9 the  council met.\n\nIt voted 7–2 for the plan — “finally”."
    restored, empty, blank = restorer.restore_batch([text, "", "  "])
    assert (empty, blank) == ("", "  ")
    # Whatever the model proposes, numbers, names and layout survive (the guard and reassembly).
    assert "March 9" in restored and "7–2" in restored and restored.count("\n\n") == 1
    assert (DEFAULT_MODEL_DIR / "inverse.npz").is_file()
    assert (DEFAULT_MODEL_DIR / "context.npz").is_file()
    spun = "Independent newsmen were not given entree, pictured in this symbol consigned by them."
    edits = restorer.restore_detailed(spun).edits
    threshold = restorer.guard.min_edit_confidence
    assert edits and all(threshold <= e.confidence <= 1.0 for e in edits)


def test_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such directory"):
        Restorer.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(ModelNotFoundError, match="no restore.json"):
        Restorer.from_pretrained(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ModelNotFoundError, match="not a directory"):
        Restorer.from_pretrained(tmp_path / "file.txt")


def test_missing_or_corrupt_weights_are_clear_errors(model_copy):
    weights = model_copy / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:1000])
    with pytest.raises(BackendError, match="corrupt"):
        Restorer.from_pretrained(model_copy)
    weights.unlink()
    with pytest.raises(ModelNotFoundError, match="model.safetensors"):
        Restorer.from_pretrained(model_copy)


def test_newer_format_version_is_refused(model_copy):
    settings = json.loads((model_copy / "restore.json").read_text())
    (model_copy / "restore.json").write_text(json.dumps({**settings, "format_version": 99}))
    with pytest.raises(ModelFormatError, match="upgrade restore"):
        Restorer.from_pretrained(model_copy)


def test_missing_or_foreign_tokenizer_is_refused(model_copy, tmp_path):
    other = Path(shutil.copytree(model_copy, tmp_path / "other"))
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelFormatError, match="no tokenizer.json"):
        Restorer.from_pretrained(model_copy)
    # A tokenizer whose end token is not the model's.
    path = other / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "eos_token_id": 5}))
    with pytest.raises(ModelFormatError, match="end token"):
        Restorer.from_pretrained(other)


def test_backend_errors(model_copy):
    with pytest.raises(BackendError, match="unknown backend"):
        Restorer.from_pretrained(model_copy, backend="onnx")
    with pytest.raises(BackendError, match="restore export-ct2"):
        Restorer.from_pretrained(model_copy, backend="ctranslate2")


def test_sampling_in_generation_config_is_ignored(model_copy, caplog):
    path = model_copy / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "do_sample": True}))
    restorer = Restorer.from_pretrained(model_copy, threads=1)
    text = "The big dog barked at the quick cat."
    assert restorer.restore_detailed(text) == restorer.restore_detailed(text)
    assert "sampling" in caplog.text


@pytest.mark.parametrize("num_beams", [1, 3])
def test_torch_scores_are_the_model_log_probabilities(tiny_model, tmp_path, num_beams):
    """Confidence comes from generation scores; they must equal a teacher-forced pass."""
    import torch

    model_dir = Path(shutil.copytree(tiny_model, tmp_path / "m"))
    path = model_dir / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "num_beams": num_beams}))
    restorer = Restorer.from_pretrained(model_dir, threads=1)
    sources = [restorer.encoder.encode(t).ids for t in ["The big dog.", "A quick cat ran home."]]
    generations = restorer.runtime.generate(sources)
    model = restorer.runtime.model
    for ids, generation in zip(sources, generations):
        target = [0, *generation.token_ids] + ([1] if generation.finished else [])
        with torch.inference_mode():
            logits = model(
                input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([target[:-1]])
            ).logits
        expected = logits.log_softmax(-1)[0, torch.arange(len(target) - 1), target[1:]]
        assert generation.log_probs == pytest.approx(expected.tolist(), abs=1e-4)


def test_torch_int8_backend_runs(tiny_model):
    restorer = Restorer.from_pretrained(tiny_model, backend="torch-int8", threads=1)
    text = "The big dog barked.\n\nA quick cat ran home."
    result = restorer.restore_detailed(text)
    assert_in_place(text, result)
    assert [(u.start, u.end) for u in result.units] == [(0, 19), (21, 42)]
    assert restorer.restore_detailed(text) == result

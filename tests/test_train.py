import csv
import json
import shutil
from pathlib import Path

import datasets
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from restore import Restorer
from restore.candidates import CANDIDATES_FILE, CandidateTable
from restore.errors import BackendError
from restore.export import export_ctranslate2
from restore.formats import load_settings
from restore.formats.choices import ChoicesFormat
from restore.settings import ModelSettings
from training.candidates import build_candidates
from training.card import add_test_results
from training.config import load_config
from training.errors import TrainingError
from training.synthesize import synthesize
from training.tokenizer import build_tokenizer
from training.train import MODEL_DIR, TRAIN_DIR, train

ROOT = Path(__file__).resolve().parents[1]
FAST = [
    "train.max_steps=12",
    "train.eval_steps=6",
    "train.logging_steps=2",
    "train.eval_samples=8",
    "train.max_target_tokens=32",
    "train.warmup_steps=2",
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Pairs and tokenizer of the tiny config, made once and copied per test."""
    base = tmp_path_factory.mktemp("prepared")
    config = load_config(ROOT / "configs/tiny.yaml", [f"output_dir={base}"])
    synthesize(config, base)
    build_tokenizer(config, base)
    build_candidates(config, base)
    return base


def experiment(prepared, tmp_path, *overrides):
    out = tmp_path / "run"
    shutil.copytree(prepared, out)
    return load_config(ROOT / "configs/tiny.yaml", [f"output_dir={out}", *FAST, *overrides])


def logged(out: Path, key: str) -> list[float]:
    with open(out / TRAIN_DIR / "log.csv", newline="", encoding="utf-8") as fh:
        return [float(r[key]) for r in csv.DictReader(fh) if r.get(key)]


@pytest.mark.slow
def test_tiny_training_learns_and_writes_a_loadable_model_dir(prepared, tmp_path):
    config = experiment(prepared, tmp_path)
    model_dir = train(config, config.output_dir)
    out = Path(config.output_dir)
    losses = logged(out, "loss")
    assert len(losses) >= 4 and losses[-1] < losses[0]
    assert logged(out, "eval_f0.5")  # edit-level metrics ran during training

    for name in (
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "restore.json",
        "training_config.yaml",
        "metrics.json",
        "README.md",
        "training_curves.png",
        "training_log.csv",
    ):
        assert (model_dir / name).is_file(), name
    assert not list(model_dir.glob("*.bin"))
    settings = load_settings(model_dir)
    assert settings.target_format == "edits" and settings.max_words == config.synthesis.max_words
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["valid"]["f0.5"] <= 1.0 and metrics["train"]["steps"] == 12

    run = {
        "system": "model",
        "rate": 0.3,
        "precision": 0.5,
        "recall": 0.25,
        "f0.5": 0.4167,
        "false_changes_per_100_tokens": 0.1,
        "bleu": 80.0,
        "chrf": 88.0,
        "copy_bleu": 70.0,
    }
    add_test_results(model_dir, {"command": "python scripts/evaluate.py ...", "runs": [run]})
    card = (model_dir / "README.md").read_text()
    assert "| 0.3 | model | 0.500 | 0.250 | 0.417 | 0.10 |" in card
    assert json.loads((model_dir / "metrics.json").read_text())["test"]["runs"] == [run]

    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, use_safetensors=True)
    assert model.dtype == torch.float16  # stored small; callers cast as they need
    # The directory loads for inference, and plain transformers generates from it.
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    spun = "The celebration  ejects journalists\noutside the depository."
    ids = model.float().generate(**tokenizer([spun], return_tensors="pt"), max_new_tokens=8)
    assert ids.shape[0] == 1 and ids.shape[1] > 1
    result = Restorer.from_pretrained(model_dir).restore_detailed(spun)
    rebuilt, pos = [], 0
    for edit in result.edits:
        assert spun[edit.start : edit.end] == edit.spun
        rebuilt += [spun[pos : edit.start], edit.restored]
        pos = edit.end
    assert "".join([*rebuilt, spun[pos:]]) == result.text
    assert [(u.start, u.end) for u in result.units] == [(0, len(spun))]


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(prepared, tmp_path):
    config = experiment(prepared, tmp_path, "train.max_steps=6")
    train(config, config.output_dir)
    out = Path(config.output_dir)
    assert (out / TRAIN_DIR / "checkpoint-6").is_dir()
    with pytest.raises(TrainingError, match="--resume"):
        train(config, config.output_dir)
    longer = load_config(
        ROOT / "configs/tiny.yaml", [f"output_dir={out}", *FAST, "train.max_steps=12"]
    )
    train(longer, out, resume=True)
    state = json.loads((out / TRAIN_DIR / "checkpoint-12" / "trainer_state.json").read_text())
    assert state["global_step"] == 12
    steps = [int(s) for s in logged_steps(out)]
    assert steps == sorted(steps) and max(steps) == 12 and min(steps) <= 6


def logged_steps(out: Path) -> list[str]:
    with open(out / TRAIN_DIR / "log.csv", newline="", encoding="utf-8") as fh:
        return [r["step"] for r in csv.DictReader(fh) if r.get("loss")]


@pytest.mark.slow
def test_text_target_format(prepared, tmp_path):
    config = experiment(
        prepared,
        tmp_path,
        "train.target_format=text",
        "train.max_steps=4",
        "train.eval_steps=4",
        "train.max_target_tokens=192",
    )
    model_dir = train(config, config.output_dir)
    assert load_settings(model_dir).target_format == "text"


@pytest.mark.slow
@pytest.mark.parametrize("target_format", ["choices", "tags"])
def test_slot_formats_ship_their_candidate_table(prepared, tmp_path, target_format):
    config = experiment(
        prepared,
        tmp_path,
        f"train.target_format={target_format}",
        "train.reveal_share=0.5",
        "train.max_steps=4",
        "train.eval_steps=4",
    )
    model_dir = train(config, config.output_dir)
    assert load_settings(model_dir).target_format == target_format
    assert logged(Path(config.output_dir), "eval_f0.5")
    shipped = (model_dir / CANDIDATES_FILE).read_bytes()
    assert shipped == (Path(config.output_dir) / "candidates" / CANDIDATES_FILE).read_bytes()
    restorer = Restorer.from_pretrained(model_dir)
    text = "The minister said on Monday that talks would resume in Geneva."
    assert restorer.restore_batch([text, ""])[1] == ""
    # Whatever the untrained model picks, only table words change (an edit that only adds
    # words is anchored on the word before, so it may end where a slot starts).
    table = CandidateTable.load(model_dir / CANDIDATES_FILE)
    spun = Path(config.output_dir) / "pairs"
    for row in datasets.load_from_disk(str(spun))["valid"].select(range(8)):
        slots = table.match(row["spun"])
        for edit in restorer.restore_detailed(row["spun"]).edits:
            assert any(m.start <= edit.end + 1 and edit.start <= m.end for m in slots), edit
    if target_format == "tags":
        with pytest.raises(BackendError, match="tags-format"):
            Restorer.from_pretrained(model_dir, backend="ctranslate2")
        with pytest.raises(BackendError, match="tags-format"):
            export_ctranslate2(model_dir, tmp_path / "ct2")

    (model_dir / CANDIDATES_FILE).unlink()
    with pytest.raises(ValueError, match="has no candidates.json.gz"):
        Restorer.from_pretrained(model_dir)


@pytest.mark.slow
def test_fine_tunes_a_local_pretrained_checkpoint(prepared, tmp_path):
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(prepared / "tokenizer")
    checkpoint = tmp_path / "pretrained"
    t5 = T5ForConditionalGeneration(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_ff=64,
            d_kv=8,
            num_heads=2,
            num_layers=1,
            num_decoder_layers=1,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )
    t5.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    config = experiment(
        prepared,
        tmp_path,
        f"train.init={checkpoint}",
        "train.target_format=text",
        "train.max_steps=4",
        "train.eval_steps=4",
        "train.max_target_tokens=192",
    )
    model_dir = train(config, config.output_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir, use_safetensors=True)
    assert model.config.d_model == 32


def test_limits_that_leave_no_pair_are_a_clear_error(prepared, tmp_path):
    config = experiment(prepared, tmp_path, "train.max_source_tokens=3")
    with pytest.raises(TrainingError, match="no pair fits"):
        train(config, config.output_dir)


def test_missing_stage_outputs_are_clear_errors(tmp_path):
    config = load_config(ROOT / "configs/tiny.yaml", [f"output_dir={tmp_path}"])
    with pytest.raises(TrainingError, match="training.synthesize"):
        train(config, tmp_path)
    assert not (tmp_path / MODEL_DIR).exists()


def test_reveal_answers_writes_each_slots_choice_after_its_mark():
    choices = ChoicesFormat(ModelSettings(target_format="choices"), CandidateTable({}))
    source = "She ejects⟦1⟧⟨1⟩ greets⟨2⟩ expels the throng⟦2⟧⟨1⟩ crowd."
    assert choices.reveal(source, "⟦1⟧⟨1⟩⟦2⟧⟨0⟩") == (
        "She ejects⟦1⟧⇒⟨1⟩⟨1⟩ greets⟨2⟩ expels the throng⟦2⟧⇒⟨0⟩⟨1⟩ crowd."
    )
    assert choices.reveal("No slots.", "") == "No slots."

"""Shared fixtures: tiny random T5 model directories, built offline once per test run.

``tiny_model`` (text target format), ``tiny_edits_model``, ``tiny_choices_model`` and
``tiny_tags_model`` are complete model directories (config + safetensors weights, generation
config, fast tokenizer trained in a second on the fixture news text, restore.json, and for the
slot formats a candidate table) of a 2-layer, width-64 T5: one per format. Their outputs are
random but deterministic; they exercise loading, batching, backends and the CLI. Tests that
need particular outputs (edits at known places) use ``stub_restorer``, whose generator writes a
function of each source.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "tiny_news.jsonl"
# The slot-format fixtures' candidate table: words of the fixture news and made-up originals.
TINY_TABLE = {
    "said": (0.9, ["told", "stated", "noted"]),
    "council": (0.8, ["board", "panel"]),
    "plan": (0.7, ["scheme", "proposal"]),
    "new": (0.6, ["fresh", "novel"]),
    "members": (0.5, ["delegates"]),
    "city": (0.9, ["town", "municipality"]),
}


def fixture_texts() -> list[str]:
    with open(DATA, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def assert_in_place(text: str, result) -> None:
    """``result`` (a Restoration of ``text``) is ``text`` with its edits made and nothing else
    changed, and its unit reports cover ``text`` in order."""
    parts, pos = [], 0
    for edit in result.edits:
        assert pos <= edit.start <= edit.end and text[edit.start : edit.end] == edit.spun, edit
        assert 0.0 <= edit.confidence <= 1.0, edit
        parts += [text[pos : edit.start], edit.restored]
        pos = edit.end
    assert "".join([*parts, text[pos:]]) == result.text
    ends = [0] + [u.end for u in result.units]
    assert all(a <= u.start < u.end <= len(text) for a, u in zip(ends, result.units))


def build_tiny_model(
    out_dir: Path,
    tokenizer_dir: Path,
    *,
    target_format: str = "text",
    num_beams: int = 1,
    max_new_tokens: int = 24,
    seed: int = 0,
    scale_decoder_outputs: bool = True,
    **settings,
) -> Path:
    """Write a random tiny T5 model directory that follows the model-directory contract."""
    import torch
    from transformers import GenerationConfig, T5Config, T5ForConditionalGeneration

    from restore.settings import save_settings

    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir / name, out_dir / name)
    from tokenizers import Tokenizer

    vocab_size = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).get_vocab_size()
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=vocab_size,
        d_model=64,
        d_ff=128,
        d_kv=16,
        num_heads=4,
        num_layers=2,
        num_decoder_layers=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        # A larger initialisation than T5's default makes a random model write varied tokens
        # rather than one token repeated, which makes backend comparisons meaningful.
        initializer_factor=2.0,
        tie_word_embeddings=scale_decoder_outputs,
    )
    T5ForConditionalGeneration(config).save_pretrained(out_dir)
    GenerationConfig(
        num_beams=num_beams,
        max_new_tokens=max_new_tokens,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    ).save_pretrained(out_dir)
    defaults = {"max_words": 24, "max_source_tokens": 96, "max_target_tokens": max_new_tokens}
    save_settings(model_settings(target_format, **{**defaults, **settings}), out_dir)
    return out_dir


def model_settings(target_format: str = "text", **fields):
    """ModelSettings of ``target_format`` from flat fields: the shared ones, and the format's
    own (its settings class's), as tests write them."""

    from restore.formats import get_format
    from restore.settings import ModelSettings

    shared = {f.name for f in dataclasses.fields(ModelSettings)}
    options = {k: v for k, v in fields.items() if k not in shared}
    return ModelSettings(
        target_format=target_format,
        options=get_format(target_format).settings_class(**options),
        **{k: v for k, v in fields.items() if k in shared},
    )


def build_slot_model(out_dir: Path, tokenizer_dir: Path, target_format: str) -> Path:
    """A tiny model of a slot format, with :data:`TINY_TABLE` as its candidate table."""
    from restore.candidates import CANDIDATES_FILE, CandidateTable

    build_tiny_model(out_dir, tokenizer_dir, target_format=target_format, max_source_tokens=192)
    CandidateTable(TINY_TABLE).save(out_dir / CANDIDATES_FILE)
    return out_dir


# The test modules of the restore library; the fixtures below are theirs.
RESTORE_TESTS = frozenset(
    "test_api test_batch test_benchmark test_cli test_ctranslate2 test_formats test_golden "
    "test_ray test_restorer test_detection test_serve test_browser".split()
)


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    """One torch thread in the restore tests: on a shared 2-core machine, a second OpenMP
    thread that has to wait for a busy core can make small matrix products hundreds of times
    slower. The previous count is restored, so other test modules keep their own."""
    if request.module.__name__ not in RESTORE_TESTS:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    from training.tokenizer import TokenizerConfig, train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    lines = [p for text in fixture_texts() for p in text.split("\n\n")]
    return train_tokenizer(lines, out, TokenizerConfig(vocab_size=400, extra_tokens=("⇒", "‖")))


@pytest.fixture(scope="session")
def slot_tokenizer_dir(tmp_path_factory) -> Path:
    """A tokenizer that keeps every format mark (slots, choices, shares) one token."""
    from restore.formats.marks import FORMAT_TOKENS
    from training.tokenizer import TokenizerConfig, train_tokenizer

    out = tmp_path_factory.mktemp("slot-tokenizer")
    lines = [p for text in fixture_texts() for p in text.split("\n\n")]
    return train_tokenizer(lines, out, TokenizerConfig(vocab_size=450, extra_tokens=FORMAT_TOKENS))


@pytest.fixture(scope="session")
def tiny_choices_model(tmp_path_factory, slot_tokenizer_dir) -> Path:
    out = tmp_path_factory.mktemp("tiny-choices") / "model"
    return build_slot_model(out, slot_tokenizer_dir, "choices")


@pytest.fixture(scope="session")
def tiny_tags_model(tmp_path_factory, slot_tokenizer_dir) -> Path:
    out = tmp_path_factory.mktemp("tiny-tags") / "model"
    return build_slot_model(out, slot_tokenizer_dir, "tags")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tokenizer_dir) -> Path:
    """A text-format model directory. Read-only: copy it (``model_copy``) to change it."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_edits_model(tmp_path_factory, tokenizer_dir) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-edits") / "model", tokenizer_dir, target_format="edits"
    )


@pytest.fixture(scope="session")
def tiny_ct2_model(tmp_path_factory, tiny_model) -> Path:
    """A copy of ``tiny_model`` with an int8 CTranslate2 export in its ``ctranslate2/``."""
    pytest.importorskip("ctranslate2")
    from restore.export import export_ctranslate2

    model_dir = Path(shutil.copytree(tiny_model, tmp_path_factory.mktemp("tiny-ct2") / "model"))
    export_ctranslate2(model_dir, model_dir / "ctranslate2")
    return model_dir


@pytest.fixture
def model_copy(tiny_model, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_model, tmp_path / "model"))


@pytest.fixture(scope="session")
def tiny_restorer(tiny_model):
    from restore import Restorer

    return Restorer.from_pretrained(tiny_model, threads=1)


class StubGenerator:
    """A generator whose output for each unit is ``write(source_text)``, with token
    probability ``prob``; it records every batch it is given."""

    def __init__(self, tokenizer, write: Callable[[str], str], *, prefix: str = "", prob=0.9):
        self.tokenizer = tokenizer
        self.write = write
        self.prefix = prefix
        self.prob = prob
        self.batches: list[list[str]] = []

    def generate(self, batch):
        from restore.backends import Generation

        sources = [self.tokenizer.decode(list(ids), skip_special_tokens=True) for ids in batch]
        sources = [s[len(self.prefix) :] for s in sources]
        self.batches.append(sources)
        out = []
        for source in sources:
            ids = self.tokenizer.encode(self.write(source)).ids[:-1]  # without </s>
            out.append(Generation(tuple(ids), (math.log(self.prob),) * (len(ids) + 1), True))
        return out


@pytest.fixture
def stub_restorer(tiny_model):
    """``stub_restorer(write, target_format="text", guard=None, candidates=None, **settings)``
    builds a Restorer
    over the tiny model's tokenizer whose model writes ``write(unit_source)``."""
    from restore import Restorer
    from restore.formats import load_settings
    from restore.loading import load_decoding, load_tokenizer

    base = load_settings(tiny_model)
    decoding = load_decoding(tiny_model, base.options.max_target_tokens)
    tokenizer = load_tokenizer(tiny_model, decoding)

    def build(
        write,
        *,
        target_format="text",
        guard=None,
        batch_size=8,
        prob=0.9,
        candidates=None,
        **settings,
    ):
        fields = {
            "max_words": base.max_words,
            "max_source_tokens": base.max_source_tokens,
            "max_target_tokens": base.options.max_target_tokens,
            **settings,
        }
        built = model_settings(target_format, **fields)
        generator = StubGenerator(tokenizer, write, prefix=built.options.prefix, prob=prob)
        return Restorer(
            generator,
            tokenizer,
            built,
            guard=guard,
            batch_size=batch_size,
            candidates=candidates,
        )

    return build


# Spun words of the fixture text's vocabulary, with the originals a tags model may choose.
TAGS_TABLE = {
    "ballot": (0.9, ["vote", "poll"]),
    "sanction": (0.8, ["approve", "endorse"]),
    "restitute": (0.95, ["restore"]),
    "park": (0.1, ["garden"]),
    "common people": (0.9, ["families", "people"]),
}


@pytest.fixture(scope="session")
def tiny_detect_model(tmp_path_factory, slot_tokenizer_dir) -> Path:
    """A tags-format model directory (the shipped default's format) whose candidate table
    (``TAGS_TABLE``) holds words the detection tests spin. Read-only."""
    from restore.candidates import CANDIDATES_FILE, CandidateTable

    root = tmp_path_factory.mktemp("tiny-detect")
    model_dir = build_tiny_model(
        root / "model",
        slot_tokenizer_dir,
        target_format="tags",
        slots=8,
        choices=2,
        seed=1,
        max_source_tokens=64,
    )
    CandidateTable(TAGS_TABLE).save(model_dir / CANDIDATES_FILE)
    return model_dir


@pytest.fixture
def live_server():
    """``live_server(app)``: a real uvicorn on 127.0.0.1 (a free port) in a thread
    (``restore.serve.BackgroundServer``); every server started is stopped after the test."""
    pytest.importorskip("uvicorn")
    from restore.serve import BackgroundServer

    started = []

    def start(app):
        started.append(BackgroundServer(app))
        return started[-1]

    yield start
    for server in started:
        server.stop()

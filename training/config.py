"""Typed configuration: frozen dataclasses built from YAML plus ``--set key=value`` overrides.

Every stage has one frozen dataclass, defined here; ``ExperimentConfig`` nests them and YAML
sections mirror the nesting. Unknown keys and wrong types raise :class:`ConfigError` naming the
dotted path. Precedence is CLI > YAML > defaults. This module imports no stage: the stages
import it (at the top, with real types), so reading a YAML file loads no stage's libraries.

>>> cfg = build_config(ExperimentConfig, {"spinner": {"rate": 0.5}}, ["seed=7"])
>>> cfg.spinner.rate, cfg.seed
(0.5, 7)
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from restore.formats import format_names, get_format
from restore.formats.marks import FORMAT_TOKENS

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type, or inconsistent."""


# -- the stages' settings --------------------------------------------------------------------

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class SpinnerConfig:
    """How the spinner chooses what to replace and with what."""

    rate: float = 0.3  # share of eligible content words replaced
    function_rate: float = 0.05  # share of function words with alternatives replaced
    choice: str = "uniform"  # "uniform" (sense-blind), "frequency" or "sense_aware"
    relation_weights: dict[str, float] = dataclasses.field(
        default_factory=lambda: {
            "syn": 1.0,
            "sim": 1.0,
            "rel": 1.0,
            "hyper": 0.2,
            "hypo": 0.2,
            "near": 0.0,
        }
    )
    min_zipf: float = 2.0  # candidates rarer than this (wordfreq zipf) are never chosen
    min_sentence_initial_zipf: float = 3.0  # sentence-initial words rarer than this may be names
    max_phrase_words: int = 4
    lexicon_path: str | None = None  # None: the lexicon shipped with the package
    # Embedding neighbours (training.neighbours), drawn under the relation "near".
    neighbours_path: str | None = None

    def validate(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"spinner.rate must lie in [0, 1], got {self.rate}")
        if not 0.0 <= self.function_rate <= 1.0:
            raise ValueError(f"spinner.function_rate must lie in [0, 1], got {self.function_rate}")
        if self.choice not in ("uniform", "frequency", "sense_aware"):
            raise ValueError("spinner.choice must be uniform, frequency or sense_aware")
        unknown = set(self.relation_weights) - {"syn", "sim", "rel", "hyper", "hypo", "near"}
        if unknown:
            raise ValueError(f"spinner.relation_weights: unknown relations {sorted(unknown)}")
        if self.max_phrase_words < 1:
            raise ValueError("spinner.max_phrase_words must be at least 1")


@dataclasses.dataclass(frozen=True)
class SynthesisConfig:
    """Where the raw text comes from and how it becomes pairs."""

    inputs: tuple[str, ...] = ()  # files, globs, or "hf:NAME[:CONFIG]"
    text_field: str = "text"
    id_field: str = "id"
    split_field: str = "split"
    unit: str = "passage"  # "passage" packs sentences up to max_words; "sentence" does not
    max_words: int = 48
    min_words: int = 3  # shorter units (datelines, bylines) are skipped
    spins_per_unit: int = 2
    clean_share: float = 0.15  # share of units also emitted unspun (spun == original)
    rates: tuple[float, ...] = ()  # if set, each spin draws its rate from these; else spinner.rate
    max_units: dict[str, int] = dataclasses.field(default_factory=dict)  # per split; 0 = all
    holdout_percent: tuple[int, int] = (2, 2)  # (test, valid) for inputs without a split field
    num_proc: int = 1

    def validate(self) -> None:
        if self.unit not in ("passage", "sentence"):
            raise ValueError(f"synthesis.unit must be passage or sentence, got {self.unit!r}")
        if self.max_words < 1 or self.min_words < 0 or self.min_words > self.max_words:
            raise ValueError("synthesis: need 0 <= min_words <= max_words and max_words >= 1")
        if self.spins_per_unit < 0:
            raise ValueError("synthesis.spins_per_unit must be >= 0")
        if not 0.0 <= self.clean_share <= 1.0:
            raise ValueError("synthesis.clean_share must lie in [0, 1]")
        if any(not 0.0 <= r <= 1.0 for r in self.rates):
            raise ValueError("synthesis.rates must lie in [0, 1]")
        if set(self.max_units) - set(SPLITS):
            raise ValueError(f"synthesis.max_units: keys must be among {SPLITS}")
        if len(self.holdout_percent) != 2 or sum(self.holdout_percent) >= 100:
            raise ValueError("synthesis.holdout_percent must be (test, valid), summing below 100")
        if self.num_proc < 1:
            raise ValueError("synthesis.num_proc must be >= 1")


# The tokenizer's reserved pieces (training.tokenizer's contract), here because
# TokenizerConfig.validate keeps extra tokens off them.
PAD_TOKEN, EOS_TOKEN, UNK_TOKEN = "<pad>", "</s>", "<unk>"
# SentencePiece's whitespace marker; a literal one in the input decodes as a space.
SPACE_MARKER = "▁"
# Every control, unknown and byte piece ("<pad>", "<0x41>", ...) starts with this character.
# Making it a user-defined symbol (always a piece of its own) keeps the fast tokenizer's
# Unigram lattice, which contains every vocabulary entry, from matching those pieces in raw
# text; sentencepiece never matches them. Costs one token per "<" in the text.
ISOLATED_CHAR = "<"
TOKENIZER_MODEL_TYPES = ("unigram", "bpe")


def is_byte_piece(token: str) -> bool:
    """Whether ``token`` is a byte-fallback piece such as ``<0x41>``."""
    return len(token) == 6 and token.startswith("<0x") and token.endswith(">")


@dataclasses.dataclass(frozen=True)
class TokenizerConfig:
    """Settings of the tokenizer stage (YAML section ``tokenizer``)."""

    vocab_size: int = 8000
    model_type: str = "unigram"  # or "bpe"
    character_coverage: float = 0.9995
    # Cap on lines fed to the trainer; a seeded random sample is drawn above it.
    max_sentences: int = 2_000_000
    # User-defined symbols, always single tokens; by default every target format's marks.
    extra_tokens: tuple[str, ...] = FORMAT_TOKENS
    # Only bounds truncation: T5's relative positions have no hard limit.
    model_max_length: int = 512
    # Part of the result, not only of the speed: sentencepiece's trainer gives a different (but
    # reproducible) vocabulary for each thread count.
    num_threads: int = 2

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        if self.model_type not in TOKENIZER_MODEL_TYPES:
            raise ValueError(f"tokenizer.model_type must be one of {list(TOKENIZER_MODEL_TYPES)}")
        # 3 special pieces, 256 byte pieces, "<" and the extra tokens, then room for real pieces.
        minimum = 3 + 256 + 1 + len(self.extra_tokens) + 1
        if self.vocab_size < minimum:
            raise ValueError(f"tokenizer.vocab_size must be at least {minimum}")
        if not 0.0 < self.character_coverage <= 1.0:
            raise ValueError("tokenizer.character_coverage must lie in (0, 1]")
        if self.max_sentences < 1:
            raise ValueError("tokenizer.max_sentences must be at least 1")
        if self.model_max_length < 2:
            raise ValueError("tokenizer.model_max_length must be at least 2")
        if self.num_threads < 1:
            raise ValueError("tokenizer.num_threads must be at least 1")
        reserved = {PAD_TOKEN, EOS_TOKEN, UNK_TOKEN, ISOLATED_CHAR}
        for token in self.extra_tokens:
            if not token or any(ch.isspace() for ch in token) or SPACE_MARKER in token:
                raise ValueError(
                    f"tokenizer.extra_tokens: {token!r} must be non-empty, without whitespace or ▁"
                )
            if token in reserved or is_byte_piece(token):
                raise ValueError(f"tokenizer.extra_tokens: {token!r} is reserved")
        if len(set(self.extra_tokens)) != len(self.extra_tokens):
            raise ValueError("tokenizer.extra_tokens must not repeat a token")


@dataclasses.dataclass(frozen=True)
class CandidatesConfig:
    """Settings of the candidate table (YAML section ``candidates``)."""

    top_k: int = 5  # originals kept per entry (train.choices of them are shown)
    # Entries whose occurrences in spun training text were spinner output less often than this
    # are dropped: the model is not asked about words that are mostly natural text.
    min_spun_share: float = 0.1
    min_count: int = 2  # substitutions seen before a word or an original is kept
    sample_rows: int = 200_000  # train pairs scanned to count natural occurrences

    def validate(self) -> None:
        if self.top_k < 1 or self.min_count < 1 or self.sample_rows < 1:
            raise ValueError("candidates.top_k, min_count and sample_rows must be at least 1")
        if not 0.0 <= self.min_spun_share < 1.0:
            raise ValueError("candidates.min_spun_share must lie in [0, 1)")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape of a T5 trained from scratch (ignored when fine-tuning a checkpoint)."""

    d_model: int = 256
    d_ff: int = 1024
    d_kv: int = 64
    num_heads: int = 4
    num_layers: int = 4
    num_decoder_layers: int = 4
    dropout_rate: float = 0.1
    feed_forward_proj: str = "relu"
    relative_attention_num_buckets: int = 32


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How the model is built, fed and optimised (YAML section ``train``)."""

    init: str = "scratch"  # "scratch", or a hub name or local path of a seq2seq checkpoint
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # "edits" (span edit list), "text" (the whole original), or "choices"/"tags" (pick among
    # candidate originals shown in the input; need training.candidates): see restore.settings
    target_format: str = "edits"
    slots: int = 24  # choices/tags: most slots per unit
    choices: int = 3  # choices/tags: most candidates shown per slot
    # choices: share of training pairs whose answers are also written into the source (a
    # copy-first curriculum: looking a slot's answer up teaches the decoder where to look
    # before the encoder has learned to work the answer out; never done at inference)
    reveal_share: float = 0.0
    prefix: str = ""
    max_source_tokens: int = 128
    max_target_tokens: int = 96
    max_train_pairs: int = 0  # 0 = all
    optimizer: str = "adamw_torch"  # any TrainingArguments.optim name, e.g. "adafactor"
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    warmup_steps: int = 200
    batch_size: int = 32
    grad_accum: int = 1
    max_steps: int = 1000
    max_minutes: float = 0.0  # wall-clock budget of one invocation; 0 = none
    logging_steps: int = 25
    eval_steps: int = 250
    eval_samples: int = 300  # valid pairs decoded at each evaluation
    early_stopping_patience: int = 0  # evaluations without gain before stopping; 0 = off
    # What picks the best checkpoint and drives early stopping: "f0.5" (ties broken by target
    # token accuracy) or "loss" (valid loss; smoother while F0.5 is still 0, early in training).
    select_by: str = "f0.5"
    save_total_limit: int = 2
    num_beams: int = 1
    num_threads: int = 2
    save_dtype: str = "float16"  # weights in the final model directory

    def validate(self) -> None:
        if self.target_format not in format_names():
            raise ValueError(f"train.target_format must be one of {list(format_names())}")
        if self.select_by not in ("f0.5", "loss"):
            raise ValueError("train.select_by must be 'f0.5' or 'loss'")
        if self.save_dtype not in ("float16", "float32"):
            raise ValueError("train.save_dtype must be 'float16' or 'float32'")
        for name in (
            "max_source_tokens",
            "max_target_tokens",
            "batch_size",
            "grad_accum",
            "max_steps",
            "logging_steps",
            "eval_steps",
            "eval_samples",
            "num_beams",
            "num_threads",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1")
        if self.learning_rate <= 0:
            raise ValueError("train.learning_rate must be positive")
        if not 0.0 <= self.reveal_share < 1.0:
            raise ValueError("train.reveal_share must lie in [0, 1)")


@dataclasses.dataclass(frozen=True)
class TaggerConfig:
    """How the tagger family trains (YAML section ``tagger``; ``python -m training.tagger``).

    It reads the experiment's pairs (``output_dir/pairs``, from ``training.synthesize``, or
    ``pairs_dir``) and the count files of the family's own stages, and writes
    ``output_dir/model``.
    """

    pairs_dir: str = ""  # "" = output_dir/pairs
    ngram_dir: str = "runs/ngram"  # python -m training.tagger.ngram
    inverse_path: str = "runs/inverse.npz"  # python -m training.tagger.inverse
    context_path: str = "runs/context.npz"  # python -m training.tagger.context
    encoder: str = ""  # a local BERT folder; "" = all-MiniLM-L6-v2 from its PyPI package
    init: str = ""  # a saved tagger folder to start from (a run's best/), or "" for the encoder
    max_candidates: int = 24
    # Rank and count features scaled by this many candidates (None: max_candidates): a warm
    # start that trained on fewer keeps reading its first candidates' features unchanged.
    trained_candidates: int | None = None
    layers: int = 6  # encoder layers kept (the lower ones)
    batch_size: int = 32
    encoder_lr: float = 8e-5
    head_lr: float = 2e-3
    warmup_steps: int = 200
    vocab_loss_weight: float = 0.3
    minutes: float = 60.0
    eval_steps: int = 400
    eval_pairs: int = 300
    checkpoint_minutes: float = 10.0
    max_pieces: int = 160
    threads: int = 2
    # Processes that encode and collate training batches (sites, candidates, evidence) beside
    # the training loop; 0 or 1 does it in the loop's own process. A GPU outruns one process.
    workers: int = 0
    device: str = "cpu"  # "cuda" on a GPU machine
    seed: int = 0
    weights: str = "best"  # export the best evaluated checkpoint, or the "last"

    def validate(self) -> None:
        for name in ("max_candidates", "layers", "batch_size", "eval_steps", "eval_pairs"):
            if getattr(self, name) < 1:
                raise ValueError(f"tagger.{name} must be at least 1")
        if self.trained_candidates is not None and self.trained_candidates < 1:
            raise ValueError("tagger.trained_candidates must be at least 1")
        if self.workers < 0:
            raise ValueError("tagger.workers must be at least 0")
        if self.max_pieces < 8:
            raise ValueError("tagger.max_pieces must be at least 8")
        if min(self.encoder_lr, self.head_lr, self.minutes, self.checkpoint_minutes) <= 0:
            raise ValueError("tagger learning rates and minutes must be positive")
        if self.weights not in ("best", "last"):
            raise ValueError("tagger.weights must be 'best' or 'last'")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: every stage's settings and the folder its outputs go to."""

    name: str = "experiment"
    output_dir: str = "runs/experiment"
    seed: int = 0
    spinner: SpinnerConfig = dataclasses.field(default_factory=SpinnerConfig)
    synthesis: SynthesisConfig = dataclasses.field(default_factory=SynthesisConfig)
    tokenizer: TokenizerConfig = dataclasses.field(default_factory=TokenizerConfig)
    candidates: CandidatesConfig = dataclasses.field(default_factory=CandidatesConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    tagger: TaggerConfig = dataclasses.field(default_factory=TaggerConfig)

    def validate(self) -> None:
        """Cross-field checks; raises ConfigError."""
        sections = (self.spinner, self.synthesis, self.tokenizer, self.candidates, self.train)
        for section in (*sections, self.tagger):
            check = getattr(section, "validate", None)
            if check is not None:
                try:
                    check()
                except ValueError as err:
                    raise ConfigError(str(err)) from err
        if self.train.init == "scratch":
            marks = get_format(self.train.target_format).marks
            missing = set(marks) - set(self.tokenizer.extra_tokens)
            if missing:
                raise ConfigError(
                    f"train.target_format {self.train.target_format!r} needs "
                    f"tokenizer.extra_tokens to include {sorted(missing)}"
                )
        if self.train.choices > self.candidates.top_k:
            raise ConfigError("train.choices must not exceed candidates.top_k")


def load_config(
    path: str | Path | None, overrides: Sequence[str] = (), cls: type[T] = ExperimentConfig
) -> T:
    """Read a YAML file (or none, for defaults), apply ``key=value`` overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
        except OSError as err:
            raise ConfigError(f"cannot read config {path}: {err}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"config {path} is not valid YAML: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"config {path} must hold a mapping at the top level")
    return build_config(cls, data, overrides)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every stage CLI shares: --config, --output-dir, --set KEY=VALUE."""
    parser.add_argument("--config", required=True, help="experiment YAML (e.g. configs/tiny.yaml)")
    parser.add_argument("--output-dir", help="overrides output_dir from the config")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set spinner.rate=0.4 (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The experiment config named by :func:`add_config_arguments`' options (CLI wins)."""
    overrides = list(args.set) + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    return load_config(args.config, overrides)


def build_config(cls: type[T], data: Mapping[str, Any], overrides: Sequence[str] = ()) -> T:
    """Build and validate ``cls`` from a nested mapping and ``dotted.key=value`` overrides."""
    merged = _deep_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value")
        _set_dotted(merged, key.strip(), yaml.safe_load(raw) if raw.strip() else "")
    config = _build(cls, merged, "")
    validate = getattr(config, "validate", None)
    if validate is not None:
        validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain, JSON- and YAML-safe dict of a config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_hash(config: Any) -> str:
    """A short stable fingerprint of a config's values."""
    blob = json.dumps(config_to_dict(config), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def save_config(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML (loadable again with :func:`load_config`)."""
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config_to_dict(config), fh, sort_keys=False, allow_unicode=True)


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {part} is not a section")
        node = child
    node[leaf] = value


def _build(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - fields)
    if unknown:
        names = ", ".join(_join(path, k) for k in unknown)
        raise ConfigError(f"unknown config key(s): {names}")
    values = {name: _coerce(hints[name], data[name], _join(path, name)) for name in data}
    # A mapping given in part (relation_weights: {hypo: 0}) updates the default mapping.
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], dict):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else {}
            if isinstance(default, dict):
                values[f.name] = {**default, **values[f.name]}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path or 'config'}: {err}") from err


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: no type fits {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{path}: must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        item = args[0] if args else Any
        items = [_coerce(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        key_tp, val_tp = args or (Any, Any)
        return {
            _coerce(key_tp, k, f"{path}.{k}"): _coerce(val_tp, v, f"{path}.{k}")
            for k, v in value.items()
        }
    return _coerce_scalar(tp, value, path)


def _coerce_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if tp is float:
        # PyYAML reads 1e-4 (no dot) as a string, so numbers in strings are accepted here.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    raise ConfigError(f"{path}: unsupported config type {tp!r}")

"""Typed configuration: frozen dataclasses built from YAML plus ``--set key=value`` overrides.

Every stage owns one frozen dataclass; ``ExperimentConfig`` nests them and YAML sections mirror
the nesting. Unknown keys and wrong types raise :class:`ConfigError` naming the dotted path.
Precedence is CLI > YAML > defaults.

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

from restore.format import format_marks
from training.candidates import CandidatesConfig
from training.spinner import SpinnerConfig
from training.synthesize import SynthesisConfig
from training.tokenizer import TokenizerConfig
from training.train import TrainConfig

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type, or inconsistent."""


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

    def validate(self) -> None:
        """Cross-field checks; raises ConfigError."""
        for section in (self.spinner, self.synthesis, self.tokenizer, self.candidates, self.train):
            check = getattr(section, "validate", None)
            if check is not None:
                try:
                    check()
                except ValueError as err:
                    raise ConfigError(str(err)) from err
        if self.train.init == "scratch":
            missing = set(format_marks(self.train.target_format)) - set(self.tokenizer.extra_tokens)
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

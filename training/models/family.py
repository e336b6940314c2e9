"""What a model family gives the training stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ExperimentConfig


@dataclass(frozen=True)
class Family:
    """A model family: which experiments it builds, its tokenizer and its ``build_*``."""

    name: str
    claims: Callable[[ExperimentConfig], bool]
    load_tokenizer: Callable[[ExperimentConfig, Path], Any]
    build: Callable[[ExperimentConfig, Any], Any]
    adds_tokens: bool = False  # format marks its tokenizer splits may be added as new tokens

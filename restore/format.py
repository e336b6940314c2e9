"""The settings file that pins a model directory's input and output format.

``restore.json`` holds everything inference must do as training did: the target format (a
class of :mod:`restore.formats`, by name), prefix, lengths, segmentation, slot counts and the
guard's thresholds. Training writes it with :func:`save_settings`; the Restorer reads it with
:func:`load_settings`, which refuses unknown keys and format versions newer than this code.

>>> s = ModelSettings(target_format="edits")
>>> s.validate()
>>> try:
...     ModelSettings(target_format="xml").validate()
... except ModelFormatError as err:
...     print(err)
target_format must be one of ['choices', 'edits', 'tagger', 'tags', 'text'], got 'xml'
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from restore.choice_rule import ChoiceRule
from restore.edit_rule import EditRule, EditTrees, edit_rule_from_dict
from restore.errors import ModelFormatError
from restore.formats.marks import MAX_CHOICES, MAX_SLOTS
from restore.formats.registry import get_format

__all__ = [
    "FORMAT_VERSION",
    "SETTINGS_FILE",
    "GuardSettings",
    "ModelFormatError",
    "ModelSettings",
    "load_settings",
    "save_settings",
]

FORMAT_VERSION = 2  # 2 added the "choices" and "tags" formats
SETTINGS_FILE = "restore.json"


@dataclass(frozen=True)
class GuardSettings:
    """When a restored unit is not trusted and its input is kept instead."""

    min_confidence: float = 0.0  # mean token probability of the output, 0 disables
    min_edit_confidence: float = 0.0  # an edit less sure than this is not made, 0 disables
    max_length_ratio: float = 1.5  # restored/input word count outside [1/r, r] is rejected
    keep_numbers: bool = True  # a changed or dropped number rejects the unit
    keep_names: bool = True  # a changed mid-sentence capitalised word rejects the unit


@dataclass(frozen=True)
class ModelSettings:
    """The contents of ``restore.json``: everything inference must do as training did."""

    format_version: int = FORMAT_VERSION
    target_format: str = "text"
    prefix: str = ""
    max_source_tokens: int = 128
    max_target_tokens: int = 128
    segmentation: str = "passage"  # restore.text.segment's ``by``
    max_words: int = 48  # restore.text.segment's ``max_words``
    slots: int = 24  # slot formats: most slots per unit
    choices: int = 3  # slot formats: most candidates shown per slot
    max_candidates: int = 64  # tagger format: candidate originals scored per site
    # tagger format: the learned choice among a site's candidates (restore.choice_rule); None
    # keeps the network's
    choice_rule: ChoiceRule | None = None
    # tagger format: the learned confidence of an edit (restore.edit_rule); None keeps the
    # model's own, P(spun) x P(original | spun)
    edit_rule: EditRule | EditTrees | None = None
    guard: GuardSettings = dataclasses.field(default_factory=GuardSettings)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        get_format(self.target_format)  # raises ModelFormatError for an unknown format
        if self.segmentation not in ("passage", "sentence"):
            raise ModelFormatError("segmentation must be 'passage' or 'sentence'")
        if min(self.max_source_tokens, self.max_target_tokens, self.max_words) < 1:
            raise ModelFormatError("max_source_tokens, max_target_tokens, max_words must be >= 1")
        if self.max_candidates < 1:
            raise ModelFormatError("max_candidates must be >= 1")
        if not (1 <= self.slots <= MAX_SLOTS and 1 <= self.choices <= MAX_CHOICES):
            raise ModelFormatError(
                f"slots must lie in [1, {MAX_SLOTS}] and choices in [1, {MAX_CHOICES}]"
            )


def save_settings(settings: ModelSettings, model_dir: str | Path) -> Path:
    settings.validate()
    path = Path(model_dir) / SETTINGS_FILE
    path.write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n", encoding="utf-8")
    return path


def load_settings(model_dir: str | Path) -> ModelSettings:
    """Read ``restore.json``; refuses unknown keys and format versions newer than this code."""
    path = Path(model_dir) / SETTINGS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelFormatError(f"{model_dir} is not a restore model: no {SETTINGS_FILE}") from err
    except (OSError, ValueError) as err:
        raise ModelFormatError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path} must hold a JSON object")
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFormatError(f"{path}: format_version must be a positive integer")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has format version {version}, but this restore reads up to version "
            f"{FORMAT_VERSION}: upgrade restore to load this model"
        )
    try:
        guard = GuardSettings(**data.pop("guard", {}))
        rule = data.pop("edit_rule", None)
        rule = edit_rule_from_dict(rule) if rule is not None else None
        choice = data.pop("choice_rule", None)
        choice = ChoiceRule.from_dict(choice) if choice is not None else None
        settings = ModelSettings(**data, guard=guard, edit_rule=rule, choice_rule=choice)
    except TypeError as err:
        raise ModelFormatError(f"{path}: {err}") from err
    settings.validate()
    return settings

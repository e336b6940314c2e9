"""The settings file that pins a model directory's input and output format.

``restore.json`` holds what inference must do as training did. Its top level is what every
format shares (the format's name, segmentation, source length, the guard's thresholds, library
versions); the format's own settings live in a section named after the format, read and written
by the format's settings class (a :class:`FormatSettings`). This module knows no format: the
caller says which settings class a format name has (``restore.formats.load_settings`` asks the
format registry). Training writes the file with :func:`save_settings`.

Format versions: 3 moved each format's settings into its own section; files of versions 1 and 2
(one flat object) still load, each format keeping the flat keys it knows. A file of a newer
version is refused with a request to upgrade restore.

>>> from restore.formats.seq2seq import Seq2SeqSettings
>>> s = ModelSettings(target_format="edits", options=Seq2SeqSettings(prefix="p: "))
>>> settings_dict(s)["edits"]
{'prefix': 'p: ', 'max_target_tokens': 128}
>>> try:
...     ModelSettings(segmentation="words").validate()
... except ModelFormatError as err:
...     print(err)
segmentation must be 'passage' or 'sentence'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from restore.errors import ModelFormatError

__all__ = [
    "FORMAT_VERSION",
    "SETTINGS_FILE",
    "FormatSettings",
    "GuardSettings",
    "ModelFormatError",
    "ModelSettings",
    "read_settings",
    "save_settings",
    "settings_dict",
]

FORMAT_VERSION = 3  # 2 added the "choices" and "tags" formats; 3 gave each format a section
SETTINGS_FILE = "restore.json"
# Keys every format shares, at the top level of the file.
_COMMON = ("format_version", "target_format", "max_source_tokens", "segmentation", "max_words")
# Keys that formats kept at the top level before version 3.
_FLAT_FORMAT_KEYS = frozenset(
    "prefix max_target_tokens slots choices max_candidates choice_rule edit_rule".split()
)


@dataclass(frozen=True)
class GuardSettings:
    """When a restored unit is not trusted and its input is kept instead."""

    min_confidence: float = 0.0  # mean token probability of the output, 0 disables
    min_edit_confidence: float = 0.0  # an edit less sure than this is not made, 0 disables
    max_length_ratio: float = 1.5  # restored/input word count outside [1/r, r] is rejected
    keep_numbers: bool = True  # a changed or dropped number rejects the unit
    keep_names: bool = True  # a changed mid-sentence capitalised word rejects the unit
    min_suggestion_confidence: float = 0.3  # an edit not made but this sure is suggested


@dataclass(frozen=True)
class FormatSettings:
    """A format's own settings, its section of ``restore.json``: subclasses add fields (and
    their checks in :meth:`validate`; fields that are objects read themselves in
    :meth:`from_dict`)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormatSettings:
        try:
            return cls(**data)
        except TypeError as err:
            raise ModelFormatError(f"{cls.__name__}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ModelFormatError naming the first bad field."""


@dataclass(frozen=True)
class ModelSettings:
    """The contents of ``restore.json``: everything inference must do as training did."""

    target_format: str = "text"
    # The format's own settings (its class's defaults when None).
    options: FormatSettings | None = None
    max_source_tokens: int = 128  # in the model's tokens (a tagger counts word pieces)
    segmentation: str = "passage"  # restore.text.segment's ``by``
    max_words: int = 48  # restore.text.segment's ``max_words``
    guard: GuardSettings = dataclasses.field(default_factory=GuardSettings)
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def with_options(self, **changes: Any) -> ModelSettings:
        """A copy whose format settings have ``changes``."""
        return dataclasses.replace(self, options=dataclasses.replace(self.options, **changes))

    def validate(self) -> None:
        if self.segmentation not in ("passage", "sentence"):
            raise ModelFormatError("segmentation must be 'passage' or 'sentence'")
        if min(self.max_source_tokens, self.max_words) < 1:
            raise ModelFormatError("max_source_tokens and max_words must be >= 1")
        if self.options is not None:
            self.options.validate()


def settings_dict(settings: ModelSettings) -> dict[str, Any]:
    """The JSON object of ``restore.json`` (the current format version)."""
    data = {k: getattr(settings, k) for k in _COMMON}
    data["format_version"] = FORMAT_VERSION
    options = settings.options.to_dict() if settings.options is not None else {}
    return {
        **data,
        settings.target_format: options,
        "guard": dataclasses.asdict(settings.guard),
        "versions": dict(settings.versions),
    }


def save_settings(settings: ModelSettings, model_dir: str | Path) -> Path:
    settings.validate()
    path = Path(model_dir) / SETTINGS_FILE
    path.write_text(json.dumps(settings_dict(settings), indent=2) + "\n", encoding="utf-8")
    return path


def read_settings(
    model_dir: str | Path, options_class: Callable[[str], type[FormatSettings]]
) -> ModelSettings:
    """Read ``restore.json``, the format's section with ``options_class(target_format)``.

    Refuses unknown keys and format versions newer than this code.
    """
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
    name = data.get("target_format", ModelSettings.target_format)
    cls = options_class(name)
    if version < 3:
        wanted = {f.name for f in dataclasses.fields(cls)}
        flat = {k: data.pop(k) for k in _FLAT_FORMAT_KEYS & set(data)}
        section = {k: v for k, v in flat.items() if k in wanted}
    else:
        section = data.pop(name, {})
        if not isinstance(section, dict):
            raise ModelFormatError(f"{path}: {name!r} must hold an object")
    try:
        guard = GuardSettings(**data.pop("guard", {}))
        settings = ModelSettings(**data, options=cls.from_dict(section), guard=guard)
    except TypeError as err:
        raise ModelFormatError(f"{path}: {err}") from err
    settings.validate()
    return settings

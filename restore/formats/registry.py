"""Formats by name: ``@register("name")`` on a :class:`restore.formats.base.Format` subclass.

Every module of the ``restore.formats`` package is imported the first time a format is looked
up, so a new format is one new file here (plus its tests); another package can register its
own with :func:`register` before loading a model that names it.

>>> get_format("edits").marks
('⇒', '‖')
>>> "tags" in format_names()
True
>>> from restore.loading import resolve_model
>>> load_settings(resolve_model("default")).options.max_candidates
128
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from restore.errors import ModelFormatError
from restore.settings import FormatSettings, ModelSettings, read_settings

# Name -> subclass of restore.formats.base.Format (not imported here: the format modules import
# this one).
_FORMATS: dict[str, type] = {}
_discovered = False


def register(name: str):
    """Class decorator: make a Format subclass loadable as ``target_format: name``."""

    def add(cls: type) -> type:
        if _FORMATS.get(name, cls) is not cls:
            raise ValueError(f"format {name!r} is already registered by {_FORMATS[name]!r}")
        cls.name = name
        _FORMATS[name] = cls
        return cls

    return add


def get_format(name: str) -> type:
    """The format class registered as ``name``; raises ModelFormatError for an unknown name."""
    _discover()
    try:
        return _FORMATS[name]
    except KeyError:
        raise ModelFormatError(
            f"target_format must be one of {list(format_names())}, got {name!r}"
        ) from None


def format_names() -> tuple[str, ...]:
    """The registered format names, sorted."""
    _discover()
    return tuple(sorted(_FORMATS))


def load_settings(model_dir: str | Path) -> ModelSettings:
    """Read a model directory's ``restore.json``, its format's section with the format's own
    settings class; raises ModelFormatError for an unknown format or malformed settings."""
    return read_settings(model_dir, settings_class)


def settings_class(name: str) -> type[FormatSettings]:
    """The settings class of the format registered as ``name``."""
    return get_format(name).settings_class


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("restore.formats")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"restore.formats.{info.name}")

"""Formats by name: ``@register("name")`` on a :class:`restore.formats.base.Format` subclass.

Every module of the ``restore.formats`` package is imported the first time a format is looked
up, so a new format is one new file here (plus its tests); another package can register its
own with :func:`register` before loading a model that names it.

>>> get_format("edits").marks
('⇒', '‖')
>>> "tags" in format_names()
True
"""

from __future__ import annotations

import importlib
import pkgutil

from restore.errors import ModelFormatError

# Name -> subclass of restore.formats.base.Format (not imported here: the format modules import
# this one, and restore.format's settings check names through it).
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


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("restore.formats")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"restore.formats.{info.name}")

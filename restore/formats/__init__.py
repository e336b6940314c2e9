"""Target formats: how a unit of text becomes a model input, and a model output becomes text.

One class per format (:class:`restore.formats.base.Format`), each in its own module of this
package and registered by name (:mod:`restore.formats.registry`); ``restore.json`` names the
format of a model directory. A format owns its marks, its source encoding, its target making
and applying, which kind of backend runs it, and the labels and collation training needs.
"""

from __future__ import annotations

from restore.formats.registry import format_names, get_format, load_settings, register

__all__ = ["format_names", "get_format", "load_settings", "register"]

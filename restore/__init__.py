"""restore: undo article spinning.

>>> from restore import Restorer
>>> restorer = Restorer.from_pretrained("default")
>>> restorer.restore(
...     "The minister enumerated newspapermen that the rumbles would continue next week."
... )
'The minister told reporters that the talks would continue next week.'

Importing the package defines names only: the Restorer and the heavy libraries behind it
(torch, transformers, ctranslate2) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "Alternative",
    "BackendError",
    "Edit",
    "GuardSettings",
    "InputError",
    "ModelNotFoundError",
    "RestoreError",
    "Restoration",
    "Restorer",
    "UnitReport",
]

_LAZY = {
    "Restorer": "restore.restorer",
    "Restoration": "restore.restorer",
    "Alternative": "restore.restorer",
    "Edit": "restore.restorer",
    "UnitReport": "restore.restorer",
    "GuardSettings": "restore.settings",
    "RestoreError": "restore.errors",
    "ModelNotFoundError": "restore.errors",
    "BackendError": "restore.errors",
    "InputError": "restore.errors",
}

if TYPE_CHECKING:
    from restore.errors import BackendError, InputError, ModelNotFoundError, RestoreError
    from restore.restorer import Alternative, Edit, Restoration, Restorer, UnitReport
    from restore.settings import GuardSettings


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

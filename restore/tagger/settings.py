"""The tagger's section of ``restore.json`` (``"tagger": {...}``).

>>> TaggerSettings.from_dict({"max_candidates": 32}).max_candidates
32
>>> sorted(TaggerSettings().to_dict().items())[:3]
[('choice_rule', None), ('edit_rule', None), ('max_candidates', 64)]
>>> TaggerSettings().to_dict()["trained_candidates"] is None
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from restore.errors import ModelFormatError
from restore.settings import FormatSettings
from restore.tagger.choice_rule import ChoiceRule
from restore.tagger.edit_rule import EditRule, EditTrees, edit_rule_from_dict


@dataclass(frozen=True)
class TaggerSettings(FormatSettings):
    """How a tagger model proposes and weighs its edits."""

    max_candidates: int = 64  # candidate originals scored per site
    # How many candidates the network was trained on: a site's count of candidates and each
    # one's rank are features scaled by it. A model may then score more candidates than it was
    # trained on (a table with longer entries) without moving the features of the first ones.
    # None: max_candidates.
    trained_candidates: int | None = None
    # The learned choice among a site's candidates (restore.tagger.choice_rule); None keeps
    # the network's.
    choice_rule: ChoiceRule | None = None
    # The learned confidence of an edit (restore.tagger.edit_rule); None keeps the model's own,
    # P(spun) x P(original | spun).
    edit_rule: EditRule | EditTrees | None = None
    # Sites at least this sure (P(spun) x P(original | spun)) are put back first, and the
    # others' count evidence recomputed with them as context (restore.tagger.engine); None
    # scores every site in the spun context only.
    refine_above: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaggerSettings:
        data = dict(data)
        choice = data.pop("choice_rule", None)
        rule = data.pop("edit_rule", None)
        try:
            return cls(
                **data,
                choice_rule=ChoiceRule.from_dict(choice) if choice is not None else None,
                edit_rule=edit_rule_from_dict(rule) if rule is not None else None,
            )
        except TypeError as err:
            raise ModelFormatError(f"tagger settings: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_candidates": self.max_candidates,
            "trained_candidates": self.trained_candidates,
            "choice_rule": _asdict(self.choice_rule),
            "edit_rule": _asdict(self.edit_rule),
            "refine_above": self.refine_above,
        }

    def validate(self) -> None:
        if self.max_candidates < 1:
            raise ModelFormatError("max_candidates must be >= 1")
        if self.trained_candidates is not None and self.trained_candidates < 1:
            raise ModelFormatError("trained_candidates must be >= 1")
        if self.refine_above is not None and not 0.0 < self.refine_above <= 1.0:
            raise ModelFormatError("refine_above must lie in (0, 1]")


def _asdict(rule) -> dict[str, Any] | None:
    return None if rule is None else dataclasses.asdict(rule)

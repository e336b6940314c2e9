"""The ``text`` format: the target is the whole original unit.

>>> from restore.formats.seq2seq import Seq2SeqSettings
>>> from restore.settings import ModelSettings
>>> settings = ModelSettings(target_format="text", options=Seq2SeqSettings(prefix="restore: "))
>>> text = TextFormat(settings)
>>> text.encode_source("  He  ejects the crowd. ")
'restore: He ejects the crowd.'
>>> text.apply_target("He ejects the crowd.", "He greets the crowd.").text
'He greets the crowd.'
"""

from __future__ import annotations

from collections.abc import Sequence

from restore.align import Change
from restore.formats.registry import register
from restore.formats.seq2seq import Applied, Region, Seq2SeqFormat
from restore.text import normalize


@register("text")
class TextFormat(Seq2SeqFormat):
    """The model writes the restored unit in full."""

    def make_target(self, spun: str, original: str) -> str:
        return normalize(original)

    def apply_target(self, source: str, target: str) -> Applied:
        return Applied(target)

    def output_regions(
        self, changes: Sequence[Change], applied: Applied, size: int
    ) -> list[Region]:
        # The restored text is the output: each change's own span (a deletion: the token that
        # follows it, which the model wrote instead of the deleted words).
        regions = []
        for change in changes:
            end = change.r_end if change.r_end > change.r_start else change.r_start + 1
            regions.append([(change.r_start, min(end, size + 1))])
        return regions

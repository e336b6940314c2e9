"""The inference protocol every format implements.

A format is bound to a model's settings (and candidate table, if it uses one) and tells the
Restorer how to run its model: which kind of backend runs it (``runtime``, a protocol of
:mod:`restore.backends`), how to load that backend, what the model input of a unit is, how to
run a batch, and how to read one unit's output back as restored text (a :class:`Reading`).
Formats whose model generates a target token by token share :class:`restore.formats.seq2seq.
Seq2SeqFormat`; training-only hooks (label columns, collators) live in ``training.format_hooks``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from restore.align import Change
from restore.candidates import CANDIDATES_FILE, CandidateTable
from restore.errors import ModelFormatError
from restore.settings import FormatSettings, ModelSettings
from restore.text import Unit


@dataclass(frozen=True)
class Reading:
    """What a unit's model output says: the restored (normalised) unit, the model's overall
    confidence, whether it finished, how many target items could not be placed, the words it
    judged (``(start, end, probability)`` in the unit), and each change's confidence.

    ``suggestions`` are the withheld proposals that can be placed in the unit as written:
    ``(start, end, restored, confidence)``; none of them is applied in ``text``.
    ``alternatives`` holds, by ``(start, end)`` in the unit as written, the other originals a
    proposal there names, ``(restored, confidence)``, for the edit or suggestion at that span."""

    text: str
    confidence: float
    edit_confidence: Callable[[Sequence[Change]], list[float]]
    finished: bool = True
    failed_items: int = 0
    word_spin: tuple[tuple[int, int, float], ...] = ()
    withheld: int = 0  # proposals the format left out as less sure than the guard's threshold
    suggestions: tuple[tuple[int, int, str, float], ...] = ()
    alternatives: Mapping[tuple[int, int], tuple[tuple[str, float], ...]] = field(
        default_factory=dict
    )


class Format(ABC):
    """One format, bound to a model's settings (and candidate table, if it uses one).

    Subclasses register with ``@register("name")`` (:mod:`restore.formats.registry`) and name
    their settings class, the section of ``restore.json`` they read.
    """

    name: ClassVar[str] = ""
    runtime: ClassVar[type]  # the backend protocol that runs it
    settings_class: ClassVar[type[FormatSettings]] = FormatSettings
    uses_candidates: ClassVar[bool] = False  # reads candidates.json.gz from the model dir
    card_note: ClassVar[str] = ""  # what the model card says of the format
    detects: ClassVar[bool] = False  # its outputs say which words a spinner wrote
    weighs_documents: ClassVar[bool] = False  # weigh_document looks at a document's outputs

    def __init__(self, settings: ModelSettings, candidates: CandidateTable | None = None):
        if self.uses_candidates and candidates is None:
            raise ModelFormatError(f"the {self.name} format needs a candidate table")
        self.settings = settings
        self.options = settings.options if settings.options is not None else self.settings_class()
        if not isinstance(self.options, self.settings_class):
            raise ModelFormatError(
                f"the {self.name} format reads {self.settings_class.__name__}, "
                f"not {type(self.options).__name__}"
            )
        self.candidates = candidates

    @classmethod
    def load(cls, model_dir: str | Path, settings: ModelSettings) -> Format:
        """The format of the model in ``model_dir``, with its candidate table if it uses one."""
        if not cls.uses_candidates:
            return cls(settings)
        path = Path(model_dir) / CANDIDATES_FILE
        try:
            return cls(settings, CandidateTable.load(path))
        except FileNotFoundError as err:
            raise ModelFormatError(
                f"{model_dir} uses the {cls.name} format but has no {path.name}"
            ) from err
        except (OSError, ValueError) as err:
            raise ModelFormatError(f"cannot read {path}: {err}") from err

    @classmethod
    def runs_on(cls, backend_class: type) -> bool:
        """Whether instances of ``backend_class`` can run this format."""
        return issubclass(backend_class, cls.runtime)

    @abstractmethod
    def load_runtime(self, model_dir: Path, backend: str, threads: int | None) -> tuple[Any, Any]:
        """The backend that runs this format (a class of ``backend`` satisfying ``runtime``)
        and the tokenizer the Restorer measures units with."""

    @abstractmethod
    def model_input(self, tokenizer, unit: Unit) -> tuple[Any, int] | None:
        """The model input of one unit and its length in the model's tokens; None when the
        unit cannot be represented (it is then kept as written)."""

    @abstractmethod
    def run(self, runtime: Any, batch: Sequence[Any], encoder: Any) -> list[Any]:
        """The model's output for each model input of ``batch``, in order (``encoder`` made the
        inputs: :meth:`load_runtime`'s second value)."""

    def weigh_document(self, outputs: list[Any]) -> list[Any]:
        """The outputs of one document's units, in order, before each is read: a format whose
        decisions depend on the whole document adjusts them here."""
        return outputs

    @abstractmethod
    def read(
        self, unit: Unit, output: Any, tokenizer, attribution, min_confidence: float = 0.0
    ) -> Reading:
        """The restoration one unit's output gives. The guard withholds changes less sure than
        ``min_confidence`` afterwards; a format whose proposals are independent may leave them
        out here instead."""

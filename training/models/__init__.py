"""Model families: each is one module behind one ``build_*`` function, with its tokenizer.

``train.init`` picks the family: ``"scratch"`` builds a T5 sized by ``train.model`` over our
own tokenizer (:mod:`training.models.t5_scratch`); anything else names a pretrained seq2seq
checkpoint, fine-tuned with the checkpoint's tokenizer (:mod:`training.models.pretrained`).
A new family is a new module with a ``Family`` and one line in :data:`FAMILIES`.
"""

from __future__ import annotations

from pathlib import Path

from restore.formats import get_format
from training.config import ExperimentConfig
from training.errors import TrainingError
from training.models import pretrained, t5_scratch
from training.models.family import Family

FAMILIES: tuple[Family, ...] = (t5_scratch.FAMILY, pretrained.FAMILY)


def family_of(config: ExperimentConfig) -> Family:
    """The first family that claims the experiment (``Family.claims``)."""
    for family in FAMILIES:
        if family.claims(config):
            return family
    raise TrainingError(f"no model family builds train.init={config.train.init!r}")


def load_tokenizer_for(config: ExperimentConfig, output_dir: Path):
    """The family's tokenizer, checked to keep every mark of the target format one token."""
    family = family_of(config)
    tokenizer = family.load_tokenizer(config, output_dir)
    marks = get_format(config.train.target_format).marks
    if marks:
        pieces = tokenizer.convert_ids_to_tokens(tokenizer(" ".join(marks)).input_ids)
        missing = [t for t in marks if t not in pieces]
        if missing and not family.adds_tokens:
            raise TrainingError(
                f"the tokenizer splits the format marks {missing}: include them in "
                f"tokenizer.extra_tokens (the default) and rerun training.tokenizer"
            )
        if missing:
            tokenizer.add_tokens(missing)
    return tokenizer


def build_model(config: ExperimentConfig, tokenizer):
    """The family's model for this experiment, initialised from ``config.seed``."""
    import torch

    torch.manual_seed(config.seed)
    return family_of(config).build(config, tokenizer)

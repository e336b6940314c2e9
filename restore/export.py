"""Export a model directory to CTranslate2 (int8 by default) for the fast CPU backend.

The export directory holds CTranslate2's ``model.bin``, ``config.json`` and
``shared_vocabulary.json``, plus copies of the model's tokenizer, ``restore.json`` and
``generation_config.json``, so it loads on its own:
``Restorer.from_pretrained(out_dir, backend="ctranslate2")``. Exporting into
``MODEL_DIR/ctranslate2`` lets the model directory itself load with that backend.

Only formats that a :class:`restore.backends.Generator` runs can be exported; a format read in
one forward pass (a SlotTagger's) is refused. For example::

    export_ctranslate2("runs/tiny/model", "runs/tiny/model/ctranslate2")  # -> that path
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from restore.backends import CTranslate2Generator
from restore.candidates import CANDIDATES_FILE
from restore.errors import BackendError, ModelNotFoundError
from restore.formats import get_format, load_settings
from restore.loading import GENERATION_FILE, TOKENIZER_FILE
from restore.settings import SETTINGS_FILE

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("int8", "int8_float32", "int16", "float32")
COPIED_FILES = (
    TOKENIZER_FILE,
    "tokenizer_config.json",
    "special_tokens_map.json",
    SETTINGS_FILE,
    GENERATION_FILE,
    CANDIDATES_FILE,
)
INFO_FILE = "export_info.json"


def export_ctranslate2(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    quantization: str = "int8",
    overwrite: bool = False,
) -> Path:
    """Convert the model in ``model_dir`` to CTranslate2 in ``out_dir`` and return ``out_dir``.

    Raises :class:`BackendError` when ctranslate2 is not installed or the conversion fails, and
    ``FileExistsError`` when ``out_dir`` exists and ``overwrite`` is false.
    """
    try:
        import ctranslate2
    except ImportError as err:
        raise BackendError("exporting needs ctranslate2: pip install 'unspin[ct2]'") from err
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    src, out = Path(model_dir), Path(out_dir)
    if not (src / "config.json").is_file():
        raise ModelNotFoundError(f"{src} holds no transformers model (no config.json)")
    settings = load_settings(src)  # refuse a directory that is not a restore model
    model_format = get_format(settings.target_format)
    if not model_format.runs_on(CTranslate2Generator):
        raise BackendError(
            f"{src} is a {model_format.name}-format model, which needs a "
            f"{model_format.runtime.__name__} backend: CTranslate2 only generates, so it has "
            "no export (use the torch or torch-int8 backend)"
        )
    # Without the tokenizer next to the weights, the converter silently writes a default
    # vocabulary.
    if not (src / TOKENIZER_FILE).is_file():
        raise ModelNotFoundError(f"{src} has no {TOKENIZER_FILE}: save the tokenizer there first")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")

    converter = _t5_converter_class()(str(src))
    try:
        converter.convert(str(out), quantization=quantization, force=True)
    except (ValueError, RuntimeError, NotImplementedError) as err:
        raise BackendError(f"CTranslate2 conversion of {src} failed: {err}") from err
    for name in COPIED_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    _check_vocabulary(out)
    info = {
        "source": str(src),
        "quantization": quantization,
        "ctranslate2": ctranslate2.__version__,
    }
    (out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    logger.info("exported %s to %s (%s)", src, out, quantization)
    return out


def _t5_converter_class():
    from ctranslate2.converters import TransformersConverter
    from ctranslate2.specs import model_spec

    class T5Converter(TransformersConverter):
        """Makes the decoder's output scaling follow the model's own config.

        CTranslate2's T5 loader scales decoder outputs by d_model**-0.5 whenever
        ``tie_word_embeddings`` is true, but transformers 5.x always reports it true and keeps
        the real switch in ``scale_decoder_outputs``. A model built without scaling would get
        wrong scores (greedy tokens survive, beam search and confidences do not).
        """

        def _load(self):
            from transformers import AutoConfig

            spec = super()._load()
            config = AutoConfig.from_pretrained(self._model_name_or_path)
            scale = getattr(config, "scale_decoder_outputs", None)
            if config.model_type == "t5" and scale is not None:
                spec.decoder.scale_outputs = config.d_model**-0.5 if scale else model_spec.OPTIONAL
            return spec

    return T5Converter


def _check_vocabulary(out: Path) -> None:
    """The exported vocabulary must list the tokenizer's pieces under the same ids."""
    from tokenizers import Tokenizer

    vocabulary = json.loads((out / "shared_vocabulary.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(out / TOKENIZER_FILE))
    for i in range(tokenizer.get_vocab_size()):
        if i >= len(vocabulary) or tokenizer.id_to_token(i) != vocabulary[i]:
            raise BackendError(
                f"the exported vocabulary disagrees with {TOKENIZER_FILE} at id {i}: "
                "was the tokenizer saved in the model directory before converting?"
            )

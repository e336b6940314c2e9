"""The tagger's backend: a model directory loaded for scoring whole units of text.

Unlike the token-id backends of :mod:`restore.backends`, a tagger reads text: it finds the
inverse thesaurus's words in each unit, scores their candidates with the trigram model it
ships, and runs its encoder once per batch. A model directory holds:

* ``config.json`` and ``model.safetensors``: the encoder and heads (:mod:`restore.tagger.model`);
* ``tokenizer.json``: the encoder's word-piece tokenizer;
* ``inverse.npz``: the inverse thesaurus (:mod:`restore.tagger.inverse`);
* ``ngram/``: the trigram counts (:mod:`restore.tagger.ngram`);
* ``context.npz``: the topic vectors (:mod:`restore.tagger.context`);
* ``restore.json``: the settings (the ``tagger`` section, :mod:`restore.tagger.settings`;
  ``max_source_tokens`` counts word pieces).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from restore.backends import register_backend
from restore.errors import BackendError
from restore.tagger.context import CONTEXT_FILE, ContextVectors
from restore.tagger.engine import TaggerEngine, UnitScores
from restore.tagger.input import UnitPieces
from restore.tagger.inverse import INVERSE_FILE, InverseTable
from restore.tagger.ngram import NgramError, load_ngram_model
from restore.tagger.settings import TaggerSettings

logger = logging.getLogger(__name__)

NGRAM_DIR = "ngram"


class TorchTaggerScorer:
    """Scores units with a tagger model on the CPU (float32, or dynamic int8 linear layers)."""

    def __init__(self, engine: TaggerEngine):
        self.engine = engine
        # Set to a dict, the encoder's scores are kept per unit text: a calibration restores the
        # same texts under many settings, and only the edit rule changes between them.
        self.cache: dict[str, UnitScores] | None = None

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        settings: TaggerSettings,
        *,
        threads: int | None = None,
        quantize: bool = False,
    ) -> TorchTaggerScorer:
        import torch
        from tokenizers import Tokenizer

        from restore.tagger.input import PieceEncoder
        from restore.tagger.model import load_tagger

        model_dir = Path(model_dir)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            model = load_tagger(model_dir)
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            table = InverseTable.load(model_dir / INVERSE_FILE)
            lm = load_ngram_model(model_dir / NGRAM_DIR)
            context = ContextVectors.load(model_dir / CONTEXT_FILE)
        except (OSError, ValueError, RuntimeError, NgramError) as err:
            raise BackendError(f"cannot load the tagger model in {model_dir}: {err}") from err
        tokenizer.no_truncation()
        tokenizer.no_padding()
        if quantize:
            model = _quantize(model)
        engine = TaggerEngine(
            model,
            PieceEncoder(tokenizer),
            table,
            lm,
            context=context,
            max_candidates=settings.max_candidates,
            trained_candidates=settings.trained_candidates,
            choice_rule=settings.choice_rule,
            refine_above=settings.refine_above,
        )
        return cls(engine)

    def score_units(self, units: Sequence[UnitPieces]) -> list[UnitScores]:
        """Word spin probabilities and the best proposal at every site, one per unit."""
        engine = self.engine
        if self.cache is None:
            return engine.score([engine.encode(u) for u in units])
        cache = self.cache
        missing = list({u.unit.normal: u for u in units if u.unit.normal not in cache}.values())
        scores = engine.score([engine.encode(u) for u in missing])
        cache.update(zip((u.unit.normal for u in missing), scores))
        return [cache[u.unit.normal] for u in units]


register_backend("torch", TorchTaggerScorer)
register_backend("torch-int8", TorchTaggerScorer, quantize=True)


def _quantize(model):
    import warnings

    import torch

    with warnings.catch_warnings():
        # The dynamic-quantisation API is deprecated but still the lightest CPU int8 path.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

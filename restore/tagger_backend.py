"""The tagger's backend: a model directory loaded for scoring whole units of text.

Unlike the token-id backends of :mod:`restore.backends`, a tagger reads text: it finds the
inverse thesaurus's words in each unit, scores their candidates with the trigram model it
ships, and runs its encoder once per batch. A model directory holds:

* ``config.json`` and ``model.safetensors``: the encoder and heads (:mod:`restore.tagger_model`);
* ``tokenizer.json``: the encoder's word-piece tokenizer;
* ``inverse.npz``: the inverse thesaurus (:mod:`restore.inverse`);
* ``ngram/``: the trigram counts (:mod:`restore.ngram`);
* ``context.npz``: the topic vectors (:mod:`restore.context`);
* ``restore.json``: the settings (``max_candidates``; ``max_source_tokens`` counts word pieces).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from restore.backends import register_backend
from restore.context import CONTEXT_FILE, ContextVectors
from restore.errors import BackendError
from restore.format import ModelSettings
from restore.inverse import INVERSE_FILE, InverseTable
from restore.ngram import NgramError, load_ngram_model
from restore.tagger_engine import TaggerEngine, UnitScores

logger = logging.getLogger(__name__)

NGRAM_DIR = "ngram"


class TorchTaggerScorer:
    """Scores units with a tagger model on the CPU (float32, or dynamic int8 linear layers)."""

    def __init__(self, engine: TaggerEngine):
        self.engine = engine
        self.tokenizer = engine.pieces.tokenizer
        # Set to a dict, the encoder's scores are kept per unit text: a calibration restores the
        # same texts under many settings, and only the edit rule changes between them.
        self.cache: dict[str, UnitScores] | None = None

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        settings: ModelSettings,
        *,
        threads: int | None = None,
        quantize: bool = False,
    ) -> TorchTaggerScorer:
        import torch
        from tokenizers import Tokenizer

        from restore.tagger_batch import PieceEncoder
        from restore.tagger_model import load_tagger

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
            choice_rule=settings.choice_rule,
        )
        return cls(engine)

    def score_units(self, sources: Sequence[str]) -> list[UnitScores]:
        """Word spin probabilities and the best proposal at every site, one per source."""
        if self.cache is None:
            return self.engine.score([self.engine.encode(s) for s in sources])
        missing = list(dict.fromkeys(s for s in sources if s not in self.cache))
        self.cache.update(zip(missing, self.engine.score([self.engine.encode(s) for s in missing])))
        return [self.cache[s] for s in sources]


register_backend("torch", TorchTaggerScorer)
register_backend("torch-int8", TorchTaggerScorer, quantize=True)


def _quantize(model):
    import warnings

    import torch

    with warnings.catch_warnings():
        # The dynamic-quantisation API is deprecated but still the lightest CPU int8 path.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

"""Backends: the one seam between the Restorer and a model runtime, by capability.

A backend turns a batch of source token-id lists (each ending with the end token) into one
:class:`Generation` per source, in order: the output ids, the log-probability of each, and
whether the end token was reached. What it can do is declared by the protocols it satisfies,
kept apart as CTranslate2 keeps its Translator and Encoder apart:

* :class:`Generator`: ``generate`` writes an output token by token;
* :class:`SlotTagger`: ``tag`` reads the source in one forward pass and picks a choice at each slot
  mark.

A format names the protocol that runs it (``Format.runtime``), and :func:`build_backend` picks,
among the classes registered under a backend name, one that satisfies it, or refuses. Names:

* ``"torch"``: transformers in float32 (a Generator and a SlotTagger);
* ``"torch-int8"``: the same with torch's dynamic int8 quantisation of the Linear layers;
* ``"ctranslate2"``: a CTranslate2 export of the model (``restore export-ct2``), int8 by default
  (a Generator only).

Tests and other runtimes can pass any object that satisfies the format's protocol to
:class:`restore.Restorer`.

>>> backend_class("ctranslate2", SlotTagger) is None
True
>>> backend_class("torch", SlotTagger).__name__
'TorchGenerator'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from restore.errors import BackendError, ModelNotFoundError
from restore.loading import CT2_SUBDIR, DecodingSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    """One model output: ids without the start and end tokens, and their log-probabilities.

    ``log_probs`` has one entry per id in ``token_ids``, plus one for the end token when
    ``finished`` (the model ended the output itself rather than hitting ``max_new_tokens``).
    ``spin_probs`` (tags format only) holds, for each slot mark of the source in order, the
    probability that the slot's words were put there by a spinner: 1 - P(keep) among the
    choices. Detection (``restore.detection``) reads it.
    """

    token_ids: tuple[int, ...]
    log_probs: tuple[float, ...]
    finished: bool
    spin_probs: tuple[float, ...] = ()


@runtime_checkable
class Generator(Protocol):
    """A backend that writes each output token by token."""

    def generate(self, batch: Sequence[Sequence[int]]) -> list[Generation]: ...


@runtime_checkable
class SlotTagger(Protocol):
    """A backend that reads each source in one forward pass and, at every position holding one
    of ``slot_ids``, picks the likeliest of ``choice_ids``: the output is ``slot, choice`` per
    slot mark, the mark scored 0 and the choice by its log-probability among ``choice_ids``."""

    def tag(
        self, batch: Sequence[Sequence[int]], slot_ids: Sequence[int], choice_ids: Sequence[int]
    ) -> list[Generation]: ...


@runtime_checkable
class UnitScorer(Protocol):
    """A backend that reads whole prepared units, not token ids (the tagger family,
    :mod:`restore.tagger.backend`): ``score_units`` gives each unit's word spin probabilities
    and proposals (:class:`restore.tagger.engine.UnitScores`)."""

    def score_units(self, units: Sequence[Any]) -> list: ...


def default_threads() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Backend name -> the classes that answer to it, each with the options its ``load`` takes.
_BACKENDS: dict[str, list[tuple[type, dict[str, Any]]]] = {}


def register_backend(name: str, cls: type, **options: Any) -> None:
    """Make ``cls.load(model_dir, decoding, threads=..., **options)`` answer to ``name``."""
    _BACKENDS.setdefault(name, []).append((cls, options))


def backend_names() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def backend_class(backend: str, runtime: type = Generator) -> type | None:
    """The first class registered as ``backend`` that satisfies ``runtime``, or None."""
    if backend not in _BACKENDS:
        raise BackendError(
            f"unknown backend {backend!r}; choose one of {', '.join(backend_names())}"
        )
    return next((cls for cls, _ in _BACKENDS[backend] if issubclass(cls, runtime)), None)


def build_backend(
    backend: str,
    model_dir: Path,
    decoding: DecodingSettings,
    *,
    runtime: type = Generator,
    threads: int | None = None,
):
    """Load the model in ``model_dir`` with a class of ``backend`` that satisfies ``runtime``.

    ``decoding`` is what the class's ``load`` reads besides the folder: the decoding settings
    for token backends, the format's settings for unit scorers.

    Raises BackendError for an unknown backend, and for one with no class of that kind.
    """
    cls = backend_class(backend, runtime)
    if cls is None:
        able = [name for name in backend_names() if backend_class(name, runtime) is not None]
        raise BackendError(
            f"the {backend} backend has no {runtime.__name__} ({model_dir} needs one): "
            f"use one of {', '.join(able)}"
        )
    options = next(o for c, o in _BACKENDS[backend] if c is cls)
    return cls.load(model_dir, decoding, threads=threads, **options)


class TorchGenerator:
    """transformers ``generate`` on CPU, with per-token scores from the generation itself."""

    def __init__(self, model, decoding: DecodingSettings, *, generation_config=None):
        import torch

        self._torch = torch
        self.model = model.eval()
        self.decoding = decoding
        self.config = generation_config or _generation_config(None, decoding)
        # generate() fills unset fields from the model's own config: make it the same one.
        self.model.generation_config = self.config

    @classmethod
    def load(
        cls,
        model_dir: Path,
        decoding: DecodingSettings,
        *,
        quantize: bool = False,
        threads: int | None = None,
    ) -> TorchGenerator:
        import torch
        from transformers import AutoModelForSeq2SeqLM

        if threads:
            torch.set_num_threads(threads)
        if (model_dir / "model.bin").is_file():
            raise BackendError(f"{model_dir} is a CTranslate2 export: use backend='ctranslate2'")
        if not (model_dir / "config.json").is_file():
            raise ModelNotFoundError(f"{model_dir} holds no transformers model (no config.json)")
        from safetensors import SafetensorError

        try:
            # Weights may be stored in float16; CPU inference runs in float32.
            with _quiet_loading():
                model = AutoModelForSeq2SeqLM.from_pretrained(
                    model_dir, use_safetensors=True, dtype=torch.float32, trust_remote_code=False
                )
        except (OSError, ValueError) as err:
            raise ModelNotFoundError(f"cannot load the model in {model_dir}: {err}") from err
        except SafetensorError as err:
            raise BackendError(f"the weights in {model_dir} are corrupt: {err}") from err
        if quantize:
            model = _quantize_dynamic(model)
        return cls(model, decoding, generation_config=_generation_config(model_dir, decoding))

    def generate(self, batch: Sequence[Sequence[int]]) -> list[Generation]:
        torch = self._torch
        if not batch:
            return []
        input_ids, mask = self._pad(batch)
        beams = self.config.num_beams > 1
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=mask, generation_config=self.config
            )
            # Greedy search returns raw logits per step; beam search returns log-probabilities
            # already, with the beam each row came from.
            scores = self.model.compute_transition_scores(
                out.sequences,
                out.scores,
                out.beam_indices if beams else None,
                normalize_logits=not beams,
            )
        sequences = out.sequences[:, 1:].tolist()  # drop the decoder start token
        return [
            _cut(ids, row_scores, self.decoding.eos_token_id)
            for ids, row_scores in zip(sequences, scores.tolist())
        ]

    def tag(
        self, batch: Sequence[Sequence[int]], slot_ids: Sequence[int], choice_ids: Sequence[int]
    ) -> list[Generation]:
        """The tags format's output for each source: ``slot, choice`` for every slot mark.

        The decoder reads the source itself; at each slot mark the choice is the most likely
        of ``choice_ids``, with its log-probability among them (the mark's own is 0).
        """
        torch = self._torch
        if not batch:
            return []
        input_ids, mask = self._pad(batch)
        with torch.inference_mode():
            logits = self.model(
                input_ids=input_ids, attention_mask=mask, decoder_input_ids=input_ids
            ).logits
        choices = torch.tensor(list(choice_ids), dtype=torch.long)
        log_probs = torch.log_softmax(logits[..., choices].float(), dim=-1)
        best_log_probs, best = log_probs.max(dim=-1)
        spun = 1.0 - log_probs[..., 0].exp()  # choice 0 keeps the word
        slots = set(slot_ids)
        generations = []
        for row, ids in enumerate(batch):
            tokens: list[int] = []
            scores: list[float] = []
            spin: list[float] = []
            for pos, token in enumerate(ids):
                if token in slots:
                    tokens += [token, choice_ids[int(best[row, pos])]]
                    scores += [0.0, float(best_log_probs[row, pos])]
                    spin.append(float(spun[row, pos]))
            generations.append(Generation(tuple(tokens), tuple(scores + [0.0]), True, tuple(spin)))
        return generations

    def _pad(self, batch: Sequence[Sequence[int]]):
        torch = self._torch
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), self.decoding.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        return input_ids, mask


class CTranslate2Generator:
    """A CTranslate2 ``Translator`` over an export made by ``restore export-ct2``."""

    def __init__(self, translator, vocabulary: list[str], decoding: DecodingSettings):
        self.translator = translator
        self.vocabulary = vocabulary
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.decoding = decoding
        self.end_token = vocabulary[decoding.eos_token_id]

    @classmethod
    def load(
        cls, model_dir: Path, decoding: DecodingSettings, *, threads: int | None = None
    ) -> CTranslate2Generator:
        try:
            import ctranslate2
        except ImportError as err:
            raise BackendError(
                "the ctranslate2 backend needs the ctranslate2 package: pip install 'unspin[ct2]'"
            ) from err
        ct2_dir = find_ctranslate2_dir(model_dir)
        vocabulary = json.loads((ct2_dir / "shared_vocabulary.json").read_text(encoding="utf-8"))
        translator = ctranslate2.Translator(
            str(ct2_dir),
            device="cpu",
            compute_type="default",  # the quantisation chosen at export
            intra_threads=threads or default_threads(),
            inter_threads=1,
        )
        return cls(translator, vocabulary, decoding)

    def generate(self, batch: Sequence[Sequence[int]]) -> list[Generation]:
        if not batch:
            return []
        d = self.decoding
        source = [[self.vocabulary[i] for i in ids] for ids in batch]
        steps: dict[tuple[int, int], float] = {}

        def record(step) -> bool:
            steps[step.batch_id, step.step] = step.log_prob
            return False

        results = self.translator.translate_batch(
            source,
            beam_size=d.num_beams,
            length_penalty=d.length_penalty,
            repetition_penalty=d.repetition_penalty,
            no_repeat_ngram_size=d.no_repeat_ngram_size,
            max_decoding_length=d.max_new_tokens,
            # CTranslate2 forbids an empty output by default; transformers (and the edits
            # format, where empty means "nothing to change") allow it.
            min_decoding_length=d.min_new_tokens,
            max_input_length=0,  # the Restorer already keeps sources within the model's limit
            return_end_token=True,
            return_scores=True,  # needed for the callback's log_prob
            # Per-step log-probabilities come through the callback, which only greedy search
            # calls; beam outputs are scored in a second, teacher-forced pass.
            callback=record if d.num_beams == 1 else None,
        )
        hypotheses = [r.hypotheses[0] for r in results]
        if d.num_beams == 1:
            log_probs = [
                [steps[row, step] for step in range(len(hyp))] for row, hyp in enumerate(hypotheses)
            ]
        else:
            log_probs = self._score(source, hypotheses)
        generations = []
        for hyp, row_scores in zip(hypotheses, log_probs):
            ids = [self.ids[token] for token in hyp]
            generations.append(_cut(ids, row_scores, d.eos_token_id))
        return generations

    def _score(self, source: list[list[str]], hypotheses: list[list[str]]) -> list[list[float]]:
        targets = [hyp[:-1] if hyp and hyp[-1] == self.end_token else hyp for hyp in hypotheses]
        scored = self.translator.score_batch(source, targets, max_input_length=0)
        # score_batch appends the end token's log-probability; keep it only for finished rows.
        return [
            list(s.log_probs) if len(t) < len(h) else list(s.log_probs)[: len(t)]
            for s, t, h in zip(scored, targets, hypotheses)
        ]


def find_ctranslate2_dir(model_dir: Path) -> Path:
    """``model_dir`` itself if it is a CTranslate2 export, else its ``ctranslate2/`` export."""
    for candidate in (model_dir, model_dir / CT2_SUBDIR):
        if (candidate / "model.bin").is_file():
            return candidate
    raise BackendError(
        f"{model_dir} has no CTranslate2 export; make one with: "
        f"restore export-ct2 {model_dir} {model_dir / CT2_SUBDIR}"
    )


def _cut(ids: list[int], log_probs: list[float], eos: int) -> Generation:
    """A Generation from a generated row, cut after its first end token."""
    if eos in ids:
        end = ids.index(eos)
        return Generation(tuple(ids[:end]), tuple(log_probs[: end + 1]), True)
    return Generation(tuple(ids), tuple(log_probs[: len(ids)]), False)


def _generation_config(model_dir: Path | None, decoding: DecodingSettings):
    from transformers import GenerationConfig

    config = (
        GenerationConfig.from_pretrained(model_dir) if model_dir is not None else GenerationConfig()
    )
    config.update(
        do_sample=False,
        num_beams=decoding.num_beams,
        max_new_tokens=decoding.max_new_tokens,
        min_new_tokens=decoding.min_new_tokens or None,
        # Lengths count new tokens only; a saved max_length/min_length would only draw a
        # warning on every call.
        max_length=None,
        min_length=None,
        decoder_start_token_id=decoding.decoder_start_token_id,
        eos_token_id=decoding.eos_token_id,
        pad_token_id=decoding.pad_token_id,
        output_scores=True,
        return_dict_in_generate=True,
    )
    return config


@contextlib.contextmanager
def _quiet_loading():
    """No "Loading weights" progress bar while loading, unless this module logs at INFO
    (``restore -v``); the previous setting is put back afterwards."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not logger.isEnabledFor(logging.INFO):
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _quantize_dynamic(model):
    """torch's dynamic int8 quantisation of every Linear layer (weights int8, activations
    quantised on the fly). The API is deprecated in torch 2.x but still works on CPU."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        try:
            return torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear}, dtype=torch.qint8
            )
        except (AttributeError, RuntimeError) as err:
            raise BackendError(f"torch dynamic int8 quantisation failed: {err}") from err


register_backend("torch", TorchGenerator)
register_backend("torch-int8", TorchGenerator, quantize=True)
register_backend("ctranslate2", CTranslate2Generator)

"""The tagger network: a pretrained BERT-style encoder with two small heads.

The encoder is :class:`restore.tagger.encoder.BertEncoder`, plain torch with transformers'
parameter names: training builds it from a ``transformers.BertConfig`` and a pretrained
``BertModel``'s weights, inference from ``config.json`` alone, without importing transformers.

* **detect**: per word, the logit that a spinner wrote it; a word inside a site also gets a
  term from the site's evidence (the best LM gain among its candidates, its Zipf frequency).
* **choose**: per site, a score for each candidate original: the encoder's view of the site,
  projected, against the candidate's word-piece embeddings (tied to the encoder's input
  embeddings, so a candidate the fine-tuning never saw still has a meaning), plus a small
  network over the candidate's evidence (LM gain, frequencies, rank).

The same projection against the whole word-piece vocabulary proposes originals that no table
lists (an auxiliary masked-word-style loss trains it; see ``training.tagger``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import nn

from restore.tagger.encoder import BertEncoder, EncoderConfig
from restore.tagger.input import CANDIDATE_FEATURES, SITE_FEATURES

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# Sites scored together against their own candidates (see _site_dots).
_SITE_CHUNK = 16


@dataclass
class TaggerBatch:
    """Tensors for one batch of units (built by :func:`restore.tagger.batch.collate`).

    Words are indexed ``[B, W]``; sites are flattened over the batch (``S`` in all), each with
    ``K`` candidate slots of ``P`` word pieces.
    """

    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L]
    word_pos: torch.Tensor  # [B, W] first word piece of each word (0 where padded)
    word_mask: torch.Tensor  # [B, W] bool
    site_batch: torch.Tensor  # [S]
    site_word: torch.Tensor  # [S] the site's first word
    site_features: torch.Tensor  # [S, SITE_FEATURES]
    site_word_batch: torch.Tensor  # [N] one entry per word of every site
    site_word_index: torch.Tensor  # [N]
    site_word_site: torch.Tensor  # [N]
    pieces: torch.Tensor  # [U, P] word pieces of the batch's distinct candidates
    piece_mask: torch.Tensor  # [U, P]
    cand_index: torch.Tensor  # [S, K] row of ``pieces`` of each candidate (0 where none)
    cand_mask: torch.Tensor  # [S, K] bool
    cand_features: torch.Tensor  # [S, K, CANDIDATE_FEATURES]

    def to(self, device) -> TaggerBatch:
        """The same batch on ``device``."""
        return TaggerBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class TaggerOutput:
    word_logits: torch.Tensor  # [B, W]
    cand_logits: torch.Tensor  # [S, K], -inf where no candidate
    site_queries: torch.Tensor  # [S, H]


class SpinTagger(nn.Module):
    """The encoder and the detect and choose heads.

    ``config`` is an :class:`EncoderConfig` or a ``transformers.BertConfig`` (kept as given, so
    :func:`save_tagger` writes it back in its own form).
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.encoder = BertEncoder(EncoderConfig.of(config))
        hidden = self.encoder.config.hidden_size
        self.detect = nn.Linear(hidden, 1)
        self.site_detect = nn.Linear(SITE_FEATURES, 1, bias=False)
        self.query = nn.Linear(hidden, hidden)
        self.evidence = nn.Sequential(
            nn.Linear(CANDIDATE_FEATURES, 32), nn.GELU(), nn.Linear(32, 1)
        )
        self._scale = 1.0 / math.sqrt(hidden)

    @property
    def embeddings(self) -> nn.Embedding:
        return self.encoder.embeddings.word_embeddings

    def forward(self, batch: TaggerBatch) -> TaggerOutput:
        hidden = self.encoder(batch.input_ids, batch.attention_mask)
        words = torch.gather(
            hidden, 1, batch.word_pos.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        )
        word_logits = self.detect(words).squeeze(-1)
        site_term = self.site_detect(batch.site_features).squeeze(-1)
        word_logits = word_logits.index_put(
            (batch.site_word_batch, batch.site_word_index),
            site_term[batch.site_word_site],
            accumulate=True,
        )
        site_hidden = words[batch.site_batch, batch.site_word]
        queries = self.query(site_hidden)
        # Each distinct candidate is embedded once, and each site meets only its own
        # candidates: scoring every site against every distinct candidate ([S, U], with U in
        # the tens of thousands at 128 candidates a site) was a quarter of the forward pass.
        distinct = self.candidate_vectors(batch.pieces, batch.piece_mask)
        match = _site_dots(queries, distinct, batch.cand_index) * self._scale
        cand_logits = match + self.evidence(batch.cand_features).squeeze(-1)
        cand_logits = cand_logits.masked_fill(~batch.cand_mask, float("-inf"))
        return TaggerOutput(word_logits, cand_logits, queries)

    def candidate_vectors(self, pieces: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The mean word-piece embedding of each distinct candidate: ``[U, P] -> [U, H]``.

        Summed by ``embedding_bag``, which never holds the ``[U, P, H]`` piece vectors: a batch
        holds 10,000 and more distinct candidates, and those vectors took 250 MB.
        """
        # Weighted by 1/pieces: the mean comes out of the bag, without a pass over [U, H].
        weights = mask / mask.sum(-1, keepdim=True).clamp(min=1)
        return nn.functional.embedding_bag(
            pieces, self.embeddings.weight, mode="sum", per_sample_weights=weights
        )

    def vocab_logits(self, queries: torch.Tensor) -> torch.Tensor:
        """Scores of every word piece as the original at each site: ``[S, V]``."""
        return queries @ self.embeddings.weight.T * self._scale


def _site_dots(queries: torch.Tensor, vectors: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``queries[s] . vectors[index[s, k]]`` for every site ``s`` and slot ``k``: ``[S, K]``,
    a few sites at a time so that the gathered ``[S, K, H]`` vectors are never all held."""
    if not len(index):
        return queries.new_zeros(index.shape)
    return torch.cat(
        [
            torch.bmm(vectors[index[i : i + _SITE_CHUNK]], queries[i : i + _SITE_CHUNK, :, None])
            for i in range(0, len(index), _SITE_CHUNK)
        ]
    ).squeeze(-1)


def save_tagger(model: SpinTagger, folder: str | Path, *, dtype=torch.float16) -> None:
    """Write ``config.json`` and ``model.safetensors`` (``dtype``) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(model.config, "to_json_file"):  # a transformers config, as training passes
        model.config.to_json_file(folder / CONFIG_FILE)
    else:
        text = json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n"
        (folder / CONFIG_FILE).write_text(text, encoding="utf-8")
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / WEIGHTS_FILE, metadata={"format": "pt"})


def load_tagger(folder: str | Path) -> SpinTagger:
    """A :class:`SpinTagger` in float32 and eval mode from ``folder`` (safetensors only).

    Raises :class:`restore.tagger.encoder.EncoderConfigError` (a ValueError) for a
    ``config.json`` that is not a BERT encoder's.
    """
    from safetensors import safe_open

    folder = Path(folder)
    config = EncoderConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text("utf-8")))
    # Built without weights (on the meta device) and given the file's tensors one by one, in
    # float32: no random initialisation to overwrite, and no second copy of every weight.
    with torch.device("meta"):
        model = SpinTagger(config)
    with safe_open(folder / WEIGHTS_FILE, framework="pt") as weights:
        state = {name: weights.get_tensor(name).float() for name in weights.keys()}  # noqa: SIM118
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()

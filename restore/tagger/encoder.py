"""The tagger's encoder: a BERT encoder in plain torch, read from ``config.json`` and safetensors.

Importing transformers' BERT modelling code costs seconds of start-up (it pulls in torch's
compiler and distributed stacks); inference needs none of it. This module builds the same
network from torch modules: the same parameter names (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ...), so a ``transformers.BertModel``'s state
dict loads into it and saved taggers load unchanged, and the same arithmetic in the same order
(scaled-dot-product attention with a boolean padding mask, or none when nothing is padded, as
transformers' ``sdpa`` attention runs it), so its outputs are those of ``BertModel``.

Only what the tagger uses is built: absolute positions, exact GELU, no pooler, no decoder or
cross-attention. A config asking for anything else is refused.

>>> config = EncoderConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
...                        num_attention_heads=4, intermediate_size=64)
>>> encoder = BertEncoder(config).eval()
>>> ids = torch.tensor([[2, 7, 9, 3], [2, 5, 3, 0]])
>>> encoder(ids, torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])).shape
torch.Size([2, 4, 32])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

# The only variants this encoder implements; transformers' names for them.
_MODEL_TYPE = "bert"
_ACTIVATION = "gelu"
_POSITIONS = "absolute"


class EncoderConfigError(ValueError):
    """A ``config.json`` this encoder cannot build (another architecture or variant)."""


@dataclass(frozen=True)
class EncoderConfig:
    """What the encoder's shape needs from a BERT ``config.json`` (transformers' field names).

    ``source`` keeps every key of the file it came from, so a tagger loaded and saved again
    writes the same ``config.json``.
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    initializer_range: float = 0.02
    pad_token_id: int | None = 0
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if self.hidden_size % self.num_attention_heads:
            raise EncoderConfigError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncoderConfig:
        """The encoder config of a BERT ``config.json``'s contents; refuses other variants."""
        checks = {
            "model_type": _MODEL_TYPE,
            "hidden_act": _ACTIVATION,
            "position_embedding_type": _POSITIONS,
            "is_decoder": False,
            "add_cross_attention": False,
        }
        for key, expected in checks.items():
            if key in data and data[key] != expected:
                raise EncoderConfigError(
                    f"config.json has {key}={data[key]!r}; the tagger's encoder is built for "
                    f"{key}={expected!r} only"
                )
        names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
        missing = [n for n in names[:5] if n not in data]
        if missing:
            raise EncoderConfigError(f"config.json lacks {', '.join(missing)}")
        values = {n: data[n] for n in names if n in data}
        if values.get("initializer_range") is None:
            values.pop("initializer_range", None)
        return cls(**values, source=dict(data))

    @classmethod
    def of(cls, config: Any) -> EncoderConfig:
        """``config`` itself, or the encoder config of an object with BERT config attributes
        (a ``transformers.BertConfig``, as training builds taggers with)."""
        if isinstance(config, cls):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        return cls.from_dict(config.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` contents: the source's keys, with this config's values."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values.pop("source")
        return {"model_type": _MODEL_TYPE, **self.source, **values}


class BertEmbeddings(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        hidden = config.hidden_size
        self.word_embeddings = _embedding(config.vocab_size, hidden, config.pad_token_id)
        self.position_embeddings = _embedding(config.max_position_embeddings, hidden)
        self.token_type_embeddings = _embedding(config.type_vocab_size, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.size(1)
        positions = torch.arange(length, device=input_ids.device).unsqueeze(0)
        # One sentence per input: every token has token type 0. Added in transformers' order
        # (word + type, then + position), so the sums round as theirs do.
        types = self.token_type_embeddings.weight[0]
        embeddings = self.word_embeddings(input_ids) + types
        embeddings = embeddings + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.head_size = hidden // self.heads
        self.scaling = self.head_size**-0.5
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout_p = config.attention_probs_dropout_prob

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        shape = (*hidden.shape[:-1], -1, self.head_size)
        query = self.query(hidden).view(shape).transpose(1, 2)
        key = self.key(hidden).view(shape).transpose(1, 2)
        value = self.value(hidden).view(shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=mask,
            dropout_p=self.dropout_p if self.training else 0.0,
            scale=self.scaling,
        )
        return out.transpose(1, 2).contiguous().reshape(*hidden.shape[:-1], -1).contiguous()


class BertSelfOutput(nn.Module):
    """A dense layer, dropout and a residual LayerNorm (after attention, and after the FFN)."""

    def __init__(self, config: EncoderConfig, width: int):
        super().__init__()
        self.dense = nn.Linear(width, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.output(self.self(hidden, mask), hidden)


class BertIntermediate(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))


class BertLayer(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        attended = self.attention(hidden, mask)
        return self.output(self.intermediate(attended), attended)


class BertLayers(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))


class BertEncoder(nn.Module):
    """A BERT encoder without pooler: ``(input_ids, attention_mask) -> last hidden states``.

    Built with the weights transformers' ``BertModel(config)`` starts with, drawn in the same
    order from torch's generator, so a seeded run builds the same tagger as before.
    """

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertLayers(config)
        if not self.embeddings.word_embeddings.weight.is_meta:  # meta: built to be loaded
            self._init_like_transformers(self)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids)
        mask = _padding_mask(attention_mask, input_ids.size(1))
        for layer in self.encoder.layer:
            hidden = layer(hidden, mask)
        return hidden

    def _init_like_transformers(self, module: nn.Module) -> None:
        # transformers' post_init: children before parents, normal(0, initializer_range) for
        # linear and embedding weights, zero biases and padding row, unit LayerNorms.
        for child in module.children():
            self._init_like_transformers(child)
        std = self.config.initializer_range
        with torch.no_grad():
            if isinstance(module, nn.Linear):
                module.weight.normal_(0.0, std)
                module.bias.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0.0, std)
                if module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()


def _embedding(rows: int, width: int, padding_idx: int | None = None) -> nn.Embedding:
    """An ``nn.Embedding``; on the meta device (a model built to be loaded), without its random
    draw: ``normal_`` on meta tensors imports torch's decompositions, 1.7 s and 70 MB."""
    if torch.empty(0).is_meta:
        weight = torch.empty(rows, width)
        return nn.Embedding(rows, width, padding_idx=padding_idx, _weight=weight)
    return nn.Embedding(rows, width, padding_idx=padding_idx)


def _padding_mask(attention_mask: torch.Tensor, length: int) -> torch.Tensor | None:
    """transformers' bidirectional mask for sdpa: None when nothing is padded (so the fast
    kernel runs), else a boolean ``[B, 1, L, L]`` mask of the keys each query may see."""
    if bool(attention_mask.all()):
        return None
    keys = attention_mask.bool()[:, None, None, :]
    return keys.expand(attention_mask.size(0), 1, length, length)
